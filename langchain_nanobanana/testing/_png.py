"""A minimal PNG writer and reader (stdlib only): 8-bit RGB, tEXt chunks, the IHDR size."""

from __future__ import annotations

import struct
import zlib

SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunk(kind: bytes, data: bytes) -> bytes:
    checksum = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", checksum)


def encode_png(
    width: int, height: int, scanlines: bytes, text: dict[str, str] | None = None
) -> bytes:
    """A PNG of ``height`` scanlines, each a filter byte (0) then ``width`` RGB pixels.

    ``text`` becomes tEXt chunks (Latin-1 keys and values), readable by ``png_text``.
    """
    if len(scanlines) != height * (1 + 3 * width):
        raise ValueError("scanlines must hold height rows of 1 + 3 * width bytes")
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunks = [SIGNATURE, _chunk(b"IHDR", header)]
    for key, value in (text or {}).items():
        chunks.append(
            _chunk(b"tEXt", key.encode("latin-1") + b"\0" + value.encode("latin-1", "replace"))
        )
    chunks.append(_chunk(b"IDAT", zlib.compress(scanlines, 6)))
    chunks.append(_chunk(b"IEND", b""))
    return b"".join(chunks)


def png_text(data: bytes) -> dict[str, str]:
    """The tEXt chunks of a PNG, as a dict (empty for anything that is not a PNG)."""
    if not data.startswith(SIGNATURE):
        return {}
    found: dict[str, str] = {}
    position = len(SIGNATURE)
    while position + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[position : position + 8])
        body = data[position + 8 : position + 8 + length]
        if kind == b"tEXt":
            key, _, value = body.partition(b"\0")
            found[key.decode("latin-1")] = value.decode("latin-1")
        if kind in (b"IDAT", b"IEND"):
            break  # our writer puts text before the pixels
        position += 12 + length
    return found
