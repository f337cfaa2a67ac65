"""Prompt to pixels: ChatNanoBanana against the floor and its peers, in one run.

The emulator serves from a separate process on loopback, so the client's work is
what differs between rows. Every figure is a median, and every comparison a ratio
to a baseline measured in the same run (these machines are shared and noisy).

    pip install -e ".[test,bench]"
    python bench/run.py                 # full run (a few minutes), Markdown on stdout
    python bench/run.py --smoke         # tiny sizes, a couple of repetitions: keeps the harness working
    python bench/run.py --plot docs/benchmarks.png

Scenarios:
1. one 1024x1024 answer (photo-sized PNG, ~2 MB base64): invoke and stream, vs a bare
   httpx post + json parse + base64 decode, vs ChatOpenAI and ChatOpenRouter;
2. one 4096x4096 answer (~30 MB base64): wall time and peak traced memory / payload;
3. 64 concurrent ainvoke with 200 ms server latency, vs a bare httpx.AsyncClient burst
   (a new client, and a reused warm one) and the 0.2 s ideal, with large and small
   answers; abatch with max_concurrency;
4. import time in fresh processes (the chat model class, then a ready instance), whole
   and on top of langchain-core's chat model base, vs langchain_openai and langchain_openrouter;
5. time to the first streamed chunk (text comes before the image).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import multiprocessing
import os
import platform
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from langchain_nanobanana import ChatNanoBanana

KEY = "sk-or-bench"
MODEL = "google/gemini-2.5-flash-image"
BIG_MODEL = "google/gemini-3-pro-image"
BODY = {
    "model": MODEL,
    "messages": [{"role": "user", "content": "a nano banana dish"}],
    "modalities": ["image", "text"],
}


# ---------------------------------------------------------------- the emulator, out of process


def _serve(options: dict[str, Any], urls: Any, stop: Any) -> None:
    from langchain_nanobanana.testing import FakeOpenRouter

    with FakeOpenRouter(**options).serve() as base_url:
        urls.put(base_url)
        stop.wait()


@contextmanager
def emulator(**options: Any) -> Iterator[str]:
    context = multiprocessing.get_context("spawn")
    urls, stop = context.Queue(), context.Event()
    process = context.Process(target=_serve, args=(options, urls, stop), daemon=True)
    process.start()
    try:
        yield urls.get(timeout=60)
    finally:
        stop.set()
        process.join(10)


# ---------------------------------------------------------------- measuring


def median_seconds(call: Callable[[], Any], repeat: int, warmup: int = 1) -> float:
    for _ in range(warmup):
        call()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _ours(base_url: str, **fields: Any) -> ChatNanoBanana:
    return ChatNanoBanana(api_key=KEY, base_url=base_url, **fields)  # type: ignore[call-arg]


def _peer_openai(base_url: str) -> Any:
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(
        model=MODEL, base_url=base_url, api_key=KEY, extra_body={"modalities": ["image", "text"]}
    )  # type: ignore[arg-type]


def _peer_openrouter(base_url: str) -> Any:
    from langchain_openrouter import ChatOpenRouter

    return ChatOpenRouter(
        model=MODEL, base_url=base_url, api_key=KEY, model_kwargs={"modalities": ["image", "text"]}
    )  # type: ignore[call-arg]


def _floor(client: httpx.Client, base_url: str, body: dict[str, Any], decode: bool = True) -> Any:
    """The least any client must do: post, parse the JSON, decode the image.

    LangChain's image blocks hold base64, so ChatNanoBanana does not decode; the
    ``decode=False`` variant is the floor for exactly the work it does.
    """
    response = client.post(
        f"{base_url}/chat/completions", json=body, headers={"Authorization": f"Bearer {KEY}"}
    )
    answer = response.json()
    url = answer["choices"][0]["message"]["images"][0]["image_url"]["url"]
    return base64.b64decode(url.partition(",")[2]) if decode else url


def _drain(llm: Any) -> Any:
    total = None
    for chunk in llm.stream("a nano banana dish"):
        total = chunk if total is None else total + chunk
    return total


def _try(call: Callable[[], float]) -> float | str:
    try:
        return call()
    except ImportError:
        return "not installed"
    except Exception as error:
        return f"fails ({type(error).__name__})"


def per_call(repeat: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    with emulator(noise=True) as base_url, httpx.Client(timeout=120) as client:
        floor = median_seconds(lambda: _floor(client, base_url, BODY), repeat)
        payload = len(
            json.dumps(
                client.post(
                    f"{base_url}/chat/completions",
                    json=BODY,
                    headers={"Authorization": f"Bearer {KEY}"},
                ).json()
            )
        )
        rows.append({"work": "bare httpx + json + b64decode (floor)", "median_s": floor})
        no_decode = median_seconds(lambda: _floor(client, base_url, BODY, decode=False), repeat)
        rows.append({"work": "bare httpx + json, no decode", "median_s": no_decode})
        ours = _ours(base_url)
        rows.append(
            {
                "work": "ChatNanoBanana.invoke",
                "median_s": median_seconds(lambda: ours.invoke("a nano banana dish"), repeat),
            }
        )
        rows.append(
            {
                "work": "ChatNanoBanana.stream (summed)",
                "median_s": median_seconds(lambda: _drain(ours), repeat),
            }
        )
        for name, make in (("ChatOpenAI", _peer_openai), ("ChatOpenRouter", _peer_openrouter)):
            rows.append(
                {
                    "work": f"{name}.invoke",
                    "median_s": _try(
                        lambda make=make: median_seconds(
                            lambda: make(base_url).invoke("a nano banana dish"), repeat
                        )
                    ),
                }
            )
            rows.append(
                {
                    "work": f"{name}.stream (summed)",
                    "median_s": _try(
                        lambda make=make: median_seconds(lambda: _drain(make(base_url)), repeat)
                    ),
                }
            )
    for row in rows:
        row["vs_floor"] = row["median_s"] / floor if isinstance(row["median_s"], float) else None
    rows.insert(
        0,
        {
            "work": f"answer size: {payload / 1e6:.1f} MB of JSON",
            "median_s": None,
            "vs_floor": None,
        },
    )
    return rows


def big_answer(repeat: int, image_size: str) -> dict[str, Any]:
    with emulator(noise=True) as base_url:
        llm = _ours(base_url, model=BIG_MODEL, image_size=image_size, timeout=300)
        seconds = median_seconds(lambda: llm.invoke("a nano banana dish"), repeat)
        tracemalloc.start()
        message = llm.invoke("a nano banana dish")
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        payload = sum(
            len(b["base64"])
            for b in message.content
            if isinstance(b, dict) and b.get("type") == "image"
        )
        with httpx.Client(timeout=300) as client:
            body = {**BODY, "model": BIG_MODEL, "image_config": {"image_size": image_size}}
            floor = median_seconds(lambda: _floor(client, base_url, body), repeat)
    return {
        "payload_mb": payload / 1e6,
        "median_s": seconds,
        "floor_s": floor,
        "peak_mb": peak / 1e6,
        "peak_vs_payload": peak / payload,
    }


async def _bare_burst(client: httpx.AsyncClient, base_url: str, count: int) -> float:
    started = time.perf_counter()
    responses = await asyncio.gather(
        *(
            client.post(
                f"{base_url}/chat/completions",
                json=BODY,
                headers={"Authorization": f"Bearer {KEY}"},
            )
            for _ in range(count)
        )
    )
    for response in responses:
        base64.b64decode(
            response.json()["choices"][0]["message"]["images"][0]["image_url"]["url"].partition(
                ","
            )[2]
        )
    return time.perf_counter() - started


def _bare_client() -> httpx.AsyncClient:
    return httpx.AsyncClient(
        timeout=60, limits=httpx.Limits(max_connections=100, max_keepalive_connections=100)
    )


async def _fresh_bare_burst(base_url: str, count: int) -> float:
    async with _bare_client() as client:
        return await _bare_burst(client, base_url, count)


async def _ours_burst(llm: ChatNanoBanana, count: int) -> float:
    started = time.perf_counter()
    await asyncio.gather(*(llm.ainvoke("a nano banana dish") for _ in range(count)))
    return time.perf_counter() - started


async def _ours_abatch(llm: ChatNanoBanana, count: int, concurrency: int) -> float:
    started = time.perf_counter()
    await llm.abatch(["a nano banana dish"] * count, config={"max_concurrency": concurrency})
    return time.perf_counter() - started


def concurrency(count: int, repeat: int, noise: bool) -> dict[str, Any]:
    with emulator(noise=noise, latency=0.2) as base_url:
        llm = _ours(base_url)

        async def run() -> dict[str, float]:
            times: dict[str, list[float]] = {"bare_s": [], "bare_warm_s": [], "ours_s": []}
            async with _bare_client() as warm:
                await _bare_burst(warm, base_url, count)  # open its connections
                await _ours_burst(llm, count)  # and ours
                for _ in range(repeat):  # interleaved, so load drift hits every row
                    times["bare_s"].append(await _fresh_bare_burst(base_url, count))
                    times["bare_warm_s"].append(await _bare_burst(warm, base_url, count))
                    times["ours_s"].append(await _ours_burst(llm, count))
            batch = [await _ours_abatch(llm, count, 16) for _ in range(repeat)]
            return {
                **{name: statistics.median(values) for name, values in times.items()},
                "abatch16_s": statistics.median(batch),
            }

        result = asyncio.run(run())
    return {
        "requests": count,
        "answers": "photo-sized" if noise else "small",
        **result,
        "ideal_s": 0.2,
    }


# What a user writes before the first call: the import, then a ready model.
IMPORTS = {
    "langchain-nanobanana": (
        "from langchain_nanobanana import ChatNanoBanana",
        "ChatNanoBanana(api_key='k')",
    ),
    "langchain-openai": (
        "from langchain_openai import ChatOpenAI",
        "ChatOpenAI(model='google/gemini-2.5-flash-image', api_key='k')",
    ),
    "langchain-openrouter": (
        "from langchain_openrouter import ChatOpenRouter",
        "ChatOpenRouter(model='google/gemini-2.5-flash-image', api_key='k')",
    ),
}
# All three sit on langchain-core's chat model base; loading it first leaves each
# package's own share.
CORE_BASE = "import langchain_core.language_models.chat_models"
# On CPython 3.11 the same import takes up to ~20% longer or shorter depending on
# how deep the importing call stack is (measured here: 0.47-0.59 s for langchain-core
# alone), so the import statement runs at a different depth each round.
STACK_DEPTHS = (0, 5, 10, 15, 20, 25, 30)


def _timed_code(preload: str, statement: str, depth: int) -> str:
    return (
        f"{preload}\n"
        "import time\n"
        "def nest(depth):\n"
        "    if depth:\n"
        "        return nest(depth - 1)\n"
        "    start = time.perf_counter()\n"
        f"    exec({statement!r}, {{}})\n"
        "    return time.perf_counter() - start\n"
        f"print(nest({depth}))\n"
    )


def _seconds_in_fresh_process(code: str) -> float | None:
    # Bytecode may be written (pip compiles installed peers; an editable checkout
    # compiles on the warm-up round), so no row pays for compiling source.
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, env=env
    )
    return float(done.stdout) if done.returncode == 0 else None


def import_times(repeat: int) -> list[dict[str, Any]]:
    """Per package, median seconds in fresh interpreters for four things.

    ``import``: the chat model class. ``import_and_construct``: the class and a
    ready instance. ``own_import`` and ``own_import_and_construct``: the same with
    langchain-core's chat model base already loaded. Rounds go through every
    package in turn, so drift in the machine's load spreads over every row.
    """
    measures = {
        "import": ("", False),
        "import_and_construct": ("", True),
        "own_import": (CORE_BASE, False),
        "own_import_and_construct": (CORE_BASE, True),
    }
    times: dict[tuple[str, str], list[float]] = {}
    missing: set[str] = set()
    for round_number in range(repeat + 1):  # round 0 warms caches and writes bytecode
        depth = STACK_DEPTHS[round_number % len(STACK_DEPTHS)]
        for package, (statement, construct) in IMPORTS.items():
            for measure, (preload, with_instance) in measures.items():
                timed = f"{statement}; {construct}" if with_instance else statement
                seconds = _seconds_in_fresh_process(_timed_code(preload, timed, depth))
                if seconds is None:
                    missing.add(package)
                elif round_number:
                    times.setdefault((package, measure), []).append(seconds)
    return [
        {
            "package": package,
            "statement": IMPORTS[package][0],
            **{
                measure: None if package in missing else statistics.median(times[package, measure])
                for measure in measures
            },
        }
        for package in IMPORTS
    ]


def first_chunk(repeat: int) -> dict[str, float]:
    with emulator(noise=True) as base_url:
        llm = _ours(base_url)

        def until_first() -> float:
            started = time.perf_counter()
            stream = llm.stream("a nano banana dish")
            next(stream)
            elapsed = time.perf_counter() - started
            for _ in stream:
                pass
            return elapsed

        until_first()  # a warm connection and a drawn picture, as for every other row
        firsts = [until_first() for _ in range(repeat)]
        whole = median_seconds(lambda: _drain(llm), repeat)
    return {"first_chunk_s": statistics.median(firsts), "whole_stream_s": whole}


# ---------------------------------------------------------------- report


def _fmt(value: Any, digits: int = 3) -> str:
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return "" if value is None else str(value)


def report(results: dict[str, Any]) -> str:
    lines = [
        f"Run: {results['date']}, {results['machine']}, Python {results['python']}, "
        f"{'smoke' if results['smoke'] else 'full'} run.",
        "",
        "## 1. One 1024x1024 answer",
        "",
        "| work | median s | vs floor |",
        "|---|---|---|",
    ]
    lines += [
        f"| {r['work']} | {_fmt(r['median_s'])} | {_fmt(r['vs_floor'], 2)} |"
        for r in results["per_call"]
    ]
    big = results["big"]
    lines += [
        "",
        f"## 2. One {results['big_size']} answer",
        "",
        "| payload (base64) | invoke median s | floor median s | peak traced memory | peak / payload |",
        "|---|---|---|---|---|",
        f"| {big['payload_mb']:.1f} MB | {big['median_s']:.3f} | {big['floor_s']:.3f} | {big['peak_mb']:.1f} MB | {big['peak_vs_payload']:.2f}x |",
        "",
        "## 3. Concurrency (200 ms server latency)",
        "",
        "| requests | answers | bare httpx, new client s | bare httpx, warm client s | ainvoke burst s | vs bare (new client) | vs 0.2 s ideal | bare (new client) vs ideal | abatch(max_concurrency=16) s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for c in results["concurrency"]:
        lines.append(
            f"| {c['requests']} | {c['answers']} | {c['bare_s']:.3f} | {c['bare_warm_s']:.3f} | {c['ours_s']:.3f} "
            f"| {c['ours_s'] / c['bare_s']:.2f}x | {c['ours_s'] / c['ideal_s']:.2f}x "
            f"| {c['bare_s'] / c['ideal_s']:.2f}x | {c['abatch16_s']:.3f} |"
        )
    lines += [
        "",
        "## 4. Import time (fresh process, median over rounds at varied stack depths)",
        "",
        "| package | import s | import + construct s | own import ms | own import + construct ms |",
        "|---|---|---|---|---|",
    ]
    for row in results["imports"]:
        if row["import"] is None:
            lines.append(f"| {row['package']} | not installed | | | |")
            continue
        lines.append(
            f"| {row['package']} | {row['import']:.3f} | {row['import_and_construct']:.3f} "
            f"| {row['own_import'] * 1000:.1f} | {row['own_import_and_construct'] * 1000:.1f} |"
        )
    first = results["first_chunk"]
    lines += [
        "",
        "## 5. Streaming",
        "",
        f"First chunk after {first['first_chunk_s']:.3f} s; whole stream {first['whole_stream_s']:.3f} s (medians).",
    ]
    return "\n".join(lines)


def plot(results: dict[str, Any], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in results["per_call"] if isinstance(r["median_s"], float)]
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    left.barh([r["work"] for r in rows], [r["vs_floor"] for r in rows], color="#f2c14e")
    left.axvline(1.0, color="black", linewidth=0.8)
    left.set_xscale("log")  # the slowest peer is tens of times the floor
    left.set_xlabel("time / floor (1024x1024 answer, log scale)")
    big = results["big"]
    right.bar(
        ["payload (base64)", "peak traced memory"],
        [big["payload_mb"], big["peak_mb"]],
        color=["#9ccfd8", "#eb6f92"],
    )
    right.set_ylabel("MB")
    right.set_title(f"{results['big_size']} answer: peak {big['peak_vs_payload']:.2f}x payload")
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--smoke", action="store_true", help="tiny sizes and repetitions")
    parser.add_argument("--plot", help="write a PNG chart here (needs matplotlib)")
    parser.add_argument("--json", help="also write the raw results here")
    args = parser.parse_args()
    repeat = 2 if args.smoke else 15
    big_size = "1K" if args.smoke else "4K"
    results: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {multiprocessing.cpu_count()} cores",
        "python": platform.python_version(),
        "smoke": args.smoke,
        "big_size": big_size,
        "per_call": per_call(repeat),
        "big": big_answer(1 if args.smoke else 5, big_size),
        "concurrency": [
            concurrency(8 if args.smoke else 64, 1 if args.smoke else 5, noise=True),
            concurrency(8 if args.smoke else 64, 1 if args.smoke else 5, noise=False),
        ],
        "imports": import_times(1 if args.smoke else 15),
        "first_chunk": first_chunk(repeat),
    }
    print(report(results))
    if args.plot:
        plot(results, args.plot)
    if args.json:
        with open(args.json, "w") as file:
            json.dump(results, file, indent=2)


if __name__ == "__main__":
    main()
