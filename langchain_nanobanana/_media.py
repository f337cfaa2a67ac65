"""Small facts about media payloads: sniffing a mime type, data URLs, size limits.

Sniffing decodes only the first few bytes of a base64 string, so checking a
30 MB upload costs nothing measurable.
"""

from __future__ import annotations

import base64
import binascii

ACCEPTED_IMAGE_TYPES = ("image/png", "image/jpeg", "image/webp", "image/gif")
MAX_IMAGE_BYTES = 30 * 1024 * 1024
"""OpenRouter refuses a fetched image over 30 MB (413); we refuse it before upload."""

_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"%PDF-", "application/pdf"),
)


def sniff_mime_type(head: bytes) -> str | None:
    """Mime type told by the leading bytes, or None when they match nothing we know."""
    for signature, mime_type in _SIGNATURES:
        if head.startswith(signature):
            return mime_type
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def sniff_base64_mime_type(data: str) -> str | None:
    """Like ``sniff_mime_type`` for base64 text, decoding only its first 16 characters."""
    try:
        head = base64.b64decode(data[:16], validate=False)
    except (binascii.Error, ValueError):
        return None
    return sniff_mime_type(head)


def decoded_size(data: str) -> int:
    """Bytes that base64 text decodes to, without decoding it."""
    stripped = data.rstrip("=")
    return len(stripped) * 3 // 4


def data_url(mime_type: str, data: str) -> str:
    """``data:<mime>;base64,<data>``."""
    return f"data:{mime_type};base64,{data}"


def split_data_url(url: str) -> tuple[str, str] | None:
    """``(mime_type, base64)`` of a base64 data URL, or None for any other URL."""
    if not url.startswith("data:"):
        return None
    header, sep, payload = url.partition(",")
    if not sep or not header.endswith(";base64"):
        return None
    return header[len("data:") : -len(";base64")] or "application/octet-stream", payload


def check_image_payload(data: str, declared_mime_type: str | None) -> str:
    """The mime type to send for a base64 image, after checking it can be sent.

    The bytes decide: a PNG labelled image/jpeg goes out as image/png. Raises
    ValueError, before any upload, for a type OpenRouter refuses or an image over
    its 30 MB limit.
    """
    mime_type = sniff_base64_mime_type(data) or declared_mime_type
    if mime_type not in ACCEPTED_IMAGE_TYPES:
        shown = mime_type or "unrecognised bytes"
        msg = (
            f"Cannot send this image: {shown} is not an image type OpenRouter "
            f"accepts ({', '.join(ACCEPTED_IMAGE_TYPES)}). Convert it to PNG or JPEG first."
        )
        raise ValueError(msg)
    size = decoded_size(data)
    if size > MAX_IMAGE_BYTES:
        msg = (
            f"Cannot send this image: it is {size / 1024 / 1024:.1f} MB and OpenRouter "
            "refuses images over 30 MB. Downscale or re-encode it (JPEG) first."
        )
        raise ValueError(msg)
    return mime_type
