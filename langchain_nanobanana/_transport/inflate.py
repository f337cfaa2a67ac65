"""Decompressing a body a slice at a time, so a small gzip bomb cannot inflate at once.

httpx inflates each network read whole: 64 KB of a gzip bomb become 64 MB before any
cap can count them. For the model lists (small answers, read while a call waits) the
transport reads the raw bytes and inflates them here, never more than ``SLICE`` bytes
per step, so the byte cap stops a bomb within a slice of it.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator, Iterator

from langchain_nanobanana.errors import OpenRouterAPIError

SLICE = 64 * 1024
ACCEPTED = "gzip, deflate"
"""What the list requests accept (``Accept-Encoding``): what this module inflates."""


class Inflater:
    """One body's decoder for its ``Content-Encoding``; OpenRouterAPIError for another."""

    def __init__(self, encoding: str | None) -> None:
        coding = (encoding or "identity").strip().lower()
        if coding in ("", "identity"):
            self._decoder = None
        elif coding in ("gzip", "x-gzip"):
            self._decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif coding == "deflate":
            self._decoder = zlib.decompressobj()
        else:
            raise OpenRouterAPIError(
                f"The answer came encoded as {coding!r}, which was not asked for (only {ACCEPTED})."
            )

    def slices(self, raw: bytes) -> Iterator[bytes]:
        """What ``raw`` inflates to, ``SLICE`` bytes at a time."""
        if self._decoder is None:
            yield raw
            return
        pending = raw
        while pending:
            try:
                out = self._decoder.decompress(pending, SLICE)
            except zlib.error as error:
                raise OpenRouterAPIError(f"The answer could not be decompressed: {error}") from None
            pending = self._decoder.unconsumed_tail
            if out:
                yield out
            elif pending:  # no progress on what is left: the stream is damaged
                raise OpenRouterAPIError("The answer could not be decompressed.")


def inflated(raw: Iterator[bytes], encoding: str | None) -> Iterator[bytes]:
    inflater = Inflater(encoding)
    for chunk in raw:
        yield from inflater.slices(chunk)


async def ainflated(raw: AsyncIterator[bytes], encoding: str | None) -> AsyncIterator[bytes]:
    inflater = Inflater(encoding)
    async for chunk in raw:
        for piece in inflater.slices(chunk):
            yield piece
