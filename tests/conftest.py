"""Shared fixtures: the offline emulator, in process and over loopback HTTP."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from langchain_nanobanana import _http
from langchain_nanobanana._discovery import DISCOVERY
from langchain_nanobanana.testing import FakeOpenRouter

TEST_KEY = "sk-or-v1-test-key-that-must-never-leak-0123456789"


@pytest.fixture(autouse=True)
def _no_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test talks to this machine only; a proxy from the environment would
    send loopback calls elsewhere and change which httpx transport the model builds."""
    for name in list(os.environ):
        if name.lower().endswith("_proxy"):
            monkeypatch.delenv(name)


@pytest.fixture(autouse=True)
def _fresh_model_lists() -> Iterator[None]:
    """Each test discovers models anew: in-process emulators share one base URL."""
    DISCOVERY.clear()
    yield
    DISCOVERY.clear()


@pytest.fixture
def fake() -> FakeOpenRouter:
    return FakeOpenRouter()


@pytest.fixture
def base_url(fake: FakeOpenRouter) -> Iterator[str]:
    """The emulator as a real HTTP server on 127.0.0.1."""
    with fake.serve() as url:
        yield url


@pytest.fixture
def backoffs(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Retry waits the transport asked for, recorded instead of slept."""
    waits: list[float] = []

    async def record_async(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr(_http, "_sleep", waits.append)
    monkeypatch.setattr(_http, "_asleep", record_async)
    return waits
