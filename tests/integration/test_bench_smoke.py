"""The benchmark harness keeps working: a tiny run, no timing assertions."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.support import REPOSITORY

pytestmark = pytest.mark.slow  # a third of the suite's time: real bench runs, tiny sizes


def _smoke_run(script: str) -> str:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(REPOSITORY), os.environ.get("PYTHONPATH")])
        ),
    }
    done = subprocess.run(
        [sys.executable, str(REPOSITORY / "bench" / script), "--smoke"],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_benchmark_harness_smoke_run() -> None:
    stdout = _smoke_run("run.py")
    for heading in (
        "## 1. One 1024x1024 answer",
        "## 2. One 1K answer",
        "## 3. Concurrency",
        "## 4. Import time",
        "## 5. Streaming",
    ):
        assert heading in stdout
    assert "| ChatNanoBanana.invoke |" in stdout


def test_image_api_benchmark_smoke_run() -> None:
    stdout = _smoke_run("image_api.py")
    assert "## 6. The Image API and n images" in stdout
    assert "| chat, google/gemini-2.5-flash-image |" in stdout


def test_rate_limits_benchmark_smoke_run() -> None:
    stdout = _smoke_run("rate_limits.py")
    assert "## Throughput under rate limits" in stdout
    assert "| `nanobanana batch -j 16` |" in stdout
    assert "| shared limit (default) |" in stdout


def test_memory_benchmark_smoke_run() -> None:
    stdout = _smoke_run("memory.py")
    assert "| path | payload (base64) | peak | per payload |" in stdout
    for row in ("| `ChatNanoBanana.invoke` |", "| tool generate |", "| tool edit by handle |"):
        assert row in stdout


def test_deployment_benchmark_smoke_run(postgres_server: object) -> None:
    # postgres_server: the benchmark starts its own server the same way; this one makes the
    # test a PostgreSQL test, which must run (not skip) in CI.
    stdout = _smoke_run("deployment.py")
    assert "| reference |" in stdout
    assert "| PostgresStore (LangGraph), loopback |" in stdout
