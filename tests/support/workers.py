"""Python code run in a separate OS process, for tests where processes share a database.

`run_worker(script, *args)` runs `script` with this interpreter and returns the finished
process; a worker that exits non-zero, or runs past its timeout, raises `WorkerError`
with its stderr. `start_worker` starts one without waiting, so that two can run at once:

    first = start_worker(WRITER, postgres_db)
    second = start_worker(READER, postgres_db)
    written, read = first.result(), second.result()

`script` is Python source (a `str`, dedented, run with `-c`) or a file (a `Path`); `args`
become its `sys.argv[1:]`. The worker runs from the repository root with `tests.*`
importable, unbuffered, in this process's environment plus `env`. A worker reports
back by printing; `last_json(done)` reads the last line of its output as JSON.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tests.support import REPOSITORY

TIMEOUT = 120.0


class WorkerError(AssertionError):
    """A worker exited non-zero or did not finish in time; says what it printed."""


def _describe(args: list[str]) -> str:
    if len(args) > 1 and args[1] == "-c":
        first = next((line for line in args[2].splitlines() if line.strip()), "")
        return f"worker ({first.strip()[:60]}...) {' '.join(args[3:])}".rstrip()
    return " ".join(args)


class Worker:
    """A started worker process."""

    def __init__(self, process: subprocess.Popen[str], description: str) -> None:
        self.process = process
        self.description = description

    @property
    def pid(self) -> int:
        return self.process.pid

    def result(self, timeout: float = TIMEOUT) -> subprocess.CompletedProcess[str]:
        """Wait for the worker; its output, or `WorkerError` when it did not succeed."""
        try:
            stdout, stderr = self.process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            stdout, stderr = self.process.communicate()
            raise WorkerError(
                f"{self.description} did not finish in {timeout:.0f}s and was killed\n"
                f"--- stderr:\n{stderr}\n--- stdout:\n{stdout}"
            ) from None
        done = subprocess.CompletedProcess(
            self.process.args, self.process.returncode, stdout, stderr
        )
        if done.returncode != 0:
            raise WorkerError(
                f"{self.description} exited {done.returncode}\n"
                f"--- stderr:\n{stderr}\n--- stdout:\n{stdout}"
            )
        return done

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.communicate()


def worker_environment(env: Mapping[str, str] | None = None) -> dict[str, str]:
    environment = dict(os.environ)
    paths = [str(REPOSITORY), *filter(None, [environment.get("PYTHONPATH")])]
    environment["PYTHONPATH"] = os.pathsep.join(paths)
    environment["PYTHONUNBUFFERED"] = "1"
    environment.update(env or {})
    return environment


def start_worker(script: str | Path, *args: str, env: Mapping[str, str] | None = None) -> Worker:
    """Start `script` in a new Python process; `Worker.result()` waits for it."""
    if isinstance(script, Path):
        command = [sys.executable, str(script), *map(str, args)]
    else:
        command = [sys.executable, "-c", textwrap.dedent(script), *map(str, args)]
    process = subprocess.Popen(
        command,
        cwd=REPOSITORY,
        env=worker_environment(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return Worker(process, _describe(command))


def run_worker(
    script: str | Path,
    *args: str,
    env: Mapping[str, str] | None = None,
    timeout: float = TIMEOUT,
) -> subprocess.CompletedProcess[str]:
    """Run `script` in a new Python process to the end; raise `WorkerError` unless it succeeds."""
    worker = start_worker(script, *args, env=env)
    try:
        return worker.result(timeout)
    finally:
        worker.kill()


def last_json(done: subprocess.CompletedProcess[str]) -> Any:
    """The last non-empty line a worker printed, read as JSON."""
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    if not lines:
        raise WorkerError(f"the worker printed nothing\n--- stderr:\n{done.stderr}")
    return json.loads(lines[-1])
