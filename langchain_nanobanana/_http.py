"""The one thin transport to OpenRouter: pooled httpx clients, retries, SSE, status -> exception.

One retry loop for sync calls and one for async ones (``_send``/``_asend``). Each
sends, looks at the status, and only then decides: a 200 is handed to the
caller's ``take`` (read whole for a plain call, kept open for a stream), anything
else is read as an error and retried or raised. What to retry, how long to wait
and how to read an error are shared decisions; only the I/O calls differ.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
import weakref
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator, Iterator
from contextlib import aclosing, closing
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx

from langchain_nanobanana._connection import ConnectionSettings
from langchain_nanobanana._error_mapping import error_from_response, is_retryable
from langchain_nanobanana._loop_clients import LoopClients
from langchain_nanobanana._pool import SINGLE_POOL_LIMITS, new_async_client
from langchain_nanobanana._sse import aiter_sse_data, iter_sse_data
from langchain_nanobanana.errors import (
    OpenRouterConnectionError,
    OpenRouterError,
    OpenRouterTimeoutError,
)

T = TypeVar("T")

logger = logging.getLogger("langchain_nanobanana")

INITIAL_BACKOFF_SECONDS = 0.5
MAX_BACKOFF_SECONDS = 8.0
MAX_RETRY_AFTER_SECONDS = 60.0

# Named here so tests can record the backoff without slowing down or patching `time`.
_sleep = time.sleep
_asleep = asyncio.sleep


def backoff_seconds(attempt: int, retry_after: float | None) -> float:
    """How long to wait before retry number ``attempt`` (0-based).

    The server's Retry-After wins when it is sane; otherwise exponential backoff
    with full jitter, so many clients failing together do not retry together.
    """
    if retry_after is not None and retry_after <= MAX_RETRY_AFTER_SECONDS:
        return retry_after
    ceiling = min(MAX_BACKOFF_SECONDS, INITIAL_BACKOFF_SECONDS * 2**attempt)
    return random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not a secret


def _transport_error(exc: httpx.TransportError, url: httpx.URL) -> OpenRouterError:
    """httpx's failures, mapped; the message names the host, never headers or keys."""
    host = url.host
    if isinstance(exc, httpx.TimeoutException) and not isinstance(exc, httpx.ConnectTimeout):
        return OpenRouterTimeoutError(
            f"OpenRouter did not answer in time ({type(exc).__name__} talking to {host}). "
            "Image generation can take a minute: raise `timeout` if this repeats."
        )
    return OpenRouterConnectionError(
        f"Could not talk to OpenRouter at {host}: {type(exc).__name__}: {exc}"
    )


@dataclass
class Transport:
    """Sends chat/completions requests for one model instance.

    Owns one pooled ``httpx.Client`` and one ``httpx.AsyncClient`` per event loop
    (an async client is bound to the loop it first ran on, and closed with it, see
    ``_loop_clients``; its connections are spread over several small pools, see
    ``_pool``), unless the user supplied their own clients, which are then used as
    they are. ``settings`` may be replaced between calls; the pools stay.
    """

    settings: ConnectionSettings
    _client: httpx.Client | None = field(default=None, init=False, repr=False)
    _async_clients: LoopClients = field(default_factory=LoopClients, init=False, repr=False)

    # ------------------------------------------------------------ clients

    def client(self) -> httpx.Client:
        if self.settings.user_client is not None:
            return self.settings.user_client
        if self._client is None:
            self._client = httpx.Client(timeout=self.settings.timeout, limits=SINGLE_POOL_LIMITS)
            # Close its connections when the transport goes, rather than leave the
            # sockets to the garbage collector (and its ResourceWarning).
            weakref.finalize(self, self._client.close)
        return self._client

    def async_client(self) -> httpx.AsyncClient:
        if self.settings.user_async_client is not None:
            return self.settings.user_async_client
        return self._async_clients.get(lambda: new_async_client(self.settings.timeout))

    # ------------------------------------------------------------ requests

    def _request(
        self,
        client: httpx.Client | httpx.AsyncClient,
        path: str,
        api_key: str,
        body: dict[str, Any],
    ) -> httpx.Request:
        headers = {
            "Authorization": f"Bearer {api_key}",
            "Content-Type": "application/json",
            **self.settings.extra_headers,
        }
        if body.get("stream"):
            headers["Accept"] = "text/event-stream"
        return client.build_request(
            "POST",
            self.settings.url(path),
            content=json.dumps(body, separators=(",", ":")).encode(),
            headers=headers,
            timeout=self.settings.timeout,
        )

    def _delay_or_raise(self, attempt: int, error: OpenRouterError) -> float:
        """Seconds to wait before trying again, or ``error`` raised when it is final."""
        if attempt >= self.settings.max_retries or not is_retryable(error):
            raise error
        delay = backoff_seconds(attempt, error.retry_after)
        logger.info(
            "OpenRouter call failed (%s); retry %d of %d in %.2fs",
            type(error).__name__,
            attempt + 1,
            self.settings.max_retries,
            delay,
        )
        return delay

    def _send(
        self, path: str, api_key: str, body: dict[str, Any], take: Callable[[httpx.Response], T]
    ) -> T:
        """POST until a 200 comes (or retrying is pointless), and ``take`` that answer.

        ``take`` runs inside the retry: a connection that breaks while it reads a
        whole body is tried again, like one that breaks before the status.
        """
        client = self.client()
        attempt = 0
        while True:
            request = self._request(client, path, api_key, body)
            try:
                response = client.send(request, stream=True)
                if response.status_code == 200:
                    return take(response)
                with closing(response):
                    error = error_from_response(
                        response.status_code, response.read(), response.headers
                    )
            except httpx.TransportError as exc:
                error = _transport_error(exc, request.url)
            _sleep(self._delay_or_raise(attempt, error))
            attempt += 1

    async def _asend(
        self,
        path: str,
        api_key: str,
        body: dict[str, Any],
        take: Callable[[httpx.Response], Awaitable[T]],
    ) -> T:
        """Async twin of ``_send``."""
        client = self.async_client()
        attempt = 0
        while True:
            request = self._request(client, path, api_key, body)
            try:
                response = await client.send(request, stream=True)
                if response.status_code == 200:
                    return await take(response)
                async with aclosing(response):
                    raw = await response.aread()
                error = error_from_response(response.status_code, raw, response.headers)
            except httpx.TransportError as exc:
                error = _transport_error(exc, request.url)
            await _asleep(self._delay_or_raise(attempt, error))
            attempt += 1

    # ------------------------------------------------------------ the two ways to call

    def post(self, path: str, api_key: str, body: dict[str, Any]) -> bytearray:
        """POST and return the whole 200 body, retrying what may succeed on a retry."""
        return self._send(path, api_key, body, _read_whole)

    async def apost(self, path: str, api_key: str, body: dict[str, Any]) -> bytearray:
        return await self._asend(path, api_key, body, _aread_whole)

    def stream(self, path: str, api_key: str, body: dict[str, Any]) -> Generator[bytes, None, None]:
        """POST with ``stream: true`` and yield each SSE data payload.

        Failures before a 200 answer are retried like ``post``; once the answer is
        flowing nothing is retried (it would bill twice). A 200 answer that is not
        an event stream (an error body, say) is yielded whole as one payload.
        """
        response = self._send(path, api_key, body, _keep_open)
        with closing(response):
            try:
                if _is_event_stream(response):
                    yield from iter_sse_data(response.iter_bytes())
                else:
                    yield response.read()
            except httpx.TransportError as exc:
                raise _transport_error(exc, response.request.url) from exc

    async def astream(
        self, path: str, api_key: str, body: dict[str, Any]
    ) -> AsyncGenerator[bytes, None]:
        response = await self._asend(path, api_key, body, _akeep_open)
        async with aclosing(response):
            try:
                if _is_event_stream(response):
                    async for data in aiter_sse_data(response.aiter_bytes()):
                        yield data
                else:
                    yield await response.aread()
            except httpx.TransportError as exc:
                raise _transport_error(exc, response.request.url) from exc


def _read_whole(response: httpx.Response) -> bytearray:
    with closing(response):
        return _collect(response.iter_bytes())


async def _aread_whole(response: httpx.Response) -> bytearray:
    async with aclosing(response):
        body = bytearray()
        async for chunk in response.aiter_bytes():
            body += chunk
        return body


def _keep_open(response: httpx.Response) -> httpx.Response:
    return response


async def _akeep_open(response: httpx.Response) -> httpx.Response:
    return response


def _collect(chunks: Iterator[bytes]) -> bytearray:
    """The whole body in one buffer that only the caller holds.

    ``response.read()`` would keep the body on the response, which httpx ties into
    a reference cycle (response <-> stream): a 30 MB answer would then live until
    the next garbage collection, a full extra copy at the worst moment.
    """
    body = bytearray()
    for chunk in chunks:
        body += chunk
    return body


def _is_event_stream(response: httpx.Response) -> bool:
    return "text/event-stream" in response.headers.get("content-type", "")
