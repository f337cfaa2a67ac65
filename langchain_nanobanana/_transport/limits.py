"""The limits of one call: time for the whole call, and bytes for its answer.

httpx's ``timeout`` bounds each read, not the call: a server that trickles a
byte, or an SSE keep-alive comment, before each read times out holds a call
forever, and OpenRouter does send such bytes while a model works. So every
call carries a ``CallLimits``: a deadline for the whole call (retries and backoff
included) and a cap on the bytes its answer may take once decompressed. Both
are checked on every chunk the transport reads.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field, replace

import httpx

from langchain_nanobanana.errors import OpenRouterAPIError, OpenRouterTimeoutError

MIB = 1024 * 1024
MAX_ANSWER_BYTES = 96 * MIB
"""About three 4K answers (30 MB of base64 each): room for the largest real answer."""
MAX_ERROR_BODY_BYTES = 64 * 1024
"""An error body is read this far and no further: the excerpt needs 2 KB."""


@dataclass
class CallLimits:
    """The deadline and byte cap of one call; ``None`` deadline means no deadline."""

    seconds: float | None
    max_bytes: int = field(default_factory=lambda: MAX_ANSWER_BYTES)
    _ends_at: float | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        if self.seconds is not None:
            self._ends_at = time.monotonic() + self.seconds

    def capped(self, max_bytes: int) -> CallLimits:
        """The same deadline (not a new one from now) with another byte cap."""
        copy = replace(self, max_bytes=max_bytes)
        copy._ends_at = self._ends_at
        return copy

    def remaining(self) -> float | None:
        if self._ends_at is None:
            return None
        return self._ends_at - time.monotonic()

    def check_time(self) -> None:
        """Raise OpenRouterTimeoutError once the deadline has passed."""
        remaining = self.remaining()
        if remaining is not None and remaining <= 0:
            raise OpenRouterTimeoutError(
                f"The OpenRouter call did not finish within its deadline of {self.seconds:g} s "
                "(`deadline`, retries included). A 4K image can take over two minutes: "
                "raise `deadline` if this repeats."
            )

    def allows_wait(self, seconds: float) -> bool:
        """Whether sleeping ``seconds`` before a retry still leaves time for it."""
        remaining = self.remaining()
        return remaining is None or seconds < remaining

    def clamp(self, timeout: float | httpx.Timeout | None) -> httpx.Timeout:
        """``timeout`` with no part longer than the time left, so no single read
        can outlast the deadline by more than the deadline itself."""
        base = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
        remaining = self.remaining()
        if remaining is None:
            return base
        left = max(remaining, 0.001)

        def shorter(part: float | None) -> float:
            return left if part is None else min(part, left)

        return httpx.Timeout(
            connect=shorter(base.connect),
            read=shorter(base.read),
            write=shorter(base.write),
            pool=shorter(base.pool),
        )

    def check_declared_size(self, headers: httpx.Headers) -> int | None:
        """Refuse, before reading it, an answer whose Content-Length is over the cap;
        the size it declares (None when it declares none, or is compressed)."""
        declared = headers.get("content-length", "")
        encoded = headers.get("content-encoding", "identity").strip().lower()
        if not (declared.isascii() and declared.isdigit() and encoded in ("", "identity")):
            return None
        self.check_bytes(int(declared))
        return int(declared)

    def check_bytes(self, size: int) -> None:
        if size > self.max_bytes:
            raise OpenRouterAPIError(
                f"OpenRouter's answer is larger than {self.max_bytes // MIB} MB "
                "(decompressed), more than any image answer needs; it was not read further."
            )


def within(chunks: Iterator[bytes], limits: CallLimits) -> Iterator[bytes]:
    """One answer's chunks (decompressed), each counted against the cap and the deadline."""
    read = 0
    for chunk in chunks:
        read += len(chunk)
        limits.check_bytes(read)
        limits.check_time()
        yield chunk


async def awithin(chunks: AsyncIterator[bytes], limits: CallLimits) -> AsyncIterator[bytes]:
    """Async twin of ``within``."""
    read = 0
    async for chunk in chunks:
        read += len(chunk)
        limits.check_bytes(read)
        limits.check_time()
        yield chunk


def error_body(chunks: Iterator[bytes]) -> bytearray:
    """The first ``MAX_ERROR_BODY_BYTES`` of an error answer; the rest is not read."""
    body = bytearray()
    for chunk in chunks:
        body += chunk
        if len(body) >= MAX_ERROR_BODY_BYTES:
            break
    return body[:MAX_ERROR_BODY_BYTES]


async def aerror_body(chunks: AsyncIterator[bytes]) -> bytearray:
    body = bytearray()
    async for chunk in chunks:
        body += chunk
        if len(body) >= MAX_ERROR_BODY_BYTES:
            break
    return body[:MAX_ERROR_BODY_BYTES]
