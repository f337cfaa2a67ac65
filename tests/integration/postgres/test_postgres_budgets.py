"""Budgets, forget() and odd ids on a real PostgreSQL: what a deployment shares.

Two worker processes (each with its own emulator, threads or asyncio tasks, and its
own connections) race for one user's budget on one PostgresStore; exactly as many
images are made as there is room for.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from typing import Any

import psycopg
import pytest

from langchain_nanobanana import ChatNanoBanana, NanoBananaImageTool
from langchain_nanobanana._agent.ledger import Budget
from langchain_nanobanana.stores import ImageStore
from langchain_nanobanana.testing import FakeOpenRouter
from tests.support import TEST_KEY
from tests.support.hostile import HostileServer, answer, completion
from tests.support.pictures import picture
from tests.support.workers import last_json, start_worker

RACER = """
import asyncio, json, sys, threading, time

from langgraph.store.postgres import AsyncPostgresStore, PostgresStore

from langchain_nanobanana import NanoBananaImageTool
from langchain_nanobanana.testing import FakeOpenRouter

url, mode, calls, room, start_at, tag = sys.argv[1:]
calls, room, start_at = int(calls), int(room), float(start_at)
fake = FakeOpenRouter(latency=0.05)
config = {"configurable": {"user_id": "alice"}}


def call(number):
    args = {"prompt": f"banana {tag} {number}"}
    return {"type": "tool_call", "id": f"{tag}{number}", "name": "generate_image", "args": args}


def threads():
    results = []

    def run(number):
        with PostgresStore.from_conn_string(url) as store:
            tool = NanoBananaImageTool(llm=fake.chat_model(), store=store, max_images=room)
            time.sleep(max(0.0, start_at - time.time()))
            results.append(tool.invoke(call(number), config).status)

    workers = [threading.Thread(target=run, args=(n,)) for n in range(calls)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return results


async def tasks():
    async def run(number):
        async with AsyncPostgresStore.from_conn_string(url) as store:
            tool = NanoBananaImageTool(llm=fake.chat_model(), store=store, max_images=room)
            await asyncio.sleep(max(0.0, start_at - time.time()))
            return (await tool.ainvoke(call(number), config)).status

    return list(await asyncio.gather(*(run(n) for n in range(calls))))


statuses = threads() if mode == "threads" else asyncio.run(tasks())
print(json.dumps({"statuses": statuses, "requests": len(fake.requests)}))
"""


def _setup(postgres_db: str) -> None:
    from langgraph.store.postgres import PostgresStore

    with PostgresStore.from_conn_string(postgres_db) as store:
        store.setup()


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["threads", "tasks"])
def test_two_processes_racing_for_one_budget_make_exactly_the_room(
    postgres_db: str, mode: str
) -> None:
    _setup(postgres_db)
    start_at = f"{time.time() + 3.0:.3f}"  # both processes start their calls together
    workers = [
        start_worker(RACER, postgres_db, mode, "5", "3", start_at, tag) for tag in ("p", "q")
    ]
    try:
        results = [last_json(worker.result()) for worker in workers]
    finally:
        for worker in workers:
            worker.kill()

    statuses = [status for result in results for status in result["statuses"]]
    assert statuses.count("success") == 3
    assert statuses.count("error") == 7
    assert sum(result["requests"] for result in results) == 3


def test_forget_pages_through_every_namespace_and_keeps_what_was_spent(postgres_db: str) -> None:
    from langgraph.store.base import PutOp
    from langgraph.store.postgres import PostgresStore

    fake = FakeOpenRouter()
    alice = {"configurable": {"user_id": "alice"}}
    call = {"type": "tool_call", "id": "c1", "name": "generate_image", "args": {"prompt": "a"}}
    with PostgresStore.from_conn_string(postgres_db) as store:
        store.setup()
        tool = NanoBananaImageTool(llm=fake.chat_model(), store=store, max_images=1)
        assert tool.invoke(call, alice).status == "success"
        images = tool.images_for(alice)
        images.put(picture("blue"))
        # More namespaces than one listing returns (LangGraph lists at most 10,000 by default
        # limits here): one note each under many kinds.
        crowd = [
            PutOp(("nanobanana", "user/alice", "notes", f"k{n}"), "x", {"n": n}, index=False)
            for n in range(10_050)
        ]
        store.batch(crowd)

        assert images.forget() == 2
        left = store.list_namespaces(prefix=("nanobanana", "user/alice"), limit=100_000)
        again = tool.invoke({**call, "id": "c2"}, alice)

    assert left == []
    assert again.status == "error", "forgetting a user does not give them a new budget"
    assert "is spent" in str(again.content)
    with psycopg.connect(postgres_db) as connection:
        rows = connection.execute("SELECT prefix, key, value::text FROM store").fetchall()
    assert rows, "what was spent is kept"
    assert all(prefix.startswith("nanobanana_spent.") for prefix, _, _ in rows)
    assert not any("alice" in " ".join(row) for row in rows), "under a digest, with no ids"


def test_async_forget_pages_through_every_namespace_too(postgres_db: str) -> None:
    from langgraph.store.base import PutOp
    from langgraph.store.postgres import AsyncPostgresStore

    async def scenario() -> tuple[int, list[Any]]:
        async with AsyncPostgresStore.from_conn_string(postgres_db) as store:
            await store.setup()
            images = ImageStore(store, scope=("user", "bob"))
            await images.aput(picture("red"))
            crowd = [
                PutOp(("nanobanana", "user/bob", "notes", f"k{n}"), "x", {"n": n}, index=False)
                for n in range(10_050)
            ]
            await store.abatch(crowd)
            forgotten = await images.aforget()
            return forgotten, await store.alist_namespaces(prefix=("nanobanana",), limit=100_000)

    forgotten, left = asyncio.run(scenario())
    assert forgotten == 1
    assert left == []


def test_a_nan_cost_is_settled_at_the_estimate_without_a_database_error(postgres_db: str) -> None:
    from langgraph.store.postgres import PostgresStore

    body = json.dumps(completion(usage={"cost": math.nan})).encode()
    call = {"type": "tool_call", "id": "c1", "name": "generate_image", "args": {"prompt": "a"}}
    with (
        HostileServer(answer(body)) as server,
        PostgresStore.from_conn_string(postgres_db) as store,
    ):
        store.setup()
        llm = ChatNanoBanana(api_key=TEST_KEY, base_url=server.url, max_retries=0)
        tool = NanoBananaImageTool(llm=llm, store=store, max_cost_usd=1.0)
        made = tool.invoke(call)
        (entry,) = tool.images.list_notes(Budget(key=tool.name).kind(None))

    assert made.status == "success"
    assert entry["cost_usd"] == pytest.approx(0.039, abs=0.002)


@pytest.mark.parametrize(
    ("where", "value"),
    [
        ("tool_call_id", "call\x00x"),
        ("tool_call_id", "c" * 1_000_000),
        ("tool_call_id", "call\ud800"),
        ("thread_id", "thread\x00x"),
        ("thread_id", "t\udfff"),
        ("user_id", "alice\x00"),
        ("user_id", "\ud83d"),
    ],
)
def test_an_odd_id_is_refused_before_anything_is_paid(
    postgres_db: str, where: str, value: str
) -> None:
    from langgraph.store.postgres import PostgresStore

    fake = FakeOpenRouter()
    call_id = value if where == "tool_call_id" else "c1"
    configurable = {"thread_id": "t1", "user_id": "alice"}
    if where != "tool_call_id":
        configurable[where] = value
    call = {"type": "tool_call", "id": call_id, "name": "generate_image", "args": {"prompt": "a"}}
    with PostgresStore.from_conn_string(postgres_db) as store:
        store.setup()
        tool = NanoBananaImageTool(llm=fake.chat_model(), store=store, max_images=5)
        with pytest.raises(ValueError, match=where) as refused:
            tool.invoke(call, {"configurable": configurable})

    assert len(str(refused.value)) < 400
    assert fake.requests == []


def test_a_long_valid_call_id_is_stored_under_a_digest(postgres_db: str) -> None:
    from langgraph.store.postgres import PostgresStore

    fake = FakeOpenRouter()
    call = {
        "type": "tool_call",
        "id": "c" * 1000,
        "name": "generate_image",
        "args": {"prompt": "a"},
    }
    config = {"configurable": {"thread_id": "t" * 1000, "user_id": "alice"}}
    with PostgresStore.from_conn_string(postgres_db) as store:
        store.setup()
        tool = NanoBananaImageTool(llm=fake.chat_model(), store=store, max_images=5)
        first, again = tool.invoke(call, config), tool.invoke(call, config)

    assert (first.status, again.status) == ("success", "success")
    assert first.content == again.content and len(fake.requests) == 1, "answered once"
    with psycopg.connect(postgres_db) as connection:
        keys = [key for (key,) in connection.execute("SELECT key FROM store").fetchall()]
    assert max(len(key) for key in keys) <= 64
