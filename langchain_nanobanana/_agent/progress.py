"""Progress of an image call, as LangGraph custom stream events.

A generation takes 10-120 s; a UI that streams the agent with
``stream_mode="custom"`` gets, for each call of the tool:

- ``{"kind": "nanobanana_progress", "event": "started", "tool_call_id", "prompt", "sources"}``
- ``{"kind": ..., "event": "heartbeat", "tool_call_id", "elapsed_s"}``, every few seconds
- ``{"kind": ..., "event": "done", "tool_call_id", "elapsed_s", "images": [{"handle",
  "width", "height", "mime_type", "url"?}]}``, or
- ``{"kind": ..., "event": "failed", "tool_call_id", "elapsed_s", "reason"}``.

Outside a LangGraph run (or in a run not streamed in custom mode) nothing is sent.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from typing import Any

from langchain_nanobanana._content.text import shorten

KIND = "nanobanana_progress"
Writer = Callable[[Any], None]


def writer_of(runtime: Any) -> Writer | None:
    """The run's stream writer: the tool runtime's, else LangGraph's current one."""
    writer = getattr(runtime, "stream_writer", None)
    if callable(writer):
        return writer  # type: ignore[no-any-return]
    try:
        from langgraph.config import get_stream_writer
    except ImportError:  # no LangGraph, so no run to report to
        return None
    try:
        return get_stream_writer()
    except (RuntimeError, KeyError):  # not inside a graph run (KeyError: a plain runnable)
        return None


class ToolProgress:
    """The events of one call; every method is a no-op without a writer."""

    def __init__(self, writer: Writer | None, call_id: str | None, every_s: float) -> None:
        self.writer = writer
        self.call_id = call_id
        self.every_s = every_s
        self._start = time.monotonic()

    def _send(self, event: str, **fields: Any) -> None:
        if self.writer is None:
            return
        elapsed = round(time.monotonic() - self._start, 3)
        event_fields = {"kind": KIND, "event": event, "tool_call_id": self.call_id}
        try:
            self.writer(event_fields | {"elapsed_s": elapsed} | fields)
        except Exception:
            # Progress is best effort: a writer that fails (a stream closed under it) must
            # not fail a call whose image is being paid for. It is not asked again.
            self.writer = None

    def started(self, prompt: str, sources: list[str]) -> None:
        self._start = time.monotonic()
        self._send("started", prompt=shorten(prompt, 500), sources=sources)

    def done(self, images: list[dict[str, Any]]) -> None:
        self._send("done", images=images)

    def failed(self, reason: str) -> None:
        self._send("failed", reason=shorten(reason, 300))

    @contextmanager
    def heartbeats(self) -> Iterator[None]:
        """A heartbeat every ``every_s`` seconds from a helper thread while the call runs."""
        if self.writer is None:
            yield
            return
        stop = threading.Event()
        # LangGraph's writer finds its run through context variables: beat in a copy.
        context = contextvars.copy_context()

        def beat() -> None:
            while not stop.wait(self.every_s):
                context.run(self._send, "heartbeat")

        thread = threading.Thread(target=beat, name="nanobanana-progress", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()

    @asynccontextmanager
    async def aheartbeats(self) -> AsyncIterator[None]:
        if self.writer is None:
            yield
            return

        async def beat() -> None:
            while True:
                await asyncio.sleep(self.every_s)
                self._send("heartbeat")

        task = asyncio.ensure_future(beat())
        try:
            yield
        finally:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task
