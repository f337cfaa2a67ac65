"""``nanobanana serve`` started as a user starts it, and the variables it prints, read back."""

from __future__ import annotations

import os
import selectors
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

STARTUP_SECONDS = 30


@contextmanager
def served_emulator(command: Sequence[str], env: dict[str, str]) -> Iterator[dict[str, str]]:
    """Run ``command serve --port 0`` and yield the ``export NAME=value`` lines it printed."""
    process = subprocess.Popen(
        [*command, "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
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
