"""Throughput under rate limits: issue 27's table before and after, and a burst with no 429.

A loopback emulator plays a busy account: it serves 2 requests at a time, 1 s each, and
answers 429 with ``Retry-After: 1`` beyond (``FakeOpenRouter(max_concurrent=2)``). 20
images then take at least 10 s (the ideal). Rows: ``nanobanana batch -j 2``, ``-j 4`` and
``-j 16``, and ``ChatNanoBanana.abatch`` of 20 with default settings; each reports its wall
time, the images lost (calls that raised) and the 429s the emulator answered.

Every row runs in a fresh process against the same emulator (in this process). "after" is
the package in this checkout; "before" is the package as it was at ``--before REV``
(extracted with ``git archive``, put first on PYTHONPATH). Without ``--before``, the
abatch row is also run with ``max_concurrency=None`` (the shared limit off), and the
batch rows have no "before".

Burst: 64 concurrent ``ainvoke`` against an emulator with no limit and 200 ms latency,
with the limit (default) and without (``max_concurrency=None``; and REV's code with
``--before``), in interleaved rounds of fresh processes; medians, and ratios to the
no-limit baseline of the same run.

    python bench/rate_limits.py --before 5fc039a     # about four minutes, Markdown on stdout
    python bench/rate_limits.py --smoke              # tiny sizes: keeps the harness working
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import multiprocessing
import os
import platform
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPOSITORY = Path(__file__).resolve().parent.parent
KEY = "sk-or-bench-rate-limits"


# ---------------------------------------------------------------- one row, in its own process


def _prompts(count: int) -> list[str]:
    return [f"a nano banana, picture {number}" for number in range(count)]


def _abatch_row(url: str, count: int, fields: dict[str, Any]) -> dict[str, Any]:
    from langchain_nanobanana import ChatNanoBanana

    llm = ChatNanoBanana(api_key=KEY, base_url=url, **fields)  # type: ignore[call-arg]
    started = time.perf_counter()
    answers = asyncio.run(llm.abatch(_prompts(count), return_exceptions=True))
    seconds = time.perf_counter() - started
    errors = [type(answer).__name__ for answer in answers if isinstance(answer, Exception)]
    return {"seconds": seconds, "lost": len(errors), "errors": sorted(set(errors))}


def _batch_row(url: str, count: int, jobs: int) -> dict[str, Any]:
    from contextlib import redirect_stdout

    import langchain_nanobanana.chat_models
    import langchain_nanobanana.cli._batch  # noqa: F401 - imported before the clock starts
    from langchain_nanobanana.cli import main

    os.environ.update(OPENROUTER_BASE_URL=url, OPENROUTER_API_KEY=KEY)
    with tempfile.TemporaryDirectory() as folder:
        prompts = Path(folder) / "prompts.txt"
        prompts.write_text("".join(f"{prompt}\n" for prompt in _prompts(count)))
        printed = io.StringIO()
        started = time.perf_counter()
        with redirect_stdout(printed):
            main(
                ["batch", str(prompts), "-o", str(Path(folder) / "out"), "-j", str(jobs), "--json"]
            )
        seconds = time.perf_counter() - started
    summary = json.loads(printed.getvalue())
    return {"seconds": seconds, "lost": count - summary["made_now"], "errors": []}


def _burst_row(url: str, count: int, bursts: int, fields: dict[str, Any]) -> dict[str, Any]:
    from langchain_nanobanana import ChatNanoBanana

    llm = ChatNanoBanana(api_key=KEY, base_url=url, **fields)  # type: ignore[call-arg]

    async def burst() -> float:
        started = time.perf_counter()
        await asyncio.gather(*(llm.ainvoke(prompt) for prompt in _prompts(count)))
        return time.perf_counter() - started

    async def measure() -> list[float]:
        await burst()  # open the connections, as in a running application
        return [await burst() for _ in range(bursts)]

    return {"times": asyncio.run(measure())}


def _row(args: argparse.Namespace) -> None:
    fields = {"max_concurrency": None} if args.no_limit else {}
    if args.row == "abatch":
        result = _abatch_row(args.url, args.count, fields)
    elif args.row == "batch":
        result = _batch_row(args.url, args.count, args.jobs)
    else:
        result = _burst_row(args.url, args.count, args.bursts, fields)
    import langchain_nanobanana

    result["package"] = str(Path(langchain_nanobanana.__file__).parent.parent)
    print(json.dumps(result))


# ---------------------------------------------------------------- the driver


@contextmanager
def _code_at(revision: str | None) -> Iterator[str | None]:
    """A folder holding the package as it was at ``revision`` (None: this checkout)."""
    if revision is None:
        yield None
        return
    command = ["git", "-C", str(REPOSITORY), "archive", "--format=tar", revision]
    archive = subprocess.run(
        [*command, "langchain_nanobanana"], capture_output=True, check=True
    ).stdout
    with tempfile.TemporaryDirectory() as folder:
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(folder, filter="data")
        yield folder


def _run_row(code: str | None, *arguments: str) -> dict[str, Any]:
    path = [code or str(REPOSITORY), os.environ.get("PYTHONPATH", "")]
    done = subprocess.run(
        [sys.executable, __file__, "--row", *arguments],
        capture_output=True,
        text=True,
        check=True,
        timeout=900,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, path))},
    )
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    expected = Path(code) if code else REPOSITORY
    assert Path(result["package"]) == expected, f"ran {result['package']}, not {expected}"
    return result


def table_rows(
    count: int, latency: float, jobs: list[int], before: str | None
) -> list[dict[str, Any]]:
    from langchain_nanobanana.testing import FakeOpenRouter

    busy = FakeOpenRouter(max_concurrent=2, latency=latency, retry_after=1)
    rows: list[dict[str, Any]] = []
    with busy.serve() as url, _code_at(before) as old:

        def measured(code: str | None, *arguments: str) -> dict[str, Any]:
            refused = busy.rate_limited
            result = _run_row(code, *arguments, "--url", url, "--count", str(count))
            return {**result, "refused": busy.rate_limited - refused}

        for number in jobs:
            row: dict[str, Any] = {"what": f"`nanobanana batch -j {number}`"}
            if before is not None:
                row["before"] = measured(old, "batch", "--jobs", str(number))
            row["after"] = measured(None, "batch", "--jobs", str(number))
            rows.append(row)
        row = {"what": f"`ChatNanoBanana.abatch` of {count}, defaults"}
        if before is not None:
            row["before"] = measured(old, "abatch")
        else:
            row["before"] = measured(None, "abatch", "--no-limit")
            row["what"] += " (before: `max_concurrency=None`)"
        row["after"] = measured(None, "abatch")
        rows.append(row)
    return rows


def burst(
    count: int, latency: float, rounds: int, bursts: int, before: str | None
) -> dict[str, Any]:
    from langchain_nanobanana.testing import FakeOpenRouter

    variants: dict[str, tuple[str | None, list[str]]] = {
        "shared limit (default)": (None, []),
        "no limit (`max_concurrency=None`)": (None, ["--no-limit"]),
    }
    times: dict[str, list[float]] = {name: [] for name in variants}
    with FakeOpenRouter(latency=latency).serve() as url, _code_at(before) as old:
        if before is not None:
            variants[f"before ({before})"] = (old, [])
            times[f"before ({before})"] = []
        for _ in range(rounds):
            for name, (code, extra) in variants.items():
                result = _run_row(
                    code, "burst", *extra, "--url", url, "--count", str(count),
                    "--bursts", str(bursts),
                )  # fmt: skip
                times[name] += result["times"]
    return {name: statistics.median(values) for name, values in times.items()}


def report(results: dict[str, Any]) -> str:
    ideal = results["ideal_s"]
    lines = [
        "## Throughput under rate limits",
        "",
        f"{results['date']}, {results['machine']}, Python {results['python']}. "
        f"A loopback emulator serving 2 requests at a time, {results['latency_s']:g} s each, "
        f"429 + `Retry-After: 1` beyond; {results['count']} images, ideal {ideal:g} s. "
        f"Before: {results['before_label']}.",
        "",
        "| what | before s | vs ideal | lost | 429s | after s | vs ideal | lost | 429s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]

    def cells(row: dict[str, Any] | None) -> str:
        if row is None:
            return " | | | "
        lost = f"**{row['lost']}**" if row["lost"] else "0"
        return f"{row['seconds']:.1f} | {row['seconds'] / ideal:.2f}x | {lost} | {row['refused']}"

    for row in results["table"]:
        lines.append(f"| {row['what']} | {cells(row.get('before'))} | {cells(row['after'])} |")
    lines += [
        "",
        f"### A burst of {results['burst_count']} calls, no limit on the server, "
        f"{results['burst_latency_s']:g} s latency (median of {results['burst_samples']})",
        "",
        "| client | burst s | vs no limit | vs ideal |",
        "|---|---|---|---|",
    ]
    bursts = results["burst"]
    baseline = bursts["no limit (`max_concurrency=None`)"]
    for name, seconds in bursts.items():
        lines.append(
            f"| {name} | {seconds:.3f} | {seconds / baseline:.2f}x | "
            f"{seconds / results['burst_latency_s']:.2f}x |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--smoke", action="store_true", help="tiny sizes and repetitions")
    parser.add_argument("--before", help="git revision whose package is the 'before' rows")
    parser.add_argument("--json", help="also write the raw results here")
    parser.add_argument("--row", choices=["abatch", "batch", "burst"], help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--jobs", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--bursts", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--no-limit", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.row:
        _row(args)
        return
    count, latency = (4, 0.2) if args.smoke else (20, 1.0)
    burst_count, rounds, bursts = (8, 1, 1) if args.smoke else (64, 5, 3)
    results: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {multiprocessing.cpu_count()} cores",
        "python": platform.python_version(),
        "count": count,
        "latency_s": latency,
        "ideal_s": count / 2 * latency,
        "before_label": (
            f"the package at {args.before}"
            if args.before
            else "`max_concurrency=None` (the shared limit off) for abatch; none for batch"
        ),
        "table": table_rows(count, latency, [16] if args.smoke else [2, 4, 16], args.before),
        "burst_count": burst_count,
        "burst_latency_s": 0.2,
        "burst_samples": rounds * bursts,
        "burst": burst(burst_count, 0.2, rounds, bursts, args.before),
    }
    print(report(results))
    if args.json:
        with open(args.json, "w") as file:
            json.dump(results, file, indent=2)


if __name__ == "__main__":
    main()
