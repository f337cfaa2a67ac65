"""The one thin transport to OpenRouter: pooled httpx clients, retries, SSE, status -> exception.

Sync and async paths share every decision (what to retry, how long to wait, how
to read an error) through the helpers at the top; only the I/O calls differ.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
import weakref
from collections.abc import AsyncGenerator, Generator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from langchain_nanobanana._error_mapping import (
    error_from_body,
    is_retryable_status,
)
from langchain_nanobanana._loop_clients import LoopClients
from langchain_nanobanana._pool import SINGLE_POOL_LIMITS, new_async_client
from langchain_nanobanana._sse import aiter_sse_data, iter_sse_data
from langchain_nanobanana.errors import (
    OpenRouterConnectionError,
    OpenRouterError,
    OpenRouterTimeoutError,
)

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


def _error_for_response(
    status: int, raw: bytes | bytearray, headers: httpx.Headers
) -> OpenRouterError:
    try:
        body = json.loads(raw) if raw.strip() else None
    except ValueError:
        body = None
    return error_from_body(
        status,
        body if isinstance(body, dict) else None,
        raw=raw,
        generation_id=headers.get("x-generation-id"),
        retry_after_header=headers.get("retry-after"),
    )


def _transport_error(exc: httpx.TransportError, url: str) -> OpenRouterError:
    """httpx's failures, mapped; the message names the host, never headers or keys."""
    host = httpx.URL(url).host
    if isinstance(exc, httpx.TimeoutException) and not isinstance(exc, httpx.ConnectTimeout):
        return OpenRouterTimeoutError(
            f"OpenRouter did not answer in time ({type(exc).__name__} talking to {host}). "
            "Image generation can take a minute: raise `timeout` if this repeats."
        )
    return OpenRouterConnectionError(
        f"Could not talk to OpenRouter at {host}: {type(exc).__name__}: {exc}"
    )


def _is_retryable(error: OpenRouterError) -> bool:
    if isinstance(error, OpenRouterConnectionError):
        return True
    return error.status_code is not None and is_retryable_status(error.status_code)


@dataclass(frozen=True)
class ConnectionSettings:
    """What a model configures about its connection; compared to spot a change."""

    base_url: str
    timeout: float | httpx.Timeout | None
    max_retries: int
    extra_headers: dict[str, str] = field(default_factory=dict)
    user_client: httpx.Client | None = None
    user_async_client: httpx.AsyncClient | None = None


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
            f"{self.settings.base_url.rstrip('/')}/{path}",
            content=json.dumps(body, separators=(",", ":")).encode(),
            headers=headers,
            timeout=self.settings.timeout,
        )

    def _wait(self, attempt: int, error: OpenRouterError) -> float:
        delay = backoff_seconds(attempt, error.retry_after)
        logger.info(
            "OpenRouter call failed (%s); retry %d of %d in %.2fs",
            type(error).__name__,
            attempt + 1,
            self.settings.max_retries,
            delay,
        )
        return delay

    def post(self, path: str, api_key: str, body: dict[str, Any]) -> bytearray:
        """POST and return the whole 200 body, retrying what may succeed on a retry."""
        client = self.client()
        for attempt in range(self.settings.max_retries + 1):
            request = self._request(client, path, api_key, body)
            try:
                response = client.send(request, stream=True)
                try:
                    raw = _collect(response.iter_bytes())
                finally:
                    response.close()
            except httpx.TransportError as exc:
                error = _transport_error(exc, str(request.url))
            else:
                if response.status_code == 200:
                    return raw
                error = _error_for_response(response.status_code, raw, response.headers)
            if attempt == self.settings.max_retries or not _is_retryable(error):
                raise error
            _sleep(self._wait(attempt, error))
        raise AssertionError("unreachable")  # pragma: no cover

    async def apost(self, path: str, api_key: str, body: dict[str, Any]) -> bytearray:
        client = self.async_client()
        for attempt in range(self.settings.max_retries + 1):
            request = self._request(client, path, api_key, body)
            try:
                response = await client.send(request, stream=True)
                try:
                    raw = bytearray()
                    async for chunk in response.aiter_bytes():
                        raw += chunk
                finally:
                    await response.aclose()
            except httpx.TransportError as exc:
                error = _transport_error(exc, str(request.url))
            else:
                if response.status_code == 200:
                    return raw
                error = _error_for_response(response.status_code, raw, response.headers)
            if attempt == self.settings.max_retries or not _is_retryable(error):
                raise error
            await _asleep(self._wait(attempt, error))
        raise AssertionError("unreachable")  # pragma: no cover

    def stream(self, path: str, api_key: str, body: dict[str, Any]) -> Generator[bytes, None, None]:
        """POST with ``stream: true`` and yield each SSE data payload.

        Failures before the first byte of a 200 answer are retried like ``post``;
        once the answer is flowing nothing is retried (it would bill twice). A
        non-SSE 200 answer (an error body, say) is yielded whole as one payload.
        """
        client = self.client()
        for attempt in range(self.settings.max_retries + 1):
            request = self._request(client, path, api_key, body)
            try:
                response = client.send(request, stream=True)
            except httpx.TransportError as exc:
                error = _transport_error(exc, str(request.url))
            else:
                try:
                    if response.status_code == 200:
                        try:
                            if _is_event_stream(response):
                                yield from iter_sse_data(response.iter_bytes())
                            else:
                                yield response.read()
                        except httpx.TransportError as exc:
                            raise _transport_error(exc, str(request.url)) from exc
                        return
                    try:
                        raw = response.read()
                    except httpx.TransportError as exc:
                        error = _transport_error(exc, str(request.url))
                    else:
                        error = _error_for_response(response.status_code, raw, response.headers)
                finally:
                    response.close()
            if attempt == self.settings.max_retries or not _is_retryable(error):
                raise error
            _sleep(self._wait(attempt, error))

    async def astream(
        self, path: str, api_key: str, body: dict[str, Any]
    ) -> AsyncGenerator[bytes, None]:
        client = self.async_client()
        for attempt in range(self.settings.max_retries + 1):
            request = self._request(client, path, api_key, body)
            try:
                response = await client.send(request, stream=True)
            except httpx.TransportError as exc:
                error = _transport_error(exc, str(request.url))
            else:
                try:
                    if response.status_code == 200:
                        try:
                            if _is_event_stream(response):
                                async for data in aiter_sse_data(response.aiter_bytes()):
                                    yield data
                            else:
                                yield await response.aread()
                        except httpx.TransportError as exc:
                            raise _transport_error(exc, str(request.url)) from exc
                        return
                    try:
                        raw = await response.aread()
                    except httpx.TransportError as exc:
                        error = _transport_error(exc, str(request.url))
                    else:
                        error = _error_for_response(response.status_code, raw, response.headers)
                finally:
                    await response.aclose()
            if attempt == self.settings.max_retries or not _is_retryable(error):
                raise error
            await _asleep(self._wait(attempt, error))


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
