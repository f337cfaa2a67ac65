"""A whole answer body, read into one buffer that only the caller holds.

``response.read()`` would keep the body on the response, which httpx ties into a
reference cycle (response <-> stream): a 30 MB answer would then live until the next
garbage collection, a full extra copy at the worst moment. Where the size is declared
the buffer is made at that size and filled in place: grown chunk by chunk it would
hold up to an eighth more than the body (bytearray's over-allocation), all of it
beside the image text parsed out of it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator


class _Body:
    def __init__(self, size: int | None) -> None:
        self._buffer = bytearray(size or 0)
        self._filled = 0

    def add(self, chunk: bytes) -> None:
        end = self._filled + len(chunk)
        if end <= len(self._buffer):
            self._buffer[self._filled : end] = chunk
        else:  # undeclared, or more than declared: grow as it comes
            del self._buffer[self._filled :]
            self._buffer += chunk
        self._filled = end

    def whole(self) -> bytearray:
        del self._buffer[self._filled :]  # less than declared: only what came
        return self._buffer


def collect(chunks: Iterator[bytes], size: int | None = None) -> bytearray:
    """The chunks in one buffer; ``size`` is what the answer declared (already capped)."""
    body = _Body(size)
    for chunk in chunks:
        body.add(chunk)
    return body.whole()


async def acollect(chunks: AsyncIterator[bytes], size: int | None = None) -> bytearray:
    body = _Body(size)
    async for chunk in chunks:
        body.add(chunk)
    return body.whole()
