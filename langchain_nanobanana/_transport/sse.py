"""A server-sent-events decoder whose line cap fits a whole 4K image.

OpenRouter sends a whole base64 image (1-3 MB, 30 MB at 4K) on one ``data:`` line,
which breaks readers that cap lines at the usual kilobytes; the cap here is twice
a 4K image, so only a server that never ends its line meets it. Comment lines
(``: OPENROUTER PROCESSING``) are keep-alives and are skipped. Works on bytes end
to end, so the payload is never decoded to text before the JSON parser sees it.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator

from langchain_nanobanana.errors import OpenRouterAPIError

MAX_EVENT_BYTES = 64 * 1024 * 1024
"""The longest line, and the largest event (its ``data:`` lines together), read."""
_PARK_BYTES = 1024 * 1024
"""An unfinished line this long is parked in parts rather than grown further."""
MAX_EVENTS = 20_000
"""Events in one stream: an image answer has tens to a few hundred (text and
reasoning deltas, the image, usage). Every event becomes a chunk that
langchain-core keeps until the stream ends (about 4 KB each), so a million
one-letter events would take gigabytes."""


class SSEDecoder:
    """Feed it byte chunks; it returns the ``data`` payload of each finished event.

    Follows the event-stream spec's line rules: lines end in LF, CRLF or CR; a
    blank line dispatches the event; several ``data:`` lines join with LF;
    ``event:``, ``id:`` and ``retry:`` fields are accepted and ignored.
    """

    def __init__(self, max_event_bytes: int | None = None, max_events: int | None = None) -> None:
        self._max_event_bytes = MAX_EVENT_BYTES if max_event_bytes is None else max_event_bytes
        self._events_left = MAX_EVENTS if max_events is None else max_events
        self._data_bytes = 0
        self._buffer = bytearray()
        self._scanned = 0
        self._held_cr = False
        self._data: list[bytes] = []
        self._parked: list[bytes] = []
        self._parked_bytes = 0

    def feed(self, chunk: bytes) -> list[bytes]:
        if self._held_cr:
            chunk = b"\r" + chunk
        # A CR at a chunk's end may be the first half of CRLF: decide next time.
        self._held_cr = chunk.endswith(b"\r")
        if self._held_cr:
            chunk = chunk[:-1]
        if b"\r" in chunk:
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        self._buffer += chunk
        events: list[bytes] = []
        start = 0
        # Lines are read through a view and only a data value is copied out, once:
        # the image line is megabytes long.
        with memoryview(self._buffer) as view:
            while True:
                newline = self._buffer.find(b"\n", max(start, self._scanned))
                if newline < 0:
                    break
                if self._parked:
                    event = self._take_long_line(view[start:newline])
                else:
                    event = self._take_line(view[start:newline])
                if event is not None:
                    events.append(event)
                start = newline + 1
        if start:
            # A fresh buffer for the rest, so the consumed megabytes are freed now.
            self._buffer = self._buffer[start:]
        elif len(self._buffer) >= _PARK_BYTES:
            # A long line (the image) goes on: park what came so far. Grown to 30 MB, the
            # buffer would hold up to an eighth more than the line (bytearray's
            # over-allocation), beside the data value copied out of it.
            self._parked.append(bytes(self._buffer))
            self._parked_bytes += len(self._buffer)
            self._buffer = bytearray()
        # Remember how far we looked so a 3 MB line is scanned once, not per chunk.
        self._scanned = len(self._buffer)
        self._check_size(self._parked_bytes + self._scanned)
        return events

    def close(self) -> list[bytes]:
        """Events still pending when the stream ends without a final blank line."""
        events = self.feed(b"\n") if (self._buffer or self._held_cr or self._parked) else []
        if self._data:
            events.append(b"\n".join(self._data))
            self._data = []
        return events

    def _take_long_line(self, tail: memoryview) -> bytes | None:
        """The line whose start was parked, ending with ``tail``: joined (the parked parts
        let go at once), then taken as any line."""
        line = b"".join([*self._parked, tail])
        self._parked, self._parked_bytes = [], 0
        with memoryview(line) as view:
            return self._take_line(view)

    def _take_line(self, line: memoryview) -> bytes | None:
        if not line:
            if not self._data:
                return None
            data = self._data[0] if len(self._data) == 1 else b"\n".join(self._data)
            self._data = []
            self._data_bytes = 0
            self._events_left -= 1
            if self._events_left < 0:
                raise OpenRouterAPIError(
                    f"OpenRouter's stream went past {MAX_EVENTS:,} events, far more than any "
                    "image answer sends; it was not read further."
                )
            return data
        if line[:5].tobytes() == b"data:":
            skip = 6 if line[5:6].tobytes() == b" " else 5
            self._data_bytes += len(line) - skip
            self._check_size(0)
            self._data.append(line[skip:].tobytes())
        # Comments (":" keep-alives) and the event, id and retry fields carry nothing we use.
        return None

    def _check_size(self, unfinished_line: int) -> None:
        if self._data_bytes + unfinished_line > self._max_event_bytes:
            raise OpenRouterAPIError(
                f"OpenRouter sent a stream event over {self._max_event_bytes // 2**20} MB "
                "(more than twice a 4K image) without ending it; it was not read further."
            )


def iter_sse_data(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """The data payload of every event in a byte stream."""
    decoder = SSEDecoder()
    for chunk in chunks:
        events = decoder.feed(chunk)
        while events:  # pop, so this frame does not keep a yielded megabyte line alive
            yield events.pop(0)
    yield from decoder.close()


async def aiter_sse_data(chunks: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
    """Async twin of ``iter_sse_data``."""
    decoder = SSEDecoder()
    async for chunk in chunks:
        events = decoder.feed(chunk)
        while events:
            yield events.pop(0)
    for data in decoder.close():
        yield data
