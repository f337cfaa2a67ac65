"""The benchmark harness keeps working: a tiny run, no timing assertions."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_benchmark_harness_smoke_run() -> None:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--smoke"],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    for heading in (
        "## 1. One 1024x1024 answer",
        "## 2. One 1K answer",
        "## 3. Concurrency",
        "## 4. Import time",
        "## 5. Streaming",
    ):
        assert heading in done.stdout
    assert "| ChatNanoBanana.invoke |" in done.stdout
