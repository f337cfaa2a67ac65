"""A progress line for the command: on a terminal only, nothing when piped."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import TextIO


class Progress:
    """``with Progress(sys.stderr, "Generating"):`` shows "Generating... 3s" while it runs.

    ``label`` may also be a function of the seconds elapsed, for a line that says more
    (a batch's images done, failures, spend and ETA). Only when ``stream`` is a
    terminal: scripts that pipe or capture stderr see nothing. The line is erased
    when the block ends, so the final result stands alone.
    """

    def __init__(
        self, stream: TextIO, label: str | Callable[[float], str], interval: float = 0.5
    ) -> None:
        self._stream = stream
        self._label = label
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Progress:
        if self._stream.isatty():
            self._thread = threading.Thread(
                target=self._tick, args=(time.monotonic(),), daemon=True
            )
            self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._stream.write("\r\033[K")
            self._stream.flush()

    def _tick(self, started: float) -> None:
        while True:
            elapsed = time.monotonic() - started
            line = (
                self._label(elapsed)
                if callable(self._label)
                else f"{self._label}... {elapsed:.0f}s"
            )
            self._stream.write(f"\r\033[K{line}")
            self._stream.flush()
            if self._stop.wait(self._interval):
                return
