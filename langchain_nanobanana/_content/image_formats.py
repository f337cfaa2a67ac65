"""Image file formats: which a file name asks for, converting between them, and smaller
copies within a size bound. The one place that calls Pillow, which is optional.

Every decode goes through ``_decoded``, which refuses what Pillow's decompression-bomb
guard warns about as well as what it refuses: a 45-byte PNG can claim 100000x100000.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from langchain_nanobanana._content.media import ACCEPTED_IMAGE_TYPES, sniff_mime_type

if TYPE_CHECKING:
    from PIL.Image import Image as Picture

FORMATS = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
    ".gif": "image/gif",
}
"""File extensions an image may be written under, and the format each names."""
_EXTENSIONS = {
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/webp": ".webp",
    "image/gif": ".gif",
}
_PILLOW_NAMES = {"image/png": "PNG", "image/jpeg": "JPEG", "image/webp": "WEBP", "image/gif": "GIF"}
PILLOW_HINT = "pip install 'langchain-nanobanana[pillow]'"


def extension_for(mime_type: str) -> str:
    """``.png`` for ``image/png``; ``.bin`` for anything that is no image format we write."""
    return _EXTENSIONS.get(mime_type, ".bin")


def format_named_by(path: Path) -> str | None:
    """The format ``path``'s extension asks for: None when it has no extension.

    ValueError for an extension that names no image format we write."""
    if not path.suffix:
        return None
    mime_type = FORMATS.get(path.suffix.lower())
    if mime_type is None:
        raise ValueError(
            f"Cannot write an image as {path.suffix!r}; name the file .png, .jpg, .webp or .gif."
        )
    return mime_type


def pillow_installed() -> bool:
    try:
        import PIL.Image  # noqa: F401
    except ImportError:
        return False
    return True


class ConversionError(ValueError):
    """Bytes that cannot be turned into the format asked for; says why and what to do."""


def converted(data: bytes, mime_type: str, wanted: str | None) -> tuple[bytes, str]:
    """``data`` in the ``wanted`` format (Pillow converts), or as it is when that is the same.

    ConversionError when Pillow is missing or cannot decode the bytes."""
    if wanted is None or wanted == mime_type:
        return data, mime_type
    if not pillow_installed():
        raise ConversionError(
            f"Converting {_kind(mime_type)} to {_kind(wanted)} needs Pillow: {PILLOW_HINT}."
        )
    picture = _decoded(data)
    # JPEG has no alpha channel; a transparent picture becomes opaque.
    if wanted == "image/jpeg" and picture.mode != "RGB":
        picture = picture.convert("RGB")
    buffer = io.BytesIO()
    picture.save(buffer, format=_PILLOW_NAMES[wanted])
    return buffer.getvalue(), wanted


@dataclass(frozen=True)
class SizeBound:
    """How large a copy may be: its long side in pixels and its encoded bytes."""

    long_side: int
    max_bytes: int

    def holds(self, data: bytes, size: tuple[int, int] | None) -> bool:
        """Whether an image of these bytes and pixel size is already within the bound."""
        return size is not None and max(size) <= self.long_side and len(data) <= self.max_bytes


_QUALITIES = (85, 70, 55, 40)
_SHRINK_STEPS = 4


def downscaled(data: bytes, bound: SizeBound) -> bytes:
    """A JPEG copy of the image within ``bound``: the long side first, then lower quality,
    then smaller again until the bytes fit.

    ConversionError when Pillow is missing or cannot decode the bytes (or they are no
    PNG, JPEG, WebP or GIF at all)."""
    kind = sniff_mime_type(data[:16])
    if kind not in ACCEPTED_IMAGE_TYPES:
        raise ConversionError(f"its bytes are {kind or 'no image type we know'}, not an image")
    if not pillow_installed():
        raise ConversionError(f"making a smaller copy needs Pillow: {PILLOW_HINT}")
    picture = _decoded(data).convert("RGB")
    side = bound.long_side
    for _ in range(_SHRINK_STEPS):
        copy = picture.copy()
        copy.thumbnail((side, side))
        for quality in _QUALITIES:
            buffer = io.BytesIO()
            copy.save(buffer, format="JPEG", quality=quality)
            if buffer.tell() <= bound.max_bytes:
                return buffer.getvalue()
        side = max(1, side // 2)
    return buffer.getvalue()  # a picture of noise at a quarter of the side: as small as it gets


def _decoded(data: bytes) -> Picture:
    """The decoded picture; ConversionError for bytes Pillow cannot (or must not) decode."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            # Pillow only warns between its pixel limit and twice it: refuse those too.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as opened:
                opened.load()
                return (
                    opened.copy() if opened.mode in ("RGB", "RGBA", "L") else opened.convert("RGBA")
                )
    except (
        OSError,
        ValueError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
        SyntaxError,
    ) as error:
        raise ConversionError(f"Pillow cannot decode it ({type(error).__name__})") from None


def _kind(mime_type: str) -> str:
    return mime_type.split("/")[-1].upper()
