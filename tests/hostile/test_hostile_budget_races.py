"""Budgets under concurrency: with room for k images and m > k one-image calls at once,
exactly k are made, across threads and asyncio tasks (and across processes on one
PostgresStore: tests/integration/postgres/test_postgres_budgets.py).

The store is slowed down a little on every read, so the calls' reservations overlap
the way they do on a database under load.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from langchain_core.messages import ToolMessage
from langchain_core.runnables import RunnableConfig
from langchain_core.stores import InMemoryByteStore
from langgraph.store.memory import InMemoryStore

from langchain_nanobanana import NanoBananaImageTool
from langchain_nanobanana._agent import ledger
from langchain_nanobanana._agent.ledger import Budget
from langchain_nanobanana.testing import FakeOpenRouter

ALICE: RunnableConfig = {"configurable": {"user_id": "alice"}}


class _SlowByteStore(InMemoryByteStore):
    """Every read and write takes a few milliseconds, as over a network (a write lands
    at the end of its time, so a call's ticket can come long after it read the others)."""

    def mset(self, key_value_pairs: Sequence[tuple[str, bytes]]) -> None:
        time.sleep(0.01)
        super().mset(key_value_pairs)

    def mget(self, keys: Sequence[str]) -> list[bytes | None]:
        time.sleep(0.003)
        return super().mget(keys)

    def yield_keys(self, *, prefix: str | None = None) -> Iterator[str]:
        time.sleep(0.003)
        return iter(list(super().yield_keys(prefix=prefix)))


class _SlowGraphStore(InMemoryStore):
    def batch(self, ops: Any) -> Any:
        time.sleep(0.003 + 0.01 * _writes(ops))
        return super().batch(ops)

    async def abatch(self, ops: Any) -> Any:
        await asyncio.sleep(0.003 + 0.01 * _writes(ops))
        return super().batch(ops)


def _writes(ops: Any) -> bool:
    from langgraph.store.base import PutOp

    return any(isinstance(op, PutOp) for op in ops)


STORES = {"byte store": _SlowByteStore, "langgraph store": _SlowGraphStore}


def _call(number: int) -> dict[str, Any]:
    args = {"prompt": f"banana {number}"}
    return {"type": "tool_call", "id": f"c{number}", "name": "generate_image", "args": args}


def _in_threads(tool: NanoBananaImageTool, calls: int) -> list[ToolMessage]:
    start = threading.Barrier(calls)
    results: list[ToolMessage] = []

    def run(number: int) -> None:
        start.wait()
        results.append(tool.invoke(_call(number), ALICE))

    threads = [threading.Thread(target=run, args=(n,)) for n in range(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def _in_tasks(tool: NanoBananaImageTool, calls: int) -> list[ToolMessage]:
    async def all_at_once() -> list[ToolMessage]:
        return list(await asyncio.gather(*(tool.ainvoke(_call(n), ALICE) for n in range(calls))))

    return asyncio.run(all_at_once())


RUNNERS = {"threads": _in_threads, "asyncio tasks": _in_tasks}


@pytest.mark.parametrize("runner", list(RUNNERS))
@pytest.mark.parametrize("store", list(STORES))
@pytest.mark.parametrize(("room", "calls"), [(2, 4), (3, 12)])
def test_exactly_as_many_concurrent_calls_go_as_there_is_room_for(
    store: str, runner: str, room: int, calls: int
) -> None:
    fake = FakeOpenRouter(latency=0.05)
    tool = NanoBananaImageTool(llm=fake.chat_model(), store=STORES[store](), max_images=room)

    results = RUNNERS[runner](tool, calls)

    made = [r for r in results if r.status == "success"]
    refused = [r for r in results if r.status == "error"]
    assert len(made) == room
    assert len(fake.requests) == room
    assert len(refused) == calls - room
    assert all("Do not call generate_image again" in str(r.content) for r in refused)
    assert tool.invoke(_call(99), ALICE).status == "error", "and the budget stays spent"


@pytest.mark.parametrize("runner", list(RUNNERS))
def test_a_cost_budget_admits_exactly_as_many_too(runner: str) -> None:
    fake = FakeOpenRouter(latency=0.05)
    # $0.039 an image: room for three.
    tool = NanoBananaImageTool(llm=fake.chat_model(), store=_SlowByteStore(), max_cost_usd=0.12)
    results = RUNNERS[runner](tool, 8)
    assert sum(r.status == "success" for r in results) == 3
    assert len(fake.requests) == 3


def test_a_budget_belongs_to_the_tool_that_sets_it() -> None:
    """Two graphs of one deployment, each with its own image tool on the one store: each
    tool's budget is its own (by its name, or the key it is given)."""
    fake, store = FakeOpenRouter(), InMemoryStore()
    posters = NanoBananaImageTool(llm=fake.chat_model(), store=store, max_images=1, name="posters")
    avatars = NanoBananaImageTool(llm=fake.chat_model(), store=store, max_images=1, name="avatars")
    shared = NanoBananaImageTool(
        llm=fake.chat_model(), store=store, max_images=1, name="more_posters", budget_key="posters"
    )
    call = {"type": "tool_call", "id": "c", "name": "x", "args": {"prompt": "a"}}

    assert posters.invoke({**call, "id": "p1"}, ALICE).status == "success"
    assert avatars.invoke({**call, "id": "a1"}, ALICE).status == "success"
    assert shared.invoke({**call, "id": "s1"}, ALICE).status == "error", "the posters' budget"
    assert posters.invoke({**call, "id": "p2"}, ALICE).status == "error"
    assert len(fake.requests) == 2


def test_a_call_that_died_between_announcing_and_its_ticket_is_waited_for_then_counted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(ledger, "ANNOUNCEMENT_WAIT", 0.2)
    fake = FakeOpenRouter()
    tool = NanoBananaImageTool(llm=fake.chat_model(), max_images=2)
    images = tool.images_for(ALICE)
    kind = Budget(key=tool.name).kind(None)
    dead = {"entry": "dead", "images": 1, "cost_usd": 0.039, "state": "announced", "ticket": None}
    images.write_note(kind, "dead", dead)

    started = time.monotonic()
    first = tool.invoke(_call(1), ALICE)
    waited = time.monotonic() - started
    second = tool.invoke(_call(2), ALICE)

    assert (first.status, second.status) == ("success", "error")
    assert waited >= 0.2
    (stuck,) = [entry for entry in images.list_notes(kind) if entry["entry"] == "dead"]
    assert (stuck["state"], stuck["ticket"]) == ("spent", 0), "counted, and waited for no more"
