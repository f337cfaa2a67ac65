"""4K images at the memory floor: peak traced memory of each path, per base64 payload.

Gemini 3 Pro Image at ``image_size="4K"`` from the emulator (``FakeOpenRouter(noise=True)``:
a 4096x4096 PNG of about 25 MB, 34 MB of base64), which serves from a separate
process on loopback. Each case runs in a fresh client process: one warm-up call (imports,
a connection, the edit's source image in the store), then the measured call under
``tracemalloc``; the figure is the peak of Python allocations during that call, divided by
the base64 the call carries (the answer's; for an edit, the source's plus the answer's).
The tool cases use ``artifact_mode="reference"`` and a ``DirectoryByteStore`` (two rows:
LangGraph's ``InMemoryStore``, which holds base64 as a deployment's PostgreSQL store does).

    python bench/memory.py                   # Markdown on stdout (a few minutes)
    python bench/memory.py --against main    # also each case on another revision, side by side
    python bench/memory.py --smoke           # 1K images: keeps the harness working

``--against REV`` checks REV out into a temporary git worktree and runs every case a
second time with that package on ``PYTHONPATH``, against the same emulator process, so
that "before" and "after" come from one run.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import multiprocessing
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from run import KEY, emulator

ROOT = Path(__file__).resolve().parents[1]
MODEL = "google/gemini-3-pro-image-preview"
PROMPT = "a nano banana dish"

# (row label, what is called, endpoint, async, the tool's store); every case, in table order.
CASES: dict[str, tuple[str, str, str, bool, str]] = {
    "invoke": ("`ChatNanoBanana.invoke`", "invoke", "chat", False, ""),
    "stream": ("`ChatNanoBanana.stream` (summed)", "stream", "chat", False, ""),
    "ainvoke": ("`ChatNanoBanana.ainvoke`", "invoke", "chat", True, ""),
    "astream": ("`ChatNanoBanana.astream` (summed)", "stream", "chat", True, ""),
    "images-invoke": ("`invoke`, Image API", "invoke", "images", False, ""),
    "images-stream": ("`stream`, Image API (summed)", "stream", "images", False, ""),
    "images-ainvoke": ("`ainvoke`, Image API", "invoke", "images", True, ""),
    "images-astream": ("`astream`, Image API (summed)", "stream", "images", True, ""),
    "tool-generate": ("tool generate", "generate", "chat", False, "directory"),
    "tool-agenerate": ("tool generate, async", "generate", "chat", True, "directory"),
    "tool-generate-images": ("tool generate, Image API", "generate", "images", False, "directory"),
    "tool-agenerate-images": (
        "tool generate, Image API, async",
        "generate",
        "images",
        True,
        "directory",
    ),
    "tool-edit": ("tool edit by handle", "edit", "chat", False, "directory"),
    "tool-aedit": ("tool edit by handle, async", "edit", "chat", True, "directory"),
    "tool-edit-images": ("tool edit by handle, Image API", "edit", "images", False, "directory"),
    "tool-aedit-images": (
        "tool edit by handle, Image API, async",
        "edit",
        "images",
        True,
        "directory",
    ),
    "tool-agenerate-langgraph": (
        "tool generate, async, LangGraph's store",
        "generate",
        "chat",
        True,
        "langgraph",
    ),
    "tool-aedit-langgraph": (
        "tool edit by handle, async, LangGraph's store",
        "edit",
        "chat",
        True,
        "langgraph",
    ),
}


# ---------------------------------------------------------------- one case, in a child process


def _encoded_length(data_bytes: int) -> int:
    return 4 * ((data_bytes + 2) // 3)


def _answer_base64(message: Any) -> int:
    return sum(
        len(block["base64"])
        for block in message.content
        if isinstance(block, dict) and block.get("type") == "image" and "base64" in block
    )


def _summed(chunks: list[Any]) -> Any:
    total = None
    for chunk in chunks:
        total = chunk if total is None else total + chunk
    return total


def run_case(name: str, base_url: str, image_size: str) -> dict[str, Any]:
    """Warm up, then measure one call of case ``name``; what it carried and its peak.

    Everything runs in one event loop, as in an application, and the loop's result is
    two numbers: ``asyncio.run`` on Python 3.11 and 3.12 builds the repr of its main
    task, result included, when it finishes (its SIGINT-handler check), which for an
    AIMessage holding a 4K image is 77 MB that no application running a loop pays.
    """
    return asyncio.run(_case(name, base_url, image_size))


def _store(kind: str) -> Any:
    """A folder on disk; or LangGraph's in-memory store, which keeps base64 (JSON values),
    as the PostgreSQL one of a deployment does."""
    if kind == "langgraph":
        from langgraph.store.memory import InMemoryStore

        return InMemoryStore()
    from langchain_nanobanana.stores import DirectoryByteStore

    return DirectoryByteStore(tempfile.mkdtemp(prefix="nanobanana-bench-"))


async def _case(name: str, base_url: str, image_size: str) -> dict[str, Any]:
    from langchain_nanobanana import ChatNanoBanana, NanoBananaImageTool

    _, what, endpoint, is_async, store_kind = CASES[name]
    llm = ChatNanoBanana(  # type: ignore[call-arg]
        api_key=KEY,
        base_url=base_url,
        model=MODEL,
        image_size=image_size,
        endpoint=endpoint,  # type: ignore[arg-type]
        timeout=300,
        max_retries=0,
    )

    async def measured(call: Callable[[], Any]) -> tuple[Any, int]:
        """The call's result and the peak of what it allocated, from a collected heap."""
        gc.collect()
        tracemalloc.start()
        try:
            result = await call()
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        return result, peak

    if what in ("invoke", "stream"):

        async def model_call() -> Any:
            if what == "invoke":
                return await llm.ainvoke(PROMPT) if is_async else llm.invoke(PROMPT)
            if is_async:
                return _summed([chunk async for chunk in llm.astream(PROMPT)])
            return _summed(list(llm.stream(PROMPT)))

        await model_call()  # warm-up
        message, peak = await measured(model_call)
        return {"payload": _answer_base64(message), "peak": peak}

    tool = NanoBananaImageTool(llm=llm, store=_store(store_kind), artifact_mode="reference")

    async def tool_call(image_ids: list[str]) -> Any:
        call = {
            "type": "tool_call",
            "id": f"call_{uuid.uuid4().hex}",  # a new id: never a replay of an answered call
            "name": "generate_image",
            "args": {"prompt": PROMPT, "image_ids": image_ids},
        }
        return await tool.ainvoke(call) if is_async else tool.invoke(call)

    def stored_bytes(message: Any) -> int:
        (block,) = message.artifact
        return int(block["extras"]["bytes"])

    source = await tool_call([])  # warm-up, and the edit's source image
    sources = [source.artifact[0]["id"]] if what == "edit" else []
    await tool_call(sources)  # warm-up of the measured path
    message, peak = await measured(lambda: tool_call(sources))
    if what == "edit" and "Edited" not in str(message.content):
        raise RuntimeError(f"the edit did not edit: {message.content}")
    payload = _encoded_length(stored_bytes(message))
    if what == "edit":
        payload += _encoded_length(stored_bytes(source))
    return {"payload": payload, "peak": peak}


# ---------------------------------------------------------------- the parent: emulator, children


@contextmanager
def checkout(revision: str) -> Iterator[Path]:
    """``revision`` of this repository in a temporary worktree, removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="nanobanana-bench-rev-")) / "tree"
    git = shutil.which("git") or "git"
    subprocess.run(
        [git, "-C", str(ROOT), "worktree", "add", "--detach", str(folder), revision],
        check=True,
        capture_output=True,
    )
    try:
        yield folder
    finally:
        subprocess.run(
            [git, "-C", str(ROOT), "worktree", "remove", "--force", str(folder)],
            check=False,
            capture_output=True,
        )


def _child(name: str, base_url: str, image_size: str, package_root: Path) -> dict[str, Any]:
    """One case in a fresh interpreter that imports the package from ``package_root``."""
    env = {**os.environ, "PYTHONPATH": str(package_root)}
    done = subprocess.run(
        [sys.executable, __file__, "--case", name, "--base-url", base_url, "--size", image_size],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        cwd=package_root,
    )
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"}
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def measure(image_size: str, against: str | None, names: list[str]) -> dict[str, Any]:
    rows: dict[str, dict[str, Any]] = {name: {} for name in names}
    with emulator(noise=True) as base_url:
        roots = {"now": ROOT}
        with checkout(against) if against else _nothing() as baseline:
            if baseline is not None:
                roots["before"] = baseline
            for name in names:
                for label, root in roots.items():
                    rows[name][label] = _child(name, base_url, image_size, root)
    return rows


@contextmanager
def _nothing() -> Iterator[None]:
    yield None


# ---------------------------------------------------------------- report


def _cell(result: dict[str, Any] | None) -> tuple[str, str]:
    if not result:
        return "", ""
    if "error" in result:
        return f"fails: {result['error'][:60]}", ""
    return f"{result['peak'] / 1e6:.1f} MB", f"{result['peak'] / result['payload']:.2f}x"


def report(results: dict[str, Any]) -> str:
    against = results["against"]
    lines = [
        f"Run: {results['date']}, {results['machine']}, Python {results['python']}, "
        f"{results['size']} images{', smoke run' if results['smoke'] else ''}.",
        "",
    ]
    header = "| path | payload (base64) | peak | per payload |"
    rule = "|---|---|---|---|"
    if against:
        header += f" peak on `{against}` | per payload on `{against}` |"
        rule += "---|---|"
    lines += [header, rule]
    for name, measured in results["rows"].items():
        now = measured.get("now", {})
        payload = f"{now['payload'] / 1e6:.1f} MB" if "payload" in now else ""
        what = "source + answer" if CASES[name][1] == "edit" else "answer"
        line = f"| {CASES[name][0]} | {payload} ({what}) | {' | '.join(_cell(now))} |"
        if against:
            line += f" {' | '.join(_cell(measured.get('before')))} |"
        lines.append(line)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--smoke", action="store_true", help="1K images: a harness check")
    parser.add_argument("--against", help="a git revision to measure beside this checkout")
    parser.add_argument("--only", nargs="*", choices=list(CASES), help="just these cases")
    parser.add_argument("--json", help="also write the raw results here")
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    parser.add_argument("--size", default="4K", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:  # a child: one case, its figures as one JSON line
        print(json.dumps(run_case(args.case, args.base_url, args.size)))
        return
    size = "1K" if args.smoke else "4K"
    names = args.only or (["invoke", "tool-generate", "tool-edit"] if args.smoke else list(CASES))
    results = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {multiprocessing.cpu_count()} cores",
        "python": platform.python_version(),
        "smoke": args.smoke,
        "size": size,
        "against": args.against,
        "rows": measure(size, args.against, names),
    }
    print(report(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
