"""What an image costs a deployment: checkpoint and store bytes per artifact mode, and the
put/get latency of a 2 MB image in each kind of store.

Part 1 runs an agent that makes five photo-sized images (the emulator with
``noise=True``) in one thread, checkpointed by LangGraph's PostgresSaver, with the
images in LangGraph's PostgresStore (or, for ``"url"``, a bucket), once per
artifact mode, and reads how much each table grew (``pg_total_relation_size``:
rows, TOAST and indexes, what the database's disk really holds).

Part 2 puts and gets one 2 MB PNG through ``ImageStore`` on each store, 20 times,
and reports the median and the 90th percentile. PostgreSQL is a throwaway server
started on 127.0.0.1 (tests/support/postgres_server.py); S3 is moto's server on loopback
when moto is installed.

    python bench/deployment.py            # Markdown on stdout (about a minute)
    python bench/deployment.py --smoke    # one image and three rounds: keeps it working
"""

from __future__ import annotations

import argparse
import logging
import platform
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from langchain.agents import create_agent  # noqa: E402
from langchain_core.messages import AIMessage, HumanMessage  # noqa: E402
from langchain_core.stores import InMemoryByteStore  # noqa: E402

from langchain_nanobanana import NanoBananaImageTool  # noqa: E402
from langchain_nanobanana.stores import DirectoryByteStore, ImageStore  # noqa: E402
from langchain_nanobanana.testing import FakeOpenRouter, ScriptedAgentModel  # noqa: E402
from langchain_nanobanana.testing._pictures import draw  # noqa: E402
from tests.support.postgres_server import PostgresServer  # noqa: E402
from tests.support.postgres_server import start as start_postgres  # noqa: E402

_CHECKPOINT_TABLES = ("checkpoints", "checkpoint_blobs", "checkpoint_writes")
_STORE_TABLES = ("store",)


def _table_bytes(url: str, tables: tuple[str, ...]) -> int:
    import psycopg

    with psycopg.connect(url) as connection:
        total = 0
        for table in tables:
            row = connection.execute("SELECT pg_total_relation_size(%s)", (table,)).fetchone()
            total += int(row[0]) if row and row[0] is not None else 0
        return total


def _fresh_database(server: PostgresServer) -> str:
    import psycopg

    name = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server.url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return server.url_for(name)


# ------------------------------------------------------------ part 1: bytes


def _five_images_turns(count: int) -> list[Any]:
    def draw_one(number: int) -> Callable[[Any], AIMessage]:
        def turn(messages: Any) -> AIMessage:
            args = {"prompt": f"picture {number}"}
            call = {"name": "generate_image", "args": args, "id": f"call-{number}"}
            return AIMessage("", tool_calls=[call])

        return turn

    return [*(draw_one(n) for n in range(count)), lambda messages: AIMessage("done")]


def bytes_per_image(server: PostgresServer, mode: str, count: int) -> dict[str, Any]:
    import obstore
    from langgraph.checkpoint.postgres import PostgresSaver
    from langgraph.store.postgres import PostgresStore
    from obstore.store import MemoryStore

    from langchain_nanobanana.object_store import ObjectImageStore

    url = _fresh_database(server)
    fake = FakeOpenRouter(noise=True)
    bucket = MemoryStore()
    with PostgresSaver.from_conn_string(url) as saver, PostgresStore.from_conn_string(url) as store:
        saver.setup()
        store.setup()
        before = _table_bytes(url, _CHECKPOINT_TABLES), _table_bytes(url, _STORE_TABLES)
        own = (
            ObjectImageStore(bucket, public_url="https://cdn.example.com/")
            if mode == "url"
            else None
        )
        tool = NanoBananaImageTool(llm=fake.chat_model(), store=own, artifact_mode=mode)
        agent = create_agent(
            ScriptedAgentModel(turns=_five_images_turns(count)),
            tools=[tool],
            checkpointer=saver,
            store=store,
        )
        config = {"configurable": {"thread_id": f"bench-{mode}", "user_id": "bench"}}
        agent.invoke({"messages": [HumanMessage("make pictures")]}, config)
        after = _table_bytes(url, _CHECKPOINT_TABLES), _table_bytes(url, _STORE_TABLES)
    in_bucket = sum(item["size"] for page in obstore.list(bucket) for item in page)
    return {
        "mode": mode,
        "requests": len(fake.requests),
        "checkpoint_bytes": (after[0] - before[0]) / count,
        "store_bytes": (after[1] - before[1]) / count,
        "bucket_bytes": in_bucket / count,
    }


# ---------------------------------------------------------- part 2: latency


@contextmanager
def _moto() -> Iterator[Any | None]:
    try:
        from moto.server import ThreadedMotoServer
    except ImportError:
        yield None
        return
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one log line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        import httpx
        from obstore.store import S3Store

        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        httpx.put(f"{endpoint}/bench").raise_for_status()
        yield S3Store(
            "bench",
            endpoint=endpoint,
            access_key_id="bench",
            secret_access_key="bench",  # noqa: S106 (moto takes any key)
            region="us-east-1",
            client_options={"allow_http": True},
        )
    finally:
        server.stop()


def _timed(images: ImageStore, picture: bytes, rounds: int) -> dict[str, float]:
    puts, gets = [], []
    for _ in range(rounds):
        started = time.perf_counter()
        handle = images.put(picture, "image/png")
        puts.append(time.perf_counter() - started)
        started = time.perf_counter()
        assert images.get(handle).data == picture
        gets.append(time.perf_counter() - started)
    return {
        "put_ms": statistics.median(puts) * 1000,
        "put_p90_ms": sorted(puts)[int(0.9 * (rounds - 1))] * 1000,
        "get_ms": statistics.median(gets) * 1000,
        "get_p90_ms": sorted(gets)[int(0.9 * (rounds - 1))] * 1000,
    }


def latency(server: PostgresServer, rounds: int) -> tuple[int, list[dict[str, Any]]]:
    from langgraph.store.postgres import PostgresStore
    from obstore.store import LocalStore, MemoryStore

    from langchain_nanobanana.object_store import ObjectImageStore

    side = 1024
    picture = draw(side, side, b"2 MB", noise=True, text={})
    while len(picture) < 2_000_000:  # noise barely compresses: grow the side to reach 2 MB
        side = int(side * 1.1)
        picture = draw(side, side, b"2 MB", noise=True, text={})
    rows = []
    with tempfile.TemporaryDirectory() as folder, _moto() as s3:
        stores: list[tuple[str, Any]] = [
            ("InMemoryByteStore", InMemoryByteStore()),
            ("DirectoryByteStore (local disk)", DirectoryByteStore(Path(folder) / "images")),
            ("ObjectImageStore(MemoryStore)", ObjectImageStore(MemoryStore())),
            ("ObjectImageStore(LocalStore)", ObjectImageStore(LocalStore(Path(folder)))),
        ]
        if s3 is not None:
            stores.append(("ObjectImageStore(S3Store), moto on loopback", ObjectImageStore(s3)))
        url = _fresh_database(server)
        with PostgresStore.from_conn_string(url) as postgres:
            postgres.setup()
            stores.append(("PostgresStore (LangGraph), loopback", postgres))
            for name, store in stores:
                images = ImageStore(store, scope=("user", "bench"))
                rows.append({"store": name, **_timed(images, picture, rounds)})
    return len(picture), rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="one image, three rounds")
    arguments = parser.parse_args()
    count, rounds = (1, 3) if arguments.smoke else (5, 20)
    with start_postgres() as server:
        print(f"# Deployment storage, {time.strftime('%Y-%m-%d')}")
        print(
            f"\n{platform.machine()}, {platform.processor() or 'cpu'}, Python "
            f"{platform.python_version()}; PostgreSQL from {server.binaries.bin_dir}\n"
        )
        print(f"## Bytes per image ({count} images of 1024x1024, photo-like noise)\n")
        print(
            "| artifact mode | checkpoint bytes / image | store bytes / image | bucket bytes / image |"
        )
        print("|---|---:|---:|---:|")
        for mode in ("full", "reference", "url"):
            row = bytes_per_image(server, mode, count)
            print(
                f"| {row['mode']} | {row['checkpoint_bytes']:,.0f} | {row['store_bytes']:,.0f} "
                f"| {row['bucket_bytes']:,.0f} |"
            )
        size, rows = latency(server, rounds)
        print(f"\n## Put and get of a {size / 1e6:.1f} MB PNG ({rounds} rounds, ms)\n")
        print("| store | put median | put p90 | get median | get p90 |")
        print("|---|---:|---:|---:|---:|")
        for row in rows:
            print(
                f"| {row['store']} | {row['put_ms']:.1f} | {row['put_p90_ms']:.1f} "
                f"| {row['get_ms']:.1f} | {row['get_p90_ms']:.1f} |"
            )


if __name__ == "__main__":
    main()
