"""Images swapped for small placeholders of the same pixel size, in recorded JSON text.

A recording of a real exchange carries megabytes of base64 per image. Kept as text
for a bug report or a test fixture, each image becomes a flat grey PNG of the same
width and height (a few kilobytes): pixel-size checks still hold, the picture itself
is gone. Works on raw JSON or SSE text without re-encoding it, so everything around
the images stays byte for byte as it was.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
import struct
import zlib

from langchain_nanobanana._content.dimensions import image_dimensions

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_GREY = 0x80
# A data URL of an image, or an Image API "b64_json" value; base64 may arrive with
# JSON's optional escaping of "/".
_DATA_URL = re.compile(r"data:image/[A-Za-z0-9.+-]+;base64,([A-Za-z0-9+/=\\]+)")
_B64_JSON = re.compile(r'("b64_json"\s*:\s*")([A-Za-z0-9+/=\\]+)(")')


def _chunk(kind: bytes, data: bytes) -> bytes:
    checksum = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", checksum)


@functools.lru_cache(maxsize=32)
def placeholder_png(width: int, height: int) -> bytes:
    """A flat grey 8-bit RGB PNG of ``width`` x ``height``; compressed a row at a time, so
    a 4096x4096 one never holds its 50 MB of pixels at once."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    row = b"\0" + bytes([_GREY]) * (3 * width)
    compressor = zlib.compressobj(9)
    pixels = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    return b"".join(
        [_SIGNATURE, _chunk(b"IHDR", header), _chunk(b"IDAT", pixels), _chunk(b"IEND", b"")]
    )


def _placeholder_for(encoded: str) -> str | None:
    """The base64 of a same-size placeholder, or None when ``encoded`` is no image we can
    measure (kept as it is: an unreadable "image" may be the bug being reported)."""
    try:
        data = base64.b64decode(encoded.replace("\\/", "/"), validate=True)
    except (binascii.Error, ValueError):
        return None
    size = image_dimensions(data)
    if size is None:
        return None
    return base64.b64encode(placeholder_png(*size)).decode()


def shrink_images(text: str) -> str:
    """``text`` with every base64 image (data URLs, ``b64_json`` values) replaced by a flat
    PNG of the same pixel size; a data URL's media type becomes ``image/png`` with it."""

    def data_url(match: re.Match[str]) -> str:
        placeholder = _placeholder_for(match.group(1))
        return match.group(0) if placeholder is None else f"data:image/png;base64,{placeholder}"

    def b64_json(match: re.Match[str]) -> str:
        placeholder = _placeholder_for(match.group(2))
        return match.group(0) if placeholder is None else match.group(1) + placeholder + '"'

    return _B64_JSON.sub(b64_json, _DATA_URL.sub(data_url, text))
