"""Small real pictures for tests, drawn with Pillow, and the ways blocks carry them."""

from __future__ import annotations

import base64
import io
import sys
from typing import Any

from PIL import Image


def picture(
    color: str = "red", size: tuple[int, int] = (64, 48), image_format: str = "PNG"
) -> bytes:
    """A plain ``size`` picture of one ``color``, encoded as ``image_format``."""
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format=image_format)
    return buffer.getvalue()


def photo_in_every_block_form(photo: bytes) -> dict[str, dict[str, Any]]:
    """The same JPEG in every image-block form the package reads, by name."""
    encoded = base64.b64encode(photo).decode()
    data_url = f"data:image/jpeg;base64,{encoded}"
    return {
        "standard": {"type": "image", "base64": encoded, "mime_type": "image/jpeg"},
        "standard data url": {"type": "image", "url": data_url},
        "legacy source_type": {
            "type": "image",
            "source_type": "base64",
            "data": encoded,
            "mime_type": "image/jpeg",
        },
        "anthropic source": {
            "type": "image",
            "source": {"type": "base64", "media_type": "image/jpeg", "data": encoded},
        },
        "openai image_url": {"type": "image_url", "image_url": {"url": data_url}},
        "openai bare string": {"type": "image_url", "image_url": data_url},
        "non_standard wrapper": {
            "type": "non_standard",
            "value": {"type": "image_url", "image_url": {"url": data_url}},
        },
    }


def without_pillow(monkeypatch: Any) -> None:
    """Make ``import PIL`` fail in this process, as in an install without the extra
    (``None`` in ``sys.modules`` is how Python marks a module that must not import)."""
    for name in ("PIL", "PIL.Image"):
        monkeypatch.setitem(sys.modules, name, None)
