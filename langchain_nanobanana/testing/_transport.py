"""httpx transports that hand requests to the emulator in process (no sockets)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator

import httpx

from langchain_nanobanana.testing._app import EmulatedOpenRouter, Reply


def _pieces(reply: Reply) -> tuple[list[bytes], bool]:
    """What to send, and whether the connection breaks after it."""
    if reply.events is not None:
        if reply.drop_after is None:
            return reply.events, False
        return reply.events[: reply.drop_after], True
    if reply.drop_after is None:
        return [reply.body], False
    return [reply.body[: reply.drop_after]], True


def _dropped() -> httpx.RemoteProtocolError:
    return httpx.RemoteProtocolError("peer closed connection without sending complete message body")


class _ReplyStream(httpx.SyncByteStream):
    def __init__(self, reply: Reply) -> None:
        self._pieces, self._breaks = _pieces(reply)

    def __iter__(self) -> Iterator[bytes]:
        yield from self._pieces
        if self._breaks:
            raise _dropped()


class _AsyncReplyStream(httpx.AsyncByteStream):
    def __init__(self, reply: Reply) -> None:
        self._pieces, self._breaks = _pieces(reply)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for piece in self._pieces:
            yield piece
        if self._breaks:
            raise _dropped()


def _response(
    reply: Reply, request: httpx.Request, stream: httpx.SyncByteStream | httpx.AsyncByteStream
) -> httpx.Response:
    headers = {"content-type": reply.content_type, **reply.headers}
    return httpx.Response(reply.status, headers=headers, stream=stream, request=request)


def _handle(app: EmulatedOpenRouter, request: httpx.Request, raw: bytes) -> Reply:
    target = request.url.raw_path.decode("ascii")
    return app.handle(request.method, target, dict(request.headers), raw)


class EmulatorTransport(httpx.BaseTransport):
    def __init__(self, app: EmulatedOpenRouter) -> None:
        self._app = app

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        reply = _handle(self._app, request, request.read())
        try:
            if reply.delay:
                time.sleep(reply.delay)
        finally:
            if reply.finished is not None:
                reply.finished()
        return _response(reply, request, _ReplyStream(reply))


class AsyncEmulatorTransport(httpx.AsyncBaseTransport):
    def __init__(self, app: EmulatedOpenRouter) -> None:
        self._app = app

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        reply = _handle(self._app, request, await request.aread())
        try:
            if reply.delay:
                await asyncio.sleep(reply.delay)
        finally:
            if reply.finished is not None:
                reply.finished()
        return _response(reply, request, _AsyncReplyStream(reply))
