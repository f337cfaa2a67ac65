"""Ctrl-C during a call for several images: the wait ends at once, what had arrived is kept
(sync), and the requests still running are cancelled (async)."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time

import pytest

from langchain_nanobanana import ChatNanoBanana, images_from
from langchain_nanobanana.errors import CallInterrupted
from langchain_nanobanana.testing import FakeOpenRouter, Outcome
from tests.support import TEST_KEY

_SLOW = 60.0


def _ctrl_c_once(fake: FakeOpenRouter, requests: int, then: float = 1.0) -> threading.Thread:
    """SIGINT to this process once the emulator has ``requests`` requests, ``then`` s later."""

    def send() -> None:
        deadline = time.monotonic() + 20
        while len(fake.requests) < requests and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(then)
        os.kill(os.getpid(), signal.SIGINT)

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    return sender


@pytest.mark.parametrize("mode", ["invoke", "stream"])
def test_sync_keeps_what_arrived_and_stops_waiting(
    fake: FakeOpenRouter, base_url: str, mode: str
) -> None:
    fake.enqueue(Outcome.answer(), Outcome.wait(_SLOW), Outcome.wait(_SLOW))
    llm = ChatNanoBanana(api_key=TEST_KEY, base_url=base_url, timeout=2 * _SLOW)
    sender = _ctrl_c_once(fake, 3)
    started = time.monotonic()
    with pytest.raises(CallInterrupted) as interrupted:
        if mode == "invoke":
            llm.invoke("a banana", n=3)
        else:
            list(llm.stream("a banana", n=3))
    sender.join()
    assert time.monotonic() - started < _SLOW / 2, "the slow requests were not waited for"
    arrived = interrupted.value.partial_message
    assert arrived is not None
    (image,) = images_from(arrived)
    assert image.size == (1024, 1024)
    (generation_id,) = arrived.response_metadata["generation_ids"]
    assert arrived.response_metadata["cost"] == fake.generations[generation_id]["total_cost"]
    assert isinstance(interrupted.value, KeyboardInterrupt), "code that stops on Ctrl-C stops"


def test_sync_with_nothing_arrived_has_no_partial_message(
    fake: FakeOpenRouter, base_url: str
) -> None:
    fake.enqueue(*[Outcome.wait(_SLOW)] * 2)
    llm = ChatNanoBanana(api_key=TEST_KEY, base_url=base_url, timeout=2 * _SLOW)
    sender = _ctrl_c_once(fake, 2, then=0.2)
    with pytest.raises(CallInterrupted) as interrupted:
        llm.invoke("a banana", n=2)
    sender.join()
    assert interrupted.value.partial_message is None


async def test_async_cancellation_ends_every_request_at_once(
    fake: FakeOpenRouter, base_url: str
) -> None:
    fake.enqueue(*[Outcome.wait(_SLOW)] * 3)
    llm = ChatNanoBanana(api_key=TEST_KEY, base_url=base_url, timeout=2 * _SLOW)
    call = asyncio.create_task(llm.ainvoke("a banana", n=3))
    while len(fake.requests) < 3:  # noqa: ASYNC110 (the emulator's thread: polled)
        await asyncio.sleep(0.02)
    call.cancel()
    started = time.monotonic()
    with pytest.raises(asyncio.CancelledError):
        await call
    assert time.monotonic() - started < _SLOW / 2
    await llm.aclose()
