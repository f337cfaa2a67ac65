"""Small facts about media payloads: sniffing a mime type, data URLs, size limits.

Sniffing decodes only the first few bytes of a base64 string, so checking a
30 MB upload costs nothing measurable.
"""

from __future__ import annotations

import base64
import binascii
import re
import sys
from dataclasses import dataclass

ACCEPTED_IMAGE_TYPES = ("image/png", "image/jpeg", "image/webp", "image/gif")
MAX_IMAGE_BYTES = 30 * 1024 * 1024
"""OpenRouter refuses a fetched image over 30 MB (413); we refuse it before upload."""
MAX_REQUEST_MEDIA_BYTES = 64 * 1024 * 1024
"""All images and files of one request together: two at the per-image limit. Past
it the request body alone (built as JSON text, then bytes) would take gigabytes."""
_BASE64_SLICE = 256 * 1024
"""Base64 is checked this many characters at a time, so checking a 30 MB answer
never copies more than a quarter of a megabyte of it (it is checked while the
answer's JSON text is still held: every copy then adds to the call's peak)."""
_STRICT_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")
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
    """Bytes that base64 text decodes to, without decoding it (or copying it)."""
    tail = data[-8:]
    padding = len(tail) - len(tail.rstrip("="))
    if padding == len(tail):  # all padding at the end: rare, and only bad text
        padding = len(data) - len(data.rstrip("="))
    return (len(data) - padding) * 3 // 4


def decode_base64(data: str) -> bytes:
    """The bytes strict, padded base64 text holds; ValueError (binascii.Error) for any
    other text.

    ``base64.b64decode`` first copies text to ASCII bytes: for a 4K image that is 34 MB
    more at the moment the decoded 25 MB are made. ``binascii`` reads ASCII text in
    place, so only the decoded bytes are new.
    """
    if sys.version_info >= (3, 11):
        return binascii.a2b_base64(data, strict_mode=True)
    if not data.isascii() or not _STRICT_BASE64.fullmatch(data):
        raise binascii.Error("Non-base64 digit found")
    return binascii.a2b_base64(data)


def data_url(mime_type: str, data: str) -> str:
    """``data:<mime>;base64,<data>``."""
    return f"data:{mime_type};base64,{data}"


@dataclass(frozen=True, eq=False)
class DataUrl:
    """A ``data:`` URL kept as its parts, for request bodies.

    Joined, the URL would be a second copy of the base64 text (34 MB for a 4K image)
    beside the one the message holds; the request body writer (``_transport.body``)
    writes the parts one after the other instead. ``payload`` is the base64 text, or
    the bytes themselves, then encoded slice by slice as they are written. It equals
    the string it stands for.
    """

    mime_type: str
    payload: str | bytes

    @property
    def prefix(self) -> str:
        return f"data:{self.mime_type};base64,"

    def __str__(self) -> str:
        payload = self.payload
        encoded = payload if isinstance(payload, str) else base64.b64encode(payload).decode()
        return data_url(self.mime_type, encoded)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, DataUrl):
            return str(self) == str(other)
        if not isinstance(other, str):
            return NotImplemented
        if not isinstance(self.payload, str):
            return str(self) == other
        prefix = self.prefix  # compared in place: no joined copy of the text is made
        return (
            len(other) == len(prefix) + len(self.payload)
            and other.startswith(prefix)
            and other.startswith(self.payload, len(prefix))
        )

    def __hash__(self) -> int:
        return hash(str(self))  # equal to its string, so hashed like it


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
            problem = _not_an_image(sniffed, declared_mime_type)
        raise _unsendable(problem)
    _check_image_size(decoded_size(data))
    return mime_type


def check_image_bytes(data: bytes, declared_mime_type: str | None) -> str:
    """``check_image_payload`` for an image held as bytes: the mime type to send, or
    ValueError for bytes that are no image OpenRouter accepts or are over its limit."""
    mime_type = sniff_mime_type(data[:16])
    if mime_type not in ACCEPTED_IMAGE_TYPES:
        raise _unsendable(_not_an_image(mime_type, declared_mime_type))
    _check_image_size(len(data))
    return mime_type


def _not_an_image(sniffed: str | None, declared_mime_type: str | None) -> str:
    label = f", labelled {declared_mime_type}," if declared_mime_type else ""
    return f"its bytes{label} are {sniffed or 'no image type we know'}"


def _unsendable(problem: str) -> ValueError:
    return ValueError(
        f"Cannot send this image: {problem}. OpenRouter accepts "
        f"{', '.join(ACCEPTED_IMAGE_TYPES)}: convert it to PNG or JPEG first."
    )


def _check_image_size(size: int) -> None:
    if size > MAX_IMAGE_BYTES:
        msg = (
            f"Cannot send this image: it is {size / 1024 / 1024:.1f} MB and OpenRouter "
            "refuses images over 30 MB. Downscale or re-encode it (JPEG) first."
        )
        raise ValueError(msg)


def check_request_media_size(total: int) -> None:
    """Refuse a request whose inline media (``total`` bytes) together exceed the cap."""
    if total > MAX_REQUEST_MEDIA_BYTES:
        msg = (
            f"Cannot send these attachments: together they are {total / 1024 / 1024:.0f} MB, "
            f"over the {MAX_REQUEST_MEDIA_BYTES // 1024 // 1024} MB one request may carry. "
            "Send fewer images, or downscale them (JPEG) first."
        )
        raise ValueError(msg)
