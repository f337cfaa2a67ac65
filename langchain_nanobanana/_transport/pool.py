"""An async transport that spreads requests over several small httpx connection pools.

httpcore 1.0's pool, on every request start and finish, walks all its connections and,
for each idle one, walks them all again: the bookkeeping per request grows with the
square of the pool's size. Measured on loopback, a burst of 64 requests over 64 warm
connections spent 0.45 s of client CPU there (two million ``is_idle`` calls), and the
answers came back one every 5 ms; over eight pools of eight it took 0.06 s. So the
one async client per event loop keeps several small pools and sends each request to
the one with the fewest requests in flight (the first on ties, so calls made one at a
time keep reusing one warm connection).
"""

from __future__ import annotations

import urllib.request
from collections.abc import AsyncIterator, Callable, Sequence

import httpx

SHARDS = 8
# About 100 connections and 64 idle ones kept alive in all.
SHARD_LIMITS = httpx.Limits(max_connections=13, max_keepalive_connections=8)
# One plain httpx pool's limits: the sync client's, and the async client's when a
# proxy is configured.
SINGLE_POOL_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=32)


def new_async_client(timeout: float | httpx.Timeout | None, *, direct: bool) -> httpx.AsyncClient:
    """The model's own async client: sharded, unless the environment names a proxy.

    httpx reads HTTPS_PROXY, ALL_PROXY, NO_PROXY and the like only for the transport
    it builds itself, so with a proxy configured the client stays a plain one and
    the proxy is honoured exactly as httpx does it. A ``direct`` client (plain http
    to this machine) never goes through a proxy: the sharded one reads no proxies.
    """
    if not direct and urllib.request.getproxies():
        return httpx.AsyncClient(timeout=timeout, limits=SINGLE_POOL_LIMITS)
    return httpx.AsyncClient(timeout=timeout, transport=sharded_transport())


class ShardedAsyncTransport(httpx.AsyncBaseTransport):
    """Routes each request to the least busy of ``transports``."""

    def __init__(self, transports: Sequence[httpx.AsyncBaseTransport]) -> None:
        if not transports:
            raise ValueError("ShardedAsyncTransport needs at least one transport")
        self._transports = list(transports)
        self._in_flight = [0] * len(self._transports)

    @property
    def in_flight(self) -> tuple[int, ...]:
        """Requests started on each shard whose response is not closed yet."""
        return tuple(self._in_flight)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        shard = self._in_flight.index(min(self._in_flight))
        self._in_flight[shard] += 1
        try:
            response = await self._transports[shard].handle_async_request(request)
        except BaseException:
            self._in_flight[shard] -= 1
            raise
        if response.is_closed:  # the body came whole (a mock transport): nothing is held
            self._release(shard)
            return response
        # A request holds its connection until its body is read or closed, so the
        # shard counts as busy until then.
        response.stream = _ReleasingStream(response.stream, lambda: self._release(shard))
        return response

    def _release(self, shard: int) -> None:
        self._in_flight[shard] -= 1

    async def aclose(self) -> None:
        for transport in self._transports:
            await transport.aclose()


class _ReleasingStream(httpx.AsyncByteStream):
    """A response body that calls ``release`` once, when it is closed."""

    def __init__(
        self, inner: httpx.SyncByteStream | httpx.AsyncByteStream, release: Callable[[], None]
    ) -> None:
        if not isinstance(inner, httpx.AsyncByteStream):
            raise TypeError("an async transport returned a synchronous response stream")
        self._inner = inner
        self._release: Callable[[], None] | None = release

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        finally:
            release, self._release = self._release, None
            if release is not None:
                release()


def sharded_transport() -> ShardedAsyncTransport:
    """The real thing: SHARDS httpx transports sharing one TLS context."""
    # Loading the CA bundle costs tens of milliseconds; do it once, not per shard.
    tls = httpx.create_ssl_context()
    return ShardedAsyncTransport(
        [httpx.AsyncHTTPTransport(verify=tls, limits=SHARD_LIMITS) for _ in range(SHARDS)]
    )
