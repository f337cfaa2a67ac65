"""The shared limit itself, without HTTP: window, pause, line, threads, loops, cancellation."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from langchain_nanobanana._transport.limits import CallLimits
from langchain_nanobanana._transport.shared_limit import SharedLimit, Slot, shared_limit
from langchain_nanobanana.errors import OpenRouterRateLimitError
from tests.support import TEST_KEY
from tests.support.waiting import ctrl_c_when, until

NO_DEADLINE = CallLimits(None)


def test_an_open_limit_lets_in_up_to_the_ceiling_and_the_rest_wait() -> None:
    limit = SharedLimit("test")
    slots = [limit.enter(NO_DEADLINE, 3) for _ in range(3)]
    assert limit.state().in_flight == 3
    with pytest.raises(OpenRouterRateLimitError, match="gave up waiting in line") as caught:
        limit.enter(CallLimits(0.05), 3)
    assert "Nothing was sent" in str(caught.value)
    assert caught.value.status_code is None
    for slot in slots:
        slot.release()
        slot.release()  # twice is harmless
    assert limit.state() == limit.state().__class__(None, 0, 0, 0, 0.0)


def test_a_429_narrows_the_window_to_what_the_server_still_holds() -> None:
    limit = SharedLimit("test")
    slots = [limit.enter(NO_DEADLINE, 64) for _ in range(6)]
    slots[0].refused(None)
    assert limit.state().window == 5  # five still in flight
    slots[1].refused(None)
    slots[2].refused(None)
    assert limit.state().window == 3
    for slot in slots[3:]:
        slot.release()
    state = limit.state()
    assert (state.window, state.in_flight, state.rate_limited) == (3, 0, 3)


def test_a_429_with_nothing_else_in_flight_leaves_a_window_of_one() -> None:
    limit = SharedLimit("test")
    limit.enter(NO_DEADLINE, 64).refused(None)
    assert limit.state().window == 1


def test_successes_widen_the_window_one_slot_per_window_of_them_up_to_open() -> None:
    limit = SharedLimit("test")
    before = [limit.enter(NO_DEADLINE, 4) for _ in range(3)]
    before[0].refused(None)  # window 2
    # Calls that started before the 429 do not vouch for the new window.
    for slot in before[1:]:
        slot.succeeded()
        slot.release()
    assert limit.state().window == 2
    for expected in (3, None):  # 2 successes widen to 3; 3 more reach the ceiling (4): open
        slots = [limit.enter(NO_DEADLINE, 4) for _ in range(limit.state().window or 4)]
        for slot in slots:
            slot.succeeded()
            slot.release()
        assert limit.state().window == expected


def test_a_retry_after_pauses_new_starts_for_everyone_on_the_key() -> None:
    limit = SharedLimit("test")
    limit.enter(NO_DEADLINE, 64).refused(0.3)
    state = limit.state()
    assert state.window == 1
    assert 0 < state.paused_for <= 0.3
    # A deadline that ends before the pause does is given up at once.
    with pytest.raises(OpenRouterRateLimitError, match="pause of another"):
        limit.enter(CallLimits(0.1), 64)
    assert limit.state().waiting == 0
    # A call with time to wait waits out the pause, then goes.
    slot = limit.enter(CallLimits(5), 64)
    assert limit.state().paused_for == 0
    slot.release()


def test_the_line_is_first_come_first_served_across_threads() -> None:
    limit = SharedLimit("test")
    held = limit.enter(NO_DEADLINE, 1)
    order: list[int] = []

    def wait_in_line(number: int) -> None:
        slot = limit.enter(NO_DEADLINE, 1)
        order.append(number)
        slot.release()

    threads = []
    for number in range(4):
        thread = threading.Thread(target=wait_in_line, args=(number,))
        thread.start()
        threads.append(thread)
        until(lambda count=number + 1: limit.state().waiting == count)
    held.release()
    for thread in threads:
        thread.join()
    assert order == [0, 1, 2, 3]


def test_threads_and_several_event_loops_share_one_limit() -> None:
    limit = SharedLimit("test")
    lock = threading.Lock()
    inside = [0]
    most = [0]

    def hold() -> None:
        with lock:
            inside[0] += 1
            most[0] = max(most[0], inside[0])
        time.sleep(0.01)
        with lock:
            inside[0] -= 1

    def sync_calls() -> None:
        for _ in range(5):
            slot = limit.enter(NO_DEADLINE, 3)
            hold()
            slot.release()

    async def async_calls() -> None:
        async def one() -> None:
            slot = await limit.aenter(NO_DEADLINE, 3)
            await asyncio.to_thread(hold)
            slot.release()

        await asyncio.gather(*(one() for _ in range(5)))

    def loop_in_thread() -> None:
        asyncio.run(async_calls())
        asyncio.run(async_calls())  # a second loop in the same thread

    with ThreadPoolExecutor(6) as pool:
        for future in [pool.submit(sync_calls) for _ in range(3)] + [
            pool.submit(loop_in_thread) for _ in range(3)
        ]:
            future.result(timeout=60)
    assert most[0] == 3
    assert limit.state().in_flight == limit.state().waiting == 0


def test_a_cancelled_task_leaves_the_line_without_a_slot() -> None:
    limit = SharedLimit("test")

    async def scenario() -> None:
        held = await limit.aenter(NO_DEADLINE, 1)
        waiting = asyncio.create_task(limit.aenter(NO_DEADLINE, 1))
        await asyncio.sleep(0.01)
        assert limit.state().waiting == 1
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        assert (limit.state().waiting, limit.state().in_flight) == (0, 1)
        held.release()

    asyncio.run(scenario())
    assert limit.state().in_flight == 0
    assert limit.enter(CallLimits(1), 1) is not None


def test_a_task_cancelled_just_as_its_slot_came_gives_the_slot_back() -> None:
    limit = SharedLimit("test")

    async def scenario() -> None:
        held = await limit.aenter(NO_DEADLINE, 1)
        waiting = asyncio.create_task(limit.aenter(NO_DEADLINE, 1))
        await asyncio.sleep(0.01)
        held.release()  # the slot goes to the waiting task...
        waiting.cancel()  # ...which is cancelled before it runs again
        with pytest.raises(asyncio.CancelledError):
            await waiting

    asyncio.run(scenario())
    assert (limit.state().waiting, limit.state().in_flight) == (0, 0)


def test_a_sync_wait_interrupted_by_ctrl_c_leaves_the_line_as_it_was() -> None:
    limit = SharedLimit("test")
    held = limit.enter(NO_DEADLINE, 1)
    with ctrl_c_when(lambda: limit.state().waiting == 1), pytest.raises(KeyboardInterrupt):
        limit.enter(NO_DEADLINE, 1)
    assert (limit.state().waiting, limit.state().in_flight) == (0, 1)
    held.release()
    limit.enter(CallLimits(1), 1).release()
    assert limit.state().in_flight == 0


def test_one_limit_per_key_and_base_url_and_the_key_is_never_shown() -> None:
    url = "https://openrouter.ai/api/v1"
    first: Slot = shared_limit(TEST_KEY, url).enter(NO_DEADLINE, 64)
    assert shared_limit(TEST_KEY, url + "/") is shared_limit(TEST_KEY, url)
    assert shared_limit(TEST_KEY, url).state().in_flight == 1
    assert shared_limit("sk-or-other", url).state().in_flight == 0
    assert shared_limit(TEST_KEY, "http://127.0.0.1:9/api/v1").state().in_flight == 0
    assert TEST_KEY not in repr(shared_limit(TEST_KEY, url))
    assert TEST_KEY[:12] not in repr(shared_limit(TEST_KEY, url))
    first.release()
