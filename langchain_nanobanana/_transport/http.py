"""The one thin transport to OpenRouter: pooled httpx clients, retries, SSE, status -> exception.

One retry loop for sync calls and one for async ones (``_send``/``_asend``). Each
takes a slot of the key's shared limit (``shared_limit``: waiting in line when the key is
busy), sends, looks at the status, and only then decides: a 200 is handed to the
caller's ``take`` (read whole for a plain call, kept open for a stream), a 429 puts the
call back in line (not a retry), anything else is read as an error and retried or
raised. What to retry, how long to wait and how to read an error are shared decisions;
only the I/O calls differ.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import weakref
from collections.abc import (
    AsyncGenerator,
    Awaitable,
    Callable,
    Generator,
)
from contextlib import aclosing, closing
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx

from langchain_nanobanana._openrouter.error_mapping import error_from_response, is_retryable
from langchain_nanobanana._transport.body import JsonBody
from langchain_nanobanana._transport.connection import ConnectionSettings, redacted, user_agent
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
from langchain_nanobanana._transport.recorder import record
from langchain_nanobanana._transport.shared_limit import UNLIMITED, SharedLimit, Slot, shared_limit
from langchain_nanobanana._transport.sse import aiter_sse_data, iter_sse_data
from langchain_nanobanana._transport.whole_body import acollect, collect
from langchain_nanobanana.errors import (
    OpenRouterAPIError,
    OpenRouterConnectionError,
    OpenRouterError,
    OpenRouterTimeoutError,
)

T = TypeVar("T")


@dataclass
class _Tries:
    """What one call's failed tries have used: retries, and 429s in a row (which use none
    while the key's shared limit is on: the call goes back in line instead)."""

    limits: CallLimits
    line: SharedLimit | None
    attempt: int = 0
    refusals: int = 0
    refusal: OpenRouterError | None = None
    """The last 429, kept on the error raised if the deadline runs out in line."""
    billed: bool = False
    """Whether an attempt may have been billed (see ``_billed``)."""


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


def sane_retry_after(error: OpenRouterError) -> float | None:
    """The server's wait when it is one to honour (at most a minute), else None."""
    wait = error.retry_after
    return wait if wait is not None and wait <= MAX_RETRY_AFTER_SECONDS else None


def requeue_seconds(refusals: int, retry_after: float | None) -> float:
    """How long a call answered 429 ``refusals`` times in a row sleeps before it gets
    back in line. With a Retry-After the key's pause does the waiting; a call refused
    again and again also backs off as a retry does, so a server that keeps answering
    ``Retry-After: 0`` is not hammered."""
    if retry_after is None:
        return backoff_seconds(refusals - 1, None)
    return 0.0 if refusals == 1 else backoff_seconds(refusals - 2, None)


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
            "User-Agent": user_agent(),
            **self.settings.extra_headers,
        }
        if body.get("stream"):
            headers["Accept"] = "text/event-stream"
        # Written to the socket in slices (a 4K edit's image is never copied whole), with
        # its Content-Length; each attempt writes it anew.
        json_body = JsonBody(body)
        headers["Content-Length"] = str(json_body.length)
        return client.build_request(
            "POST",
            self.settings.url(path),
            content=(
                json_body.achunks() if isinstance(client, httpx.AsyncClient) else json_body.chunks()
            ),
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

    def _shared_limit(self, api_key: str) -> SharedLimit | None:
        if self.settings.max_concurrency is None:
            return None
        return shared_limit(api_key, self.settings.base_url)

    def _ceiling(self) -> int:
        """The shared limit's ceiling; asked only when ``max_concurrency`` is set."""
        return self.settings.max_concurrency or 1

    def _requeue_delay(self, refusals: int, error: OpenRouterError, limits: CallLimits) -> float:
        """Seconds to sleep before a call answered 429 gets back in line, or ``error``
        raised when the deadline leaves no time for that."""
        delay = requeue_seconds(refusals, sane_retry_after(error))
        if not limits.allows_wait(delay):
            raise error
        logger.info("OpenRouter answered 429 (%d in a row); back in line", refusals)
        return delay

    def _wait_before_next(self, tries: _Tries, error: OpenRouterError, slot: Slot) -> float:
        """Give the slot back and say how long to sleep before the next try; raise ``error``
        when it is final. A 429 under the shared limit is no retry: back in line."""
        _billed(error, tries.billed)
        if tries.line is not None and error.status_code == 429:
            slot.refused(sane_retry_after(error))
            tries.refusal, tries.refusals = error, tries.refusals + 1
            return self._requeue_delay(tries.refusals, error, tries.limits)
        slot.release()
        delay = self._delay_or_raise(tries.attempt, error, tries.limits)
        tries.attempt += 1
        return delay

    def _record(
        self, response: httpx.Response, path: str, body: dict[str, Any], api_key: str
    ) -> None:
        settings = self.settings
        record(response, settings.record_to, settings.record_images, path, body, api_key)

    def _send(
        self,
        path: str,
        api_key: str,
        body: dict[str, Any],
        take: Callable[[httpx.Response, CallLimits], T],
        limits: CallLimits,
    ) -> tuple[T, Slot]:
        """POST until a 200 comes (or retrying is pointless), and ``take`` that answer;
        the caller gives the slot back once it has read the answer.

        ``take`` runs inside the retry: a connection that breaks while it reads a
        whole body is tried again, like one that breaks before the status.
        """
        client = self.client()
        tries = _Tries(limits, self._shared_limit(api_key))
        while True:
            slot = UNLIMITED
            try:
                limits.check_time()
                if tries.line is not None:
                    slot = tries.line.enter(limits, self._ceiling(), tries.refusal)
                request = self._request(client, path, api_key, body, limits)
                response = client.send(request, stream=True)
                self._record(response, path, body, api_key)
                if response.status_code == 200:
                    tries.billed = True
                    slot.succeeded()
                    return take(response, limits), slot
                with closing(response):
                    raw = error_body(within(response.iter_bytes(), limits))
                error = error_from_response(response.status_code, raw, response.headers)
            except httpx.RequestError as exc:
                tries.billed = tries.billed or _sent_whole(exc)
                error = _transport_error(exc, request.url, api_key)
            except BaseException as failed:  # the deadline, a cap, no time left in line
                slot.release()
                if isinstance(failed, OpenRouterError):
                    _billed(failed, tries.billed)
                raise
            _sleep(self._wait_before_next(tries, error, slot))

    async def _asend(
        self,
        path: str,
        api_key: str,
        body: dict[str, Any],
        take: Callable[[httpx.Response, CallLimits], Awaitable[T]],
        limits: CallLimits,
    ) -> tuple[T, Slot]:
        """Async twin of ``_send``."""
        client = self.async_client()
        tries = _Tries(limits, self._shared_limit(api_key))
        while True:
            slot = UNLIMITED
            try:
                limits.check_time()
                if tries.line is not None:
                    slot = await tries.line.aenter(limits, self._ceiling(), tries.refusal)
                request = self._request(client, path, api_key, body, limits)
                response = await client.send(request, stream=True)
                self._record(response, path, body, api_key)
                if response.status_code == 200:
                    tries.billed = True
                    slot.succeeded()
                    return await take(response, limits), slot
                async with aclosing(response):
                    raw = await aerror_body(awithin(response.aiter_bytes(), limits))
                error = error_from_response(response.status_code, raw, response.headers)
            except httpx.RequestError as exc:
                tries.billed = tries.billed or _sent_whole(exc)
                error = _transport_error(exc, request.url, api_key)
            except BaseException as failed:  # the deadline, a cap, no time left in line
                slot.release()
                if isinstance(failed, OpenRouterError):
                    _billed(failed, tries.billed)
                raise
            await _asleep(self._wait_before_next(tries, error, slot))

    # ------------------------------------------------------------ the two ways to call

    def post(
        self, path: str, api_key: str, body: dict[str, Any], limits: CallLimits | None = None
    ) -> bytearray:
        """POST and return the whole 200 body, retrying what may succeed on a retry.
        ``limits``: the call's, when the call began before this request (discovery)."""
        answer, slot = self._send(path, api_key, body, _read_whole, limits or self.limits())
        slot.release()
        return answer

    async def apost(
        self, path: str, api_key: str, body: dict[str, Any], limits: CallLimits | None = None
    ) -> bytearray:
        answer, slot = await self._asend(path, api_key, body, _aread_whole, limits or self.limits())
        slot.release()
        return answer

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
                return collect(within(inflated(response.iter_raw(), encoding), limits))
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
                return await acollect(awithin(raw, limits))
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
        response, slot = self._send(path, api_key, body, _keep_open, limits)
        with closing(response):
            try:
                limits.check_declared_size(response.headers)
                chunks = within(response.iter_bytes(), limits)
                if _is_event_stream(response):
                    yield from iter_sse_data(chunks)
                else:
                    yield bytes(collect(chunks))
            except httpx.RequestError as exc:
                raise _transport_error(exc, response.request.url, api_key) from exc
            finally:
                slot.release()  # the request is over for the key once its stream is

    async def astream(
        self, path: str, api_key: str, body: dict[str, Any], limits: CallLimits | None = None
    ) -> AsyncGenerator[bytes, None]:
        limits = limits or self.limits()
        response, slot = await self._asend(path, api_key, body, _akeep_open, limits)
        async with aclosing(response):
            try:
                limits.check_declared_size(response.headers)
                chunks = awithin(response.aiter_bytes(), limits)
                if _is_event_stream(response):
                    events = aiter_sse_data(chunks)
                    while True:
                        # Each payload is passed on unnamed: bound to a name here it would
                        # stay alive (a 30 MB image line) while the caller parses it.
                        try:
                            yield await anext(events)
                        except StopAsyncIteration:
                            break
                else:
                    yield bytes(await acollect(chunks))
            except httpx.RequestError as exc:
                raise _transport_error(exc, response.request.url, api_key) from exc
            finally:
                slot.release()


def _check_list_answer(response: httpx.Response, path: str, limits: CallLimits) -> None:
    if response.status_code != 200:
        raise OpenRouterAPIError(f"GET {path} answered {response.status_code}.")
    limits.check_declared_size(response.headers)


def _read_whole(response: httpx.Response, limits: CallLimits) -> bytearray:
    with closing(response):
        size = limits.check_declared_size(response.headers)
        return collect(within(response.iter_bytes(), limits), size)


async def _aread_whole(response: httpx.Response, limits: CallLimits) -> bytearray:
    async with aclosing(response):
        size = limits.check_declared_size(response.headers)
        return await acollect(awithin(response.aiter_bytes(), limits), size)


def _keep_open(response: httpx.Response, limits: CallLimits) -> httpx.Response:
    return response


async def _akeep_open(response: httpx.Response, limits: CallLimits) -> httpx.Response:
    return response


def _is_event_stream(response: httpx.Response) -> bool:
    # Media types are case-insensitive (RFC 9110): TEXT/EVENT-STREAM is one too.
    return "text/event-stream" in response.headers.get("content-type", "").lower()
