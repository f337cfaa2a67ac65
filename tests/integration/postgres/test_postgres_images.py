"""Images, notes and budgets in LangGraph's PostgresStore, sync and async, on a real server."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from langchain_nanobanana import NanoBananaImageTool
from langchain_nanobanana._agent.ledger import Budget
from langchain_nanobanana.scopes import DEFAULT_SCOPE, scope_token
from langchain_nanobanana.stores import ImageStore, UnknownImageError
from langchain_nanobanana.testing import FakeOpenRouter
from tests.support.pictures import picture


def test_postgres_store_keeps_images_by_scope_and_forgets_one_user(postgres_db: str) -> None:
    from langgraph.store.postgres import PostgresStore

    with PostgresStore.from_conn_string(postgres_db) as store:
        store.setup()
        alice = ImageStore(store, scope=("user", "alice@example.com"))
        bob = ImageStore(store, scope=("user", "bob"))
        kept = [alice.put(picture("red", (48, 32))), alice.put(picture("blue", (48, 32)))]
        bobs = bob.put(picture("green", (48, 32)))
        alice.write_note("calls", "call-1", {"sentence": "s", "handles": kept})

        assert alice.get(kept[1]).data == picture("blue", (48, 32))
        with pytest.raises(UnknownImageError):
            bob.get(kept[0])
        assert store.get(("nanobanana", "user/alice@example%2Ecom", "records"), kept[0])

        assert alice.forget() == 2
        assert alice.read_note("calls", "call-1") is None
        with pytest.raises(UnknownImageError):
            alice.get(kept[0])
        assert bob.get(bobs).data == picture("green", (48, 32))


def test_async_postgres_store_round_trip_notes_and_forget(postgres_db: str) -> None:
    from langgraph.store.postgres import AsyncPostgresStore

    async def scenario() -> tuple[bytes, list[dict[str, Any]], int]:
        async with AsyncPostgresStore.from_conn_string(postgres_db) as store:
            await store.setup()
            images = ImageStore(store, scope=("thread", "t.1"))
            handle = await images.aput(picture("purple", (48, 32)), prompt="a")
            await images.awrite_note("spending", "c1", {"images": 1, "cost_usd": 0.04})
            await images.awrite_note("spending", "c2", {"images": 2, "cost_usd": 0.08})
            data = (await images.aget(handle)).data
            notes = sorted(await images.alist_notes("spending"), key=lambda n: n["images"])
            return data, notes, await images.aforget()

    data, notes, forgotten = asyncio.run(scenario())
    assert data == picture("purple", (48, 32))
    assert notes == [{"images": 1, "cost_usd": 0.04}, {"images": 2, "cost_usd": 0.08}]
    assert forgotten == 1


_SPENT = f"nanobanana_spent.{scope_token(DEFAULT_SCOPE)}.{Budget(key='generate_image').kind(None)}"
"""Where the default tool's budget keeps what the default scope spent."""


def test_a_budget_in_postgres_holds_across_tool_instances(postgres_db: str) -> None:
    from langgraph.store.postgres import PostgresStore

    fake = FakeOpenRouter()
    call = {"type": "tool_call", "name": "generate_image", "args": {"prompt": "a"}}
    config = {"configurable": {"user_id": "alice"}}
    with PostgresStore.from_conn_string(postgres_db) as store:
        store.setup()
        workers = [
            NanoBananaImageTool(llm=fake.chat_model(), store=store, max_images=2) for _ in range(3)
        ]
        answers = [w.invoke({**call, "id": f"c{n}"}, config) for n, w in enumerate(workers)]
        replay = workers[2].invoke({**call, "id": "c0"}, config)

    assert [a.status for a in answers] == ["success", "success", "error"]
    assert len(fake.requests) == 2
    assert replay.content == answers[0].content, "an answered call is answered again, free"


def test_a_store_default_ttl_never_expires_budgets_or_images_by_itself(postgres_db: str) -> None:
    """PostgresStore(ttl={"default_ttl": ...}), as LangGraph Platform can set it: left to the
    default, a user's spending would expire and their budget reset."""
    from datetime import timedelta

    import psycopg
    from langgraph.store.postgres import PostgresStore

    fake = FakeOpenRouter()
    call = {"type": "tool_call", "id": "c1", "name": "generate_image", "args": {"prompt": "a"}}
    with PostgresStore.from_conn_string(postgres_db, ttl={"default_ttl": 60}) as store:
        store.setup()
        NanoBananaImageTool(llm=fake.chat_model(), store=store, max_images=5).invoke(call)
        expiring = NanoBananaImageTool(
            llm=fake.chat_model(), store=store, image_ttl=timedelta(hours=2)
        )
        expiring.invoke({**call, "id": "c2"}, {"configurable": {"user_id": "ttl"}})

    with psycopg.connect(postgres_db) as connection:
        rows = connection.execute("SELECT prefix, expires_at IS NOT NULL FROM store").fetchall()
    expires = {prefix: expiring for prefix, expiring in rows}
    assert expires[_SPENT] is False
    assert expires["nanobanana.default.images"] is False
    assert expires["nanobanana.default.notes.calls"] is False
    assert expires["nanobanana.user/ttl.images"] is True
    assert expires["nanobanana.user/ttl.records"] is True
    assert expires["nanobanana.user/ttl.notes.calls"] is True, "an answered call lives as long"


def test_the_async_path_gives_the_same_ttls(postgres_db: str) -> None:
    import asyncio
    from datetime import timedelta

    import psycopg
    from langgraph.store.postgres import AsyncPostgresStore

    fake = FakeOpenRouter()
    call = {"type": "tool_call", "id": "c1", "name": "generate_image", "args": {"prompt": "a"}}

    async def run() -> None:
        async with AsyncPostgresStore.from_conn_string(
            postgres_db, ttl={"default_ttl": 60}
        ) as store:
            await store.setup()
            kept = NanoBananaImageTool(llm=fake.chat_model(), store=store, max_images=5)
            await kept.ainvoke(call)
            expiring = NanoBananaImageTool(
                llm=fake.chat_model(), store=store, image_ttl=timedelta(hours=2)
            )
            await expiring.ainvoke({**call, "id": "c2"}, {"configurable": {"user_id": "ttl"}})

    asyncio.run(run())

    with psycopg.connect(postgres_db) as connection:
        rows = connection.execute("SELECT prefix, expires_at IS NOT NULL FROM store").fetchall()
    expires = {prefix: expiring for prefix, expiring in rows}
    assert expires[_SPENT] is False
    assert expires["nanobanana.default.images"] is False
    assert expires["nanobanana.default.notes.calls"] is False
    assert expires["nanobanana.user/ttl.images"] is True
    assert expires["nanobanana.user/ttl.records"] is True
    assert expires["nanobanana.user/ttl.notes.calls"] is True
