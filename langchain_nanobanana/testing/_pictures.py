"""What the emulator draws: cheap, deterministic pictures that differ per request.

A picture is a few horizontal bands of colour gradients derived from a seed
(the hash of model, prompt, seed and input images), so two requests that differ
in any of those get visibly different images, and the same request always gets
the same bytes. Rows are built a band at a time, not a pixel at a time, so a
4096x4096 image takes well under a second. With ``noise`` every other row is
seeded random bytes, which makes the PNG about as large as a real photo.
"""

from __future__ import annotations

import hashlib
import random

from langchain_nanobanana.testing._png import encode_png

_BANDS = 16


def _band_row(width: int, start: bytes, end: bytes) -> bytes:
    """One RGB row fading from colour ``start`` to colour ``end``."""
    span = max(width - 1, 1)
    row = bytearray(3 * width)
    for channel in range(3):
        low, high = start[channel], end[channel]
        row[channel::3] = bytes((low + (high - low) * x // span) & 0xFF for x in range(width))
    return bytes(row)


def draw(width: int, height: int, seed: bytes, *, noise: bool, text: dict[str, str]) -> bytes:
    """A PNG picture for ``seed`` at the given size, carrying ``text`` metadata."""
    palette = hashlib.sha256(seed).digest() + hashlib.sha256(seed + b"more").digest()
    colours = [palette[i : i + 3] for i in range(0, 60, 3)]  # 20 colours from the seed
    bands = [
        b"\0" + _band_row(width, colours[band % 20], colours[(band + 10) % 20])
        for band in range(_BANDS)
    ]
    band_height = -(-height // _BANDS)
    if not noise:
        scanlines = b"".join(bands[min(y // band_height, _BANDS - 1)] for y in range(height))
        return encode_png(width, height, scanlines, text)
    generator = random.Random(seed)  # noqa: S311 - test pictures, not secrets
    rows = []
    for y in range(height):
        if y % 2:
            rows.append(b"\0" + generator.randbytes(3 * width))
        else:
            rows.append(bands[min(y // band_height, _BANDS - 1)])
    return encode_png(width, height, b"".join(rows), text)
