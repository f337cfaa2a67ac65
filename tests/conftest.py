"""Shared fixtures: the offline emulator, in process and over loopback HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from langchain_nanobanana import _http
from langchain_nanobanana.testing import FakeOpenRouter

TEST_KEY = "sk-or-v1-test-key-that-must-never-leak-0123456789"


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
