"""Peak memory of a call against a hostile server, per case, against the caps.

Each case runs in a fresh process (so one case's peak cannot hide another's) as a
client of the hostile test server (tests/support/hostile.py), which runs in this process
on 127.0.0.1. A case reports the growth of its peak RSS over the RSS it started
with, and tracemalloc's peak of Python allocations; the baseline is an ordinary
1K image answer measured the same way in the same run.

    python bench/hostile_memory.py            # Markdown on stdout (a minute or two)
    python bench/hostile_memory.py --smoke    # small sizes: keeps the harness working
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import subprocess
import sys
import time
import tracemalloc
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from langchain_nanobanana import ChatNanoBanana, NanoBananaImageTool  # noqa: E402
from langchain_nanobanana._catalog.models import DEFAULT_MODEL  # noqa: E402
from langchain_nanobanana._content import media as _media  # noqa: E402
from langchain_nanobanana._openrouter import discovery as _discovery  # noqa: E402
from langchain_nanobanana._transport import limits as _limits  # noqa: E402
from langchain_nanobanana._transport import sse as _sse  # noqa: E402
from langchain_nanobanana.testing._pictures import draw  # noqa: E402
from langchain_nanobanana.testing._png import encode_png  # noqa: E402
from tests.support.hostile import (  # noqa: E402
    Connection,
    HostileServer,
    answer,
    completion,
    events,
    lists_then,
)

MIB = 1024 * 1024


# ---------------------------------------------------------------- the server side


def _gzip_bomb(inflated: int) -> Callable[[Connection], None]:
    """A gzip body of spaces that inflates to ``inflated`` bytes, built in slices."""
    squeeze = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = b" " * (16 * MIB)
    pieces = [squeeze.compress(block) for _ in range(inflated // len(block))]
    body = b"".join([*pieces, squeeze.flush()])
    return answer(body, headers=[("Content-Encoding", "gzip")])


def _big_answer(size: int, declared: bool) -> Callable[[Connection], None]:
    """A JSON answer holding one ``size``-byte base64 "image", with or without a length."""
    head = b'{"id":"gen-big","choices":[{"message":{"images":[{"image_url":{"url":"data:image/png;base64,'
    tail = b'"}}]}}]}'
    total = len(head) + size + len(tail)

    def play(connection: Connection) -> None:
        headers = [("Content-Type", "application/json")]
        if declared:
            headers.append(("Content-Length", str(total)))
        if not (connection.head(200, headers) and connection.send(head)):
            return
        piece = b"A" * MIB
        for _ in range(size // MIB):
            if not connection.send(piece):
                return
        if connection.send(b"A" * (size % MIB)):
            connection.send(tail)

    return play


def _endless_list(size: int) -> Callable[[Connection], None]:
    """A model list of ``size`` bytes with no length: entries until the client stops."""

    def play(connection: Connection) -> None:
        if not (connection.head(200, [("Content-Type", "application/json")])):
            return
        entry = json.dumps({"id": "x/" + "y" * 200, "name": "z" * 800}).encode() + b","
        piece = entry * (MIB // len(entry))
        if not connection.send(b'{"data":['):
            return
        for _ in range(size // len(piece)):
            if not connection.send(piece):
                return
        connection.send(b"{}]}")

    return play


def _tiny_events(count: int) -> Callable[[Connection], None]:
    chunk = json.dumps({"id": "gen-tiny", "choices": [{"delta": {"content": "a"}}]}).encode()
    return events([chunk] * count)


def _ordinary() -> Callable[[Connection], None]:
    picture = draw(1024, 1024, b"bench", noise=True, text={})
    return answer(
        json.dumps(completion([("image/png", base64.b64encode(picture).decode())])).encode()
    )


# ---------------------------------------------------------------- the client side


def _client_case(case: str, url: str, size: int) -> dict[str, Any]:
    """Runs in the child process: one call, its outcome and its peaks."""
    model = "someone/unlisted-model" if case == "discovery" else DEFAULT_MODEL
    llm = ChatNanoBanana(
        base_url=url, api_key="sk-or-v1-bench", max_retries=0, timeout=30, model=model
    )
    prompt: Any = "a banana"
    tool, call = None, None
    if case == "repeated handles":
        # One noisy 1.6 MB photo in the tool's store; the agent names it 1,000 times.
        tool = NanoBananaImageTool(llm=llm)
        width, height = 1024, size // (3 * 1024)
        rows = b"".join(b"\0" + os.urandom(3 * width) for _ in range(height))
        handle = tool.images.put(encode_png(width, height, rows))
        args = {"prompt": "edit", "image_ids": [handle] * 1000}
        call = {"type": "tool_call", "id": "c1", "name": "generate_image", "args": args}
    if case == "attachments":
        # 20 photos of ``size`` bytes each, held by the caller before the call starts.
        photos = [
            {
                "type": "image",
                "base64": base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes([n]) * (size - 8)).decode(),
                "mime_type": "image/png",
            }
            for n in range(20)
        ]
        prompt = [{"role": "user", "content": ["edit", *photos]}]
        del photos
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")  # VmHWM starts again from the RSS now (imports excluded)
    start_rss = _rss_now()
    tracemalloc.start()
    started = time.perf_counter()
    try:
        if case == "tiny events":
            for _ in llm.stream(prompt):
                pass
        elif tool is not None:
            message = tool.invoke(call)
            if message.status != "success":
                raise RuntimeError(message.content)
        else:
            llm.invoke(prompt)
        outcome = "answer"
    except Exception as error:
        outcome = type(error).__name__
    seconds = time.perf_counter() - started
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    peak_rss = _status_bytes("VmHWM")
    return {
        "outcome": outcome,
        "seconds": seconds,
        "traced_peak": traced_peak,
        "rss_growth": max(0, peak_rss - start_rss),
    }


def _rss_now() -> int:
    return _status_bytes("VmRSS")


def _status_bytes(field: str) -> int:
    """A size from /proc/self/status (VmHWM: the peak RSS since exec; ``ru_maxrss``
    would count the parent's memory the child had before exec)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def _run_child(case: str, url: str, size: int) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", case, "--url", url, "--size", str(size)],
        capture_output=True,
        text=True,
        check=True,
        timeout=900,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# ---------------------------------------------------------------- the table


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--child")
    parser.add_argument("--url")
    parser.add_argument("--size", type=int, default=0)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_client_case(args.child, args.url, args.size)))
        return
    scale = 64 if args.smoke else 1
    cases: list[tuple[str, str, Callable[[Connection], None] | None, int, int, str]] = [
        # name, client case, script, size for the client, cap, what the case is
        (
            "1K answer (baseline)",
            "invoke",
            _ordinary(),
            0,
            _limits.MAX_ANSWER_BYTES,
            "a 1024x1024 noisy PNG",
        ),
        (
            "gzip bomb",
            "invoke",
            _gzip_bomb(4096 * MIB // scale),
            0,
            _limits.MAX_ANSWER_BYTES,
            f"{4096 // scale} MB of spaces, gzipped",
        ),
        (
            "200 MB answer, declared",
            "invoke",
            _big_answer(200 * MIB // scale, True),
            0,
            _limits.MAX_ANSWER_BYTES,
            "Content-Length: 200 MB",
        ),
        (
            "200 MB answer, chunked",
            "invoke",
            _big_answer(200 * MIB // scale, False),
            0,
            _limits.MAX_ANSWER_BYTES,
            "no length, read until the cap",
        ),
        (
            "one million tiny events",
            "tiny events",
            _tiny_events(1_000_000 // scale),
            0,
            _sse.MAX_EVENTS,
            "one-letter text deltas",
        ),
        (
            "discovery: gzip bomb",
            "discovery",
            lists_then(_gzip_bomb(4096 * MIB // scale)),
            0,
            _discovery.MAX_LIST_BYTES,
            f"the model lists: {4096 // scale} MB of spaces, gzipped",
        ),
        (
            "discovery: 600 MB list",
            "discovery",
            lists_then(_endless_list(600 * MIB // scale)),
            0,
            _discovery.MAX_LIST_BYTES,
            f"the model lists: {600 // scale} MB of entries, no length",
        ),
        (
            "1,000 repeated handles",
            "repeated handles",
            answer(json.dumps(completion()).encode()),
            int(1.6 * MIB),
            _media.MAX_REQUEST_MEDIA_BYTES,
            "image_ids: one 1.6 MB handle 1,000 times",
        ),
        (
            "20 large attachments",
            "attachments",
            None,
            20 * MIB // scale,
            _media.MAX_REQUEST_MEDIA_BYTES,
            "20 x 20 MB, refused before sending",
        ),
    ]
    rows = []
    for name, client_case, script, size, cap, what in cases:
        with HostileServer(script or answer(b"{}")) as server:
            result = _run_child(client_case, server.url, size)
        rows.append((name, what, cap, result))
    baseline = rows[0][3]["rss_growth"] or 1
    print(
        f"{time.strftime('%Y-%m-%d')}, {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}{' (smoke sizes)' if args.smoke else ''}\n"
    )
    print(
        "| case | what the server sends | outcome | peak RSS growth | x baseline | traced peak | cap | peak / cap |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, what, cap, result in rows:
        growth = result["rss_growth"]
        cap_text = f"{cap:,} events" if name.startswith("one million") else f"{cap / MIB:.0f} MB"
        over_cap = "" if name.startswith("one million") else f"{growth / cap:.2f}"
        print(
            f"| {name} | {what} | {result['outcome']} | {growth / MIB:.0f} MB | {growth / baseline:.1f} "
            f"| {result['traced_peak'] / MIB:.0f} MB | {cap_text} | {over_cap} |"
        )


if __name__ == "__main__":
    main()
