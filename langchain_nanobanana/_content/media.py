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
MAX_REQUEST_MEDIA_BYTES = 64 * 1024 * 1024
"""All images and files of one request together: two at the per-image limit. Past
it the request body alone (built as JSON text, then bytes) would take gigabytes."""
_BASE64_SLICE = 4 * 1024 * 1024
"""Base64 is checked this many characters at a time, so checking a 30 MB answer
never copies more than 4 MB of it."""
_BASE64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="

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


def is_base64(data: str) -> bool:
    """Whether ``data`` is strict, padded base64 (what data URLs carry).

    Checked with two C-speed passes (an alphabet filter and a search for early
    padding) instead of decoding: a 4K answer's image is 30 MB of base64, and a
    decode would cost as much as the rest of the call.
    """
    if len(data) % 4 or not data.isascii():
        return False
    padding = 2 if data.endswith("==") else 1 if data.endswith("=") else 0
    if data.find("=", 0, len(data) - padding) != -1:
        return False
    return not any(
        data[start : start + _BASE64_SLICE].encode("ascii").translate(None, _BASE64_ALPHABET)
        for start in range(0, len(data), _BASE64_SLICE)
    )


def image_type_of(data: str) -> str | None:
    """The image type base64 text holds by its bytes (PNG, JPEG, WebP, GIF), or None
    when it is not valid base64 or not one of those, whatever it was labelled."""
    mime_type = sniff_base64_mime_type(data)
    if mime_type not in ACCEPTED_IMAGE_TYPES or not is_base64(data):
        return None
    return mime_type


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

    The bytes decide, never the label: a PNG labelled image/jpeg goes out as
    image/png, and text or a program labelled image/png is refused. Raises
    ValueError, before any upload, for bytes that are not an image type OpenRouter
    accepts, text that is not base64, or an image over its 30 MB limit.
    """
    mime_type = image_type_of(data)
    if mime_type is None:
        sniffed = sniff_base64_mime_type(data)
        if sniffed in ACCEPTED_IMAGE_TYPES:
            problem = "its base64 text is damaged (not strict, padded base64)"
        else:
            label = f", labelled {declared_mime_type}," if declared_mime_type else ""
            problem = f"its bytes{label} are {sniffed or 'no image type we know'}"
        msg = (
            f"Cannot send this image: {problem}. OpenRouter accepts "
            f"{', '.join(ACCEPTED_IMAGE_TYPES)}: convert it to PNG or JPEG first."
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


def check_request_media_size(total: int) -> None:
    """Refuse a request whose inline media (``total`` bytes) together exceed the cap."""
    if total > MAX_REQUEST_MEDIA_BYTES:
        msg = (
            f"Cannot send these attachments: together they are {total / 1024 / 1024:.0f} MB, "
            f"over the {MAX_REQUEST_MEDIA_BYTES // 1024 // 1024} MB one request may carry. "
            "Send fewer images, or downscale them (JPEG) first."
        )
        raise ValueError(msg)
