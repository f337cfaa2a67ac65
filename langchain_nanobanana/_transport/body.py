"""A JSON request body written to the socket in slices, never built whole.

An edit of a 4K image sends 34 MB of base64. ``json.dumps(body).encode()`` made two
more copies of it (the JSON text, then its bytes), and the request kept the bytes
until the answer had been read, beside the answer itself. Here the body is written
piece by piece: small values through ``json.dumps``, long strings and ``DataUrl``s
slice by slice (the bytes of a lent image are base64-encoded a slice at a time), so
no piece is larger than ``SLICE`` and the only whole copy of an image is the caller's.
The text is exactly what ``json.dumps(body, separators=(",", ":"))`` makes.

The length is counted first, so the request carries a Content-Length rather than
going chunked: that is how bodies always went (httpx's ``json=``, which the SDKs use,
does the same), so it is what OpenRouter is known to take; the emulator and some
proxies read only that; and h11 checks that exactly that many bytes are sent. A
``JsonBody`` can be written any number of times, so a retry sends the same body again.
"""

from __future__ import annotations

import binascii
import json
from collections.abc import AsyncIterator, Iterator
from json.encoder import encode_basestring_ascii
from typing import Any

from langchain_nanobanana._content.media import DataUrl

SLICE = 256 * 1024
"""The most characters of a long string escaped at once, and the size pieces are
gathered to before they are written."""
_BYTES_SLICE = SLICE // 4 * 3  # bytes whose base64 is SLICE characters
_SEPARATORS = (",", ":")

Piece = str | memoryview
"""JSON text, or a slice of bytes that goes as its base64 text."""


class JsonBody:
    """``body`` as JSON bytes, in pieces of about ``SLICE``; see the module docstring."""

    def __init__(self, body: dict[str, Any]) -> None:
        self.body = body
        # ensure_ascii text: one byte per character, so the text's length is the body's.
        self.length = sum(_length(piece) for piece in _pieces(body))

    def chunks(self) -> Iterator[bytes]:
        """The body's bytes, in order; a fresh iterator each call."""
        pending: list[str] = []
        size = 0
        for piece in _pieces(self.body):
            text = piece if isinstance(piece, str) else _base64(piece)
            pending.append(text)
            size += len(text)
            if size >= SLICE:
                yield "".join(pending).encode("ascii")
                pending, size = [], 0
        if pending:
            yield "".join(pending).encode("ascii")

    async def achunks(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks():
            yield chunk


def _pieces(value: Any) -> Iterator[Piece]:
    """The JSON text of ``value`` in pieces, none of them a whole long string."""
    if isinstance(value, DataUrl):
        yield '"'
        yield from _escaped(value.prefix)
        if isinstance(value.payload, str):
            yield from _escaped(value.payload)
        else:
            view = memoryview(value.payload)
            for start in range(0, len(view), _BYTES_SLICE):
                yield view[start : start + _BYTES_SLICE]
        yield '"'
    elif isinstance(value, str) and len(value) > SLICE:
        yield '"'
        yield from _escaped(value)
        yield '"'
    elif isinstance(value, dict):
        yield "{"
        for number, (key, item) in enumerate(value.items()):
            yield f"{',' if number else ''}{_key(key)}:"
            yield from _pieces(item)
        yield "}"
    elif isinstance(value, (list, tuple)):
        yield "["
        for number, item in enumerate(value):
            if number:
                yield ","
            yield from _pieces(item)
        yield "]"
    else:  # short strings, numbers, booleans, None; a TypeError for anything else, as json's
        yield json.dumps(value, separators=_SEPARATORS)


def _escaped(text: str) -> Iterator[str]:
    """``text`` escaped as inside a JSON string (no quotes), a slice at a time. Escapes
    are per character, so slicing never splits one."""
    for start in range(0, len(text), SLICE):
        yield encode_basestring_ascii(text[start : start + SLICE])[1:-1]


def _base64(data: memoryview) -> str:
    # Slices are whole 3-byte groups (but the last), so their texts join into the whole's.
    return binascii.b2a_base64(data, newline=False).decode("ascii")


def _length(piece: Piece) -> int:
    return len(piece) if isinstance(piece, str) else (len(piece) + 2) // 3 * 4


def _key(key: Any) -> str:
    """A key as json writes it: strings as they are; numbers, booleans and None as
    their JSON text; anything else is json's TypeError."""
    if not isinstance(key, str):
        if not isinstance(key, (int, float, bool)) and key is not None:
            raise TypeError(f"keys must be str, int, float, bool or None, not {type(key).__name__}")
        key = json.dumps(key)
    return encode_basestring_ascii(key)
