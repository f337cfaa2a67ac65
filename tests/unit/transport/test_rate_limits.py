"""Throughput under rate limits, end to end against a busy emulated account.

No call fails with a 429 while its deadline allows waiting; one Retry-After pauses the
other calls on that key and no other; a call whose deadline runs out in line raises the
rate-limit error having sent nothing (the emulator's recorded requests show it).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.messages import AIMessage

from langchain_nanobanana import ChatNanoBanana
from langchain_nanobanana._transport.shared_limit import shared_limit
from langchain_nanobanana.errors import OpenRouterRateLimitError
from langchain_nanobanana.testing import FakeOpenRouter, Outcome
from tests.support import TEST_KEY
from tests.support.waiting import ctrl_c_when, until

OTHER_KEY = "sk-or-v1-another-account-0123456789"


def _images(message: AIMessage) -> list[dict[str, Any]]:
    return [b for b in message.content if isinstance(b, dict) and b.get("type") == "image"]


def _chat_requests(fake: FakeOpenRouter) -> int:
    return sum(1 for request in fake.requests if request.path.endswith("/chat/completions"))


@pytest.fixture
def busy() -> Iterator[tuple[FakeOpenRouter, str]]:
    """An account that serves two requests at a time and answers 429 (Retry-After) beyond."""
    fake = FakeOpenRouter(max_concurrent=2, latency=0.05, retry_after=0.2)
    with fake.serve() as url:
        yield fake, url


def _llm(url: str, **fields: Any) -> ChatNanoBanana:
    return ChatNanoBanana(api_key=TEST_KEY, base_url=url, **fields)


def test_an_abatch_of_20_against_a_two_at_a_time_account_loses_none(
    busy: tuple[FakeOpenRouter, str],
) -> None:
    fake, url = busy
    answers = asyncio.run(_llm(url).abatch([f"banana {n}" for n in range(20)]))
    assert all(len(_images(answer)) == 1 for answer in answers)
    assert fake.rate_limited > 0  # the account did refuse; nobody lost a call to it
    assert _chat_requests(fake) == 20 + fake.rate_limited
    assert shared_limit(TEST_KEY, url).state().rate_limited == fake.rate_limited


def test_sync_batch_and_fan_out_share_the_key_and_lose_none(
    busy: tuple[FakeOpenRouter, str],
) -> None:
    fake, url = busy
    llm, fan_out = _llm(url), _llm(url, n=4)
    answers = llm.batch([f"banana {n}" for n in range(6)], config={"max_concurrency": 6})
    several = fan_out.invoke("four bananas")
    assert [len(_images(answer)) for answer in answers] == [1] * 6
    assert len(_images(several)) == 4
    assert "errors" not in several.response_metadata
    assert _chat_requests(fake) == 10 + fake.rate_limited
    # Two instances, one limit: it saw every 429 of both.
    assert shared_limit(TEST_KEY, url).state().rate_limited == fake.rate_limited


def test_a_retry_after_pauses_the_other_calls_on_that_key(fake: FakeOpenRouter) -> None:
    fake.enqueue(Outcome.http_error(429, headers={"Retry-After": "0.5"}))
    limit = shared_limit("sk-or-fake-key", fake.base_url)
    first = fake.chat_model()
    answers: list[AIMessage] = []
    caller = threading.Thread(target=lambda: answers.append(first.invoke("first")))
    caller.start()
    until(lambda: limit.state().rate_limited == 1)
    # Another instance on the same key, started during the pause, waits in line with the
    # refused call: nothing reaches the server until the pause ends.
    second = threading.Thread(target=lambda: answers.append(fake.chat_model().invoke("second")))
    second.start()
    until(lambda: limit.state().waiting == 2 or limit.state().paused_for == 0)
    assert limit.state().paused_for > 0, "the pause ended before the check: machine too slow"
    assert _chat_requests(fake) == 1
    caller.join()
    second.join()
    assert [len(_images(answer)) for answer in answers] == [1, 1]
    assert _chat_requests(fake) == 3


def test_a_pause_longer_than_the_deadline_fails_at_once_and_sends_nothing(
    fake: FakeOpenRouter,
) -> None:
    fake.enqueue(Outcome.http_error(429, headers={"Retry-After": "30"}))
    with pytest.raises(OpenRouterRateLimitError):
        fake.chat_model(deadline=5).invoke("refused")
    with pytest.raises(OpenRouterRateLimitError, match="Nothing was sent") as caught:
        fake.chat_model(deadline=5).invoke("paused")
    assert caught.value.status_code is None
    assert _chat_requests(fake) == 1


def test_separate_keys_do_not_slow_each_other(fake: FakeOpenRouter) -> None:
    fake.enqueue(Outcome.http_error(429, headers={"Retry-After": "30"}))

    async def scenario() -> None:
        paused = asyncio.create_task(fake.chat_model(deadline=60).ainvoke("paused for 30 s"))
        limit = shared_limit("sk-or-fake-key", fake.base_url)
        await asyncio.to_thread(until, lambda: limit.state().waiting == 1)
        other = fake.chat_model(api_key=OTHER_KEY)
        answers = await asyncio.gather(*(other.ainvoke(f"other {n}") for n in range(5)))
        assert [len(_images(answer)) for answer in answers] == [1] * 5
        assert limit.state().waiting == 1  # still waiting out its key's pause
        paused.cancel()
        with pytest.raises(asyncio.CancelledError):
            await paused
        assert (limit.state().waiting, limit.state().in_flight) == (0, 0)

    asyncio.run(scenario())
    assert _chat_requests(fake) == 1 + 5
    assert shared_limit(OTHER_KEY, fake.base_url).state().rate_limited == 0


def test_the_same_key_at_another_base_url_is_another_limit(fake: FakeOpenRouter) -> None:
    fake.enqueue(Outcome.http_error(429, headers={"Retry-After": "30"}))
    with pytest.raises(OpenRouterRateLimitError):
        fake.chat_model(deadline=5).invoke("refused in process")
    with fake.serve() as url:
        message = ChatNanoBanana(api_key="sk-or-fake-key", base_url=url).invoke("on loopback")
    assert len(_images(message)) == 1


def test_a_deadline_that_runs_out_in_line_raises_the_rate_limit_error_and_sends_nothing() -> None:
    slow = FakeOpenRouter(latency=1.0)
    one_at_a_time = {"max_concurrency": 1}
    with slow.serve() as url:
        holder = threading.Thread(target=_llm(url, **one_at_a_time).invoke, args=("holds",))
        holder.start()
        until(lambda: _chat_requests(slow) == 1)
        with pytest.raises(OpenRouterRateLimitError, match=r"deadline of 0\.3 s"):
            _llm(url, deadline=0.3, **one_at_a_time).invoke("waits")
        assert _chat_requests(slow) == 1
        holder.join()
    assert [r.body["messages"][0]["content"] for r in slow.requests] == ["holds"]


def test_a_cancelled_call_leaves_the_line_and_the_key_usable(fake: FakeOpenRouter) -> None:
    held = FakeOpenRouter(latency=1.0)

    async def scenario(url: str) -> None:
        llm = _llm(url, max_concurrency=1)
        holder = asyncio.create_task(llm.ainvoke("holds"))
        waiter = asyncio.create_task(llm.ainvoke("waits"))
        limit = shared_limit(TEST_KEY, url)
        await asyncio.to_thread(until, lambda: limit.state().waiting == 1)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        assert (limit.state().waiting, limit.state().in_flight) == (0, 1)
        assert len(_images(await holder)) == 1
        assert limit.state().in_flight == 0
        assert len(_images(await llm.ainvoke("after"))) == 1

    with held.serve() as url:
        asyncio.run(scenario(url))
    sent = [r.body["messages"][0]["content"] for r in held.requests if r.body]
    assert sent == ["holds", "after"]


def test_ctrl_c_during_a_sync_wait_leaves_the_line_and_the_key_usable() -> None:
    held = FakeOpenRouter(latency=1.0)
    with held.serve() as url:
        llm = _llm(url, max_concurrency=1)
        limit = shared_limit(TEST_KEY, url)
        holder = threading.Thread(target=llm.invoke, args=("holds",))
        holder.start()
        until(lambda: limit.state().in_flight == 1)
        with ctrl_c_when(lambda: limit.state().waiting == 1), pytest.raises(KeyboardInterrupt):
            llm.invoke("waits")
        assert limit.state().waiting == 0
        holder.join()
        assert limit.state().in_flight == 0
        assert len(_images(llm.invoke("after"))) == 1
    sent = [r.body["messages"][0]["content"] for r in held.requests if r.body]
    assert sent == ["holds", "after"]


def test_a_stream_holds_its_slotuntil_it_is_read(fake: FakeOpenRouter) -> None:
    limit = shared_limit("sk-or-fake-key", fake.base_url)
    stream = fake.chat_model().stream("a banana")
    next(stream)
    assert limit.state().in_flight == 1
    stream.close()
    assert limit.state().in_flight == 0
