"""The nanobanana command run as users run it: the installed entry point, in a subprocess;
and ``nanobanana serve`` started the same way, with the variables it prints read back."""

from __future__ import annotations

import os
import selectors
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from tests.support import REPOSITORY

_SCRIPT = Path(sys.executable).with_name("nanobanana")
COMMAND = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "langchain_nanobanana.cli"]
TIMEOUT = 60


def environment(**extra: str) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    for name in ("OPENROUTER_API_KEY", "OPENROUTER_BASE_URL", "OPENROUTER_API_BASE"):
        keep.pop(name, None)
    python_path = os.pathsep.join(filter(None, [extra.pop("PYTHONPATH", ""), str(REPOSITORY)]))
    return {**keep, "PYTHONPATH": python_path, **extra}


def run(
    *arguments: str, cwd: Path, stdin: str | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*COMMAND, *arguments],
        capture_output=True,
        text=True,
        input=stdin,
        cwd=cwd,
        env=environment(**env),
        timeout=TIMEOUT,
        check=False,
    )


STARTUP_SECONDS = 30


@contextmanager
def served_emulator(
    arguments: Sequence[str] = ("serve",), env: dict[str, str] | None = None
) -> Iterator[dict[str, str]]:
    """Run ``nanobanana serve`` (``arguments``) on any free port; yield the variables it printed."""
    process = subprocess.Popen(
        [*COMMAND, *arguments, "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=environment() if env is None else env,
    )
    try:
        assert process.stdout is not None
        printed = b""
        deadline = time.monotonic() + STARTUP_SECONDS
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            while printed.count(b"\n") < 2:
                assert selector.select(deadline - time.monotonic()), "serve printed nothing"
                piece = os.read(process.stdout.fileno(), 4096)
                assert piece, f"serve exited with {process.wait()}"
                printed += piece
        variables = {}
        for line in printed.decode().splitlines():
            name, _, value = line.removeprefix("export ").partition("=")
            variables[name] = value
        yield variables
    finally:
        process.terminate()
        process.wait(timeout=STARTUP_SECONDS)
