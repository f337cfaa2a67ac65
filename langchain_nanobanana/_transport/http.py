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
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Generator,
    Iterator,
)
from contextlib import aclosing, closing
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx

from langchain_nanobanana._openrouter.error_mapping import error_from_response, is_retryable
from langchain_nanobanana._transport.connection import ConnectionSettings, redacted
from langchain_nanobanana._transport.inflate import ACCEPTED, ainflated, inflated
from langchain_nanobanana._transport.limits import (
    CallLimits,
    aerror_body,
    awithin,
    error_body,
    within,
)
from langchain_nanobanana._transport.loop_clients import LoopClients
from langchain_nanobanana._transport.pool import SINGLE_POOL_LIMITS, new_async_client
from langchain_nanobanana._transport.sse import aiter_sse_data, iter_sse_data
from langchain_nanobanana.errors import (
    OpenRouterAPIError,
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


def _transport_error(exc: httpx.RequestError, url: httpx.URL, api_key: str) -> OpenRouterError:
    """httpx's failures, mapped; the message names the host, never headers or keys."""
    host = url.host
    if isinstance(exc, httpx.DecodingError):
        # A body that does not decompress as its Content-Encoding says: the same
        # request would most likely get the same answer, so it is not retried.
        return OpenRouterAPIError(
            f"OpenRouter's answer from {host} could not be decompressed: {exc}"
        )
    if isinstance(exc, httpx.PoolTimeout):
        # Nothing was sent: every pooled connection was busy. Safe to try again.
        return OpenRouterConnectionError(
            f"No pooled connection to {host} came free in time: too many calls at once "
            "for the connection pool. Retried; lower the concurrency if this repeats."
        )
    if isinstance(exc, httpx.TimeoutException) and not isinstance(exc, httpx.ConnectTimeout):
        return OpenRouterTimeoutError(
            f"OpenRouter did not answer in time ({type(exc).__name__} talking to {host}). "
            "Image generation can take a minute: raise `timeout` if this repeats."
        )
    said = redacted(f"{type(exc).__name__}: {exc}", api_key)
    return OpenRouterConnectionError(f"Could not talk to OpenRouter at {host}: {said}")


_NOT_SENT_WHOLE = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.ProxyError,
    httpx.UnsupportedProtocol,
    httpx.LocalProtocolError,
    httpx.WriteError,
    httpx.WriteTimeout,
)
"""Failures before the request reached the server whole: nothing can have been billed."""


def _sent_whole(exc: httpx.RequestError) -> bool:
    """Whether the request had reached the server whole when ``exc`` happened: a read
    that timed out or a connection dropped while waiting for (or reading) the answer."""
    return not isinstance(exc, _NOT_SENT_WHOLE)


def _billed(error: OpenRouterError, billed: bool) -> OpenRouterError:
    """``error`` marked with whether any attempt of the call may have been billed: an
    error status is a request declined, so only earlier attempts count then."""
    error.possibly_billed = billed
    return error


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
    # Keyed by "direct": plain-http calls (to this machine) get clients that ignore
    # the environment's proxies, so the key never crosses a network unencrypted.
    _clients: dict[bool, httpx.Client] = field(default_factory=dict, init=False, repr=False)
    _async_clients: dict[bool, LoopClients] = field(
        default_factory=lambda: {True: LoopClients(), False: LoopClients()},
        init=False,
        repr=False,
    )

    # ------------------------------------------------------------ clients

    def client(self) -> httpx.Client:
        if self.settings.user_client is not None:
            return self.settings.user_client
        direct = self.settings.direct
        client = self._clients.get(direct)
        if client is None:
            client = self._clients[direct] = httpx.Client(
                timeout=self.settings.timeout, limits=SINGLE_POOL_LIMITS, trust_env=not direct
            )
            # Close its connections when the transport goes, rather than leave the
            # sockets to the garbage collector (and its ResourceWarning).
            weakref.finalize(self, client.close)
        return client

    def async_client(self) -> httpx.AsyncClient:
        if self.settings.user_async_client is not None:
            return self.settings.user_async_client
        direct = self.settings.direct
        return self._async_clients[direct].get(
            lambda: new_async_client(self.settings.timeout, direct=direct)
        )

    def async_client_count(self) -> int:
        """Async clients made and not closed yet, over every loop."""
        return sum(clients.client_count() for clients in self._async_clients.values())

    def close(self) -> None:
        """Close the sync client and forget the async ones (see ``aclose``)."""
        for client in self._clients.values():
            client.close()
        self._clients.clear()
        for clients in self._async_clients.values():
            clients.close_all()

    async def aclose(self) -> None:
        """Close every client this transport made (never the user's own)."""
        for client in self._clients.values():
            client.close()
        self._clients.clear()
        for clients in self._async_clients.values():
            await clients.aclose_all()

    # ------------------------------------------------------------ requests

    def _request(
        self,
        client: httpx.Client | httpx.AsyncClient,
        path: str,
        api_key: str,
        body: dict[str, Any],
        limits: CallLimits,
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
            timeout=limits.clamp(self.settings.timeout),
        )

    def _delay_or_raise(self, attempt: int, error: OpenRouterError, limits: CallLimits) -> float:
        """Seconds to wait before trying again, or ``error`` raised when it is final
        (not retryable, retries used up, or no time left for the wait)."""
        if attempt >= self.settings.max_retries or not is_retryable(error):
            raise error
        delay = backoff_seconds(attempt, error.retry_after)
        if not limits.allows_wait(delay):
            raise error
        logger.info(
            "OpenRouter call failed (%s); retry %d of %d in %.2fs",
            type(error).__name__,
            attempt + 1,
            self.settings.max_retries,
            delay,
        )
        return delay

    def _send(
        self,
        path: str,
        api_key: str,
        body: dict[str, Any],
        take: Callable[[httpx.Response, CallLimits], T],
        limits: CallLimits,
    ) -> T:
        """POST until a 200 comes (or retrying is pointless), and ``take`` that answer.

        ``take`` runs inside the retry: a connection that breaks while it reads a
        whole body is tried again, like one that breaks before the status.
        """
        client = self.client()
        attempt, billed = 0, False  # billed: an attempt may have been (see _billed)
        while True:
            try:
                limits.check_time()
                request = self._request(client, path, api_key, body, limits)
                response = client.send(request, stream=True)
                if response.status_code == 200:
                    billed = True
                    return take(response, limits)
                with closing(response):
                    raw = error_body(within(response.iter_bytes(), limits))
                error = error_from_response(response.status_code, raw, response.headers)
            except httpx.RequestError as exc:
                billed = billed or _sent_whole(exc)
                error = _transport_error(exc, request.url, api_key)
            except OpenRouterError as failed:  # the deadline, a cap
                _billed(failed, billed)
                raise
            _sleep(self._delay_or_raise(attempt, _billed(error, billed), limits))
            attempt += 1

    async def _asend(
        self,
        path: str,
        api_key: str,
        body: dict[str, Any],
        take: Callable[[httpx.Response, CallLimits], Awaitable[T]],
        limits: CallLimits,
    ) -> T:
        """Async twin of ``_send``."""
        client = self.async_client()
        attempt, billed = 0, False
        while True:
            try:
                limits.check_time()
                request = self._request(client, path, api_key, body, limits)
                response = await client.send(request, stream=True)
                if response.status_code == 200:
                    billed = True
                    return await take(response, limits)
                async with aclosing(response):
                    raw = await aerror_body(awithin(response.aiter_bytes(), limits))
                error = error_from_response(response.status_code, raw, response.headers)
            except httpx.RequestError as exc:
                billed = billed or _sent_whole(exc)
                error = _transport_error(exc, request.url, api_key)
            except OpenRouterError as failed:  # the deadline, a cap
                _billed(failed, billed)
                raise
            await _asleep(self._delay_or_raise(attempt, _billed(error, billed), limits))
            attempt += 1

    # ------------------------------------------------------------ the two ways to call

    def post(
        self, path: str, api_key: str, body: dict[str, Any], limits: CallLimits | None = None
    ) -> bytearray:
        """POST and return the whole 200 body, retrying what may succeed on a retry.
        ``limits``: the call's, when the call began before this request (discovery)."""
        return self._send(path, api_key, body, _read_whole, limits or self.limits())

    async def apost(
        self, path: str, api_key: str, body: dict[str, Any], limits: CallLimits | None = None
    ) -> bytearray:
        return await self._asend(path, api_key, body, _aread_whole, limits or self.limits())

    def limits(self) -> CallLimits:
        """The limits of a call starting now: the model's deadline, the answer cap."""
        return CallLimits(self.settings.deadline)

    def get(self, path: str, limits: CallLimits) -> bytearray:
        """GET a public list under the base URL (no key sent), read like any answer:
        capped and within ``limits``' deadline, inflated a slice at a time (see
        ``inflate``), once (a list is not worth a retry). OpenRouterError for anything
        but a whole 200 answer."""
        client = self.client()
        limits.check_time()
        request = self._list_request(client, path, limits)
        try:
            with closing(client.send(request, stream=True)) as response:
                _check_list_answer(response, path, limits)
                encoding = response.headers.get("content-encoding")
                return _collect(within(inflated(response.iter_raw(), encoding), limits))
        except httpx.RequestError as exc:
            raise _transport_error(exc, request.url, "") from exc

    async def aget(self, path: str, limits: CallLimits) -> bytearray:
        client = self.async_client()
        limits.check_time()
        request = self._list_request(client, path, limits)
        try:
            async with aclosing(await client.send(request, stream=True)) as response:
                _check_list_answer(response, path, limits)
                encoding = response.headers.get("content-encoding")
                raw = ainflated(response.aiter_raw(), encoding)
                return await _acollect(awithin(raw, limits))
        except httpx.RequestError as exc:
            raise _transport_error(exc, request.url, "") from exc

    def _list_request(
        self, client: httpx.Client | httpx.AsyncClient, path: str, limits: CallLimits
    ) -> httpx.Request:
        return client.build_request(
            "GET",
            self.settings.url(path),
            headers={**self.settings.extra_headers, "Accept-Encoding": ACCEPTED},
            timeout=limits.clamp(self.settings.timeout),
        )

    def stream(
        self, path: str, api_key: str, body: dict[str, Any], limits: CallLimits | None = None
    ) -> Generator[bytes, None, None]:
        """POST with ``stream: true`` and yield each SSE data payload.

        Failures before a 200 answer are retried like ``post``; once the answer is
        flowing nothing is retried (it would bill twice). A 200 answer that is not
        an event stream (an error body, say) is yielded whole as one payload.
        """
        limits = limits or self.limits()
        response = self._send(path, api_key, body, _keep_open, limits)
        with closing(response):
            try:
                limits.check_declared_size(response.headers)
                chunks = within(response.iter_bytes(), limits)
                if _is_event_stream(response):
                    yield from iter_sse_data(chunks)
                else:
                    yield bytes(_collect(chunks))
            except httpx.RequestError as exc:
                raise _transport_error(exc, response.request.url, api_key) from exc

    async def astream(
        self, path: str, api_key: str, body: dict[str, Any], limits: CallLimits | None = None
    ) -> AsyncGenerator[bytes, None]:
        limits = limits or self.limits()
        response = await self._asend(path, api_key, body, _akeep_open, limits)
        async with aclosing(response):
            try:
                limits.check_declared_size(response.headers)
                chunks = awithin(response.aiter_bytes(), limits)
                if _is_event_stream(response):
                    async for data in aiter_sse_data(chunks):
                        yield data
                else:
                    yield bytes(await _acollect(chunks))
            except httpx.RequestError as exc:
                raise _transport_error(exc, response.request.url, api_key) from exc


def _check_list_answer(response: httpx.Response, path: str, limits: CallLimits) -> None:
    if response.status_code != 200:
        raise OpenRouterAPIError(f"GET {path} answered {response.status_code}.")
    limits.check_declared_size(response.headers)


def _read_whole(response: httpx.Response, limits: CallLimits) -> bytearray:
    with closing(response):
        limits.check_declared_size(response.headers)
        return _collect(within(response.iter_bytes(), limits))


async def _aread_whole(response: httpx.Response, limits: CallLimits) -> bytearray:
    async with aclosing(response):
        limits.check_declared_size(response.headers)
        return await _acollect(awithin(response.aiter_bytes(), limits))


def _keep_open(response: httpx.Response, limits: CallLimits) -> httpx.Response:
    return response


async def _akeep_open(response: httpx.Response, limits: CallLimits) -> httpx.Response:
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


async def _acollect(chunks: AsyncIterator[bytes]) -> bytearray:
    body = bytearray()
    async for chunk in chunks:
        body += chunk
    return body


def _is_event_stream(response: httpx.Response) -> bool:
    # Media types are case-insensitive (RFC 9110): TEXT/EVENT-STREAM is one too.
    return "text/event-stream" in response.headers.get("content-type", "").lower()
