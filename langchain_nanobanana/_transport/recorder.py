"""The recorder: each exchange with OpenRouter written to a folder as a replayable fixture.

With ``record_to=DIR`` (or ``NANOBANANA_RECORD=DIR``) every answer the transport receives
(successes, errors and retried attempts alike) is teed as its bytes arrive and, once the
response is closed, written as ``NAME.response.json`` or ``NAME.response.sse`` beside
``NAME.meta.json`` (the status, the request body, the response headers, where it came
from): the format ``FakeOpenRouter.replay`` answers from and the package's tests replay.
Names sort in the order the answers arrived.

Never written: the key (no request header is recorded, and the key's text is scrubbed
from everything written) and, unless ``record_images`` is set, the images: each becomes
a flat PNG of the same pixel size.
"""

from __future__ import annotations

import itertools
import json
import logging
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from langchain_nanobanana._content.placeholders import shrink_images
from langchain_nanobanana._transport.body import JsonBody
from langchain_nanobanana._transport.connection import user_agent

logger = logging.getLogger("langchain_nanobanana")

_NOT_RECORDED_HEADERS = frozenset({"set-cookie"})
_counter = itertools.count(1)
_counter_lock = threading.Lock()


@dataclass
class _Exchange:
    """One answer being recorded: the request it answers and the bytes seen so far."""

    folder: Path
    keep_images: bool
    path: str
    request: dict[str, Any]
    api_key: str
    status: int
    headers: httpx.Headers
    received: bytearray = field(default_factory=bytearray)
    written: bool = False

    def add(self, chunk: bytes) -> None:
        self.received += chunk

    def done(self) -> None:
        """Write the fixture, once; a failure to write is logged, never raised into the call."""
        if self.written:
            return
        self.written = True
        try:
            self._write()
        except OSError as problem:
            logger.warning("Could not record an OpenRouter answer in %s: %s", self.folder, problem)

    def _scrubbed(self, text: str) -> str:
        text = text if self.keep_images else shrink_images(text)
        return text.replace(self.api_key, "***") if self.api_key else text

    def _request_text(self) -> str:
        """The request body as it went on the wire (lent images written as their base64)."""
        return b"".join(JsonBody(self.request).chunks()).decode("ascii")

    def _body(self) -> bytes:
        """The body as the client reads it: any content encoding undone."""
        raw = bytes(self.received)
        if not self.headers.get("content-encoding"):
            return raw
        try:
            return httpx.Response(self.status, headers=self.headers, content=raw).content
        except httpx.DecodingError:
            return raw  # cut short mid-stream: kept as it came

    def _write(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        streamed = "text/event-stream" in self.headers.get("content-type", "").lower()
        endpoint = self.path.strip("/")
        meta: dict[str, Any] = {
            "status": self.status,
            "request": json.loads(self._scrubbed(self._request_text())),
            "headers": {
                name: value
                for name, value in self.headers.items()
                if name.lower() not in _NOT_RECORDED_HEADERS
            },
            "source": (
                f"RECORDED: {user_agent()} recorder, "
                f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}, POST {endpoint}"
            ),
            "endpoint": endpoint,
            "images": "kept" if self.keep_images else "same-size placeholders",
        }
        if self.request.get("stream") is True:
            meta["modes"] = ["stream"]
        if endpoint == "images":
            meta["kwargs"] = {"endpoint": "images"}
        body = self._scrubbed(self._body().decode("utf-8", "surrogateescape"))
        stem = self._claim(endpoint.replace("/", "-"))
        stem.with_name(stem.name + (".response.sse" if streamed else ".response.json")).write_bytes(
            body.encode("utf-8", "surrogateescape")
        )
        stem.with_name(stem.name + ".meta.json").write_text(json.dumps(meta, indent=1) + "\n")

    def _claim(self, route: str) -> Path:
        """A name no other recording (in this process or another) has taken."""
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
        while True:
            with _counter_lock:
                number = next(_counter)
            stem = self.folder / f"{stamp}-{number:04d}_{route}_{self.status}"
            try:
                stem.with_name(stem.name + ".meta.json").open("x").close()
            except FileExistsError:
                continue
            return stem


class _Tee(httpx.SyncByteStream):
    def __init__(self, inner: httpx.SyncByteStream, exchange: _Exchange) -> None:
        self._inner, self._exchange = inner, exchange

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._inner:
            self._exchange.add(chunk)
            yield chunk

    def close(self) -> None:
        try:
            self._inner.close()
        finally:
            self._exchange.done()


class _AsyncTee(httpx.AsyncByteStream):
    def __init__(self, inner: httpx.AsyncByteStream, exchange: _Exchange) -> None:
        self._inner, self._exchange = inner, exchange

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            self._exchange.add(chunk)
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        finally:
            self._exchange.done()


def record(
    response: httpx.Response,
    folder: str | None,
    keep_images: bool,
    path: str,
    body: dict[str, Any],
    api_key: str,
) -> None:
    """Tee ``response`` (not read yet) into a fixture in ``folder``; nothing when unset."""
    if not folder:  # None, or NANOBANANA_RECORD set to nothing
        return
    exchange = _Exchange(
        Path(folder), keep_images, path, body, api_key, response.status_code, response.headers
    )
    stream = response.stream
    if isinstance(stream, httpx.AsyncByteStream):
        response.stream = _AsyncTee(stream, exchange)
    elif isinstance(stream, httpx.SyncByteStream):
        response.stream = _Tee(stream, exchange)
