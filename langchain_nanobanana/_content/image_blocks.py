"""One parser for every image-block form the package accepts.

LangChain apps hold images in five shapes, and each reader of images (the
request mapping, ``images_from``, the tool, the middleware) must see all five
the same way, or an image slips through one of them (its base64 then stays in
agent state):

- v1 standard: ``{"type": "image", "base64": ..., "mime_type": ...}`` or ``"url": ...``
  (a ``data:`` URL counts as base64);
- legacy: ``{"type": "image", "source_type": "base64", "data": ..., "mime_type": ...}``;
- Anthropic: ``{"type": "image", "source": {"type": "base64", "media_type": ..., "data": ...}}``;
- OpenAI: ``{"type": "image_url", "image_url": {"url": ..., "detail": ...}}`` or a bare URL string;
- any of these wrapped as ``{"type": "non_standard", "value": {...}}``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from langchain_nanobanana._content.media import split_data_url


class UnusableImageBlockError(ValueError):
    """An image block that names no image we can send or read (no data, no URL)."""


@dataclass(frozen=True)
class ImageReference:
    """What an image block holds: inline base64, a URL, or a file id (exactly one)."""

    base64: str | None = None
    url: str | None = None
    file_id: str | None = None
    mime_type: str | None = None
    """As the block declared it; the bytes decide where they are checked."""
    detail: str | None = None
    id: str | None = None
    data_url: str | None = field(default=None, repr=False, compare=False)
    """The ``data:`` URL the base64 came in, when it came in one: a request sends it as
    it is rather than join the parts into a second copy."""


def string_at(container: Any, key: str) -> str | None:
    """``container[key]`` when the container is a dict and that a non-empty string."""
    value = container.get(key) if isinstance(container, dict) else None
    return value if isinstance(value, str) and value else None


def _from_url(url: str, **common: Any) -> ImageReference:
    parsed = split_data_url(url)
    if parsed is None:
        return ImageReference(url=url, **common)
    mime_type, data = parsed
    return ImageReference(base64=data, mime_type=mime_type, data_url=url, **common)


def _from_image_block(block: dict[str, Any]) -> ImageReference:
    extras = block.get("extras")
    common = {
        "detail": string_at(block, "detail") or string_at(extras, "detail"),
        "id": string_at(block, "id"),
    }
    source = block.get("source")
    if isinstance(source, dict):  # Anthropic
        if source.get("type") == "base64" and isinstance(source.get("data"), str):
            return ImageReference(
                base64=source["data"], mime_type=string_at(source, "media_type"), **common
            )
        if source.get("type") == "url" and isinstance(source.get("url"), str):
            return _from_url(source["url"], **common)
        raise UnusableImageBlockError("its 'source' has neither base64 data nor a url")
    mime_type = string_at(block, "mime_type")
    if block.get("source_type") == "base64" and isinstance(block.get("data"), str):  # legacy
        return ImageReference(base64=block["data"], mime_type=mime_type, **common)
    if isinstance(block.get("base64"), str):
        return ImageReference(base64=block["base64"], mime_type=mime_type, **common)
    if isinstance(block.get("url"), str):
        reference = _from_url(block["url"], **common)
        return reference if reference.mime_type else replace(reference, mime_type=mime_type)
    file_id = string_at(block, "file_id") or (
        string_at(block, "id") if block.get("source_type") == "id" else None
    )
    if file_id:
        return ImageReference(file_id=file_id, mime_type=mime_type, **common)
    raise UnusableImageBlockError("it has no 'base64', 'url' or 'source'")


def _from_image_url_block(block: dict[str, Any]) -> ImageReference:
    image_url = block.get("image_url")
    common = {"id": string_at(block, "id")}
    if isinstance(image_url, str):
        return _from_url(image_url, **common)
    if isinstance(image_url, dict) and isinstance(image_url.get("url"), str):
        return _from_url(image_url["url"], detail=string_at(image_url, "detail"), **common)
    raise UnusableImageBlockError("'image_url' must be a URL string or {'url': ...}")


def read_image_block(block: Any) -> ImageReference | None:
    """The image a content block holds, or None when it is no image block at all.

    Raises ``UnusableImageBlockError`` (a ValueError) for an image block that holds
    nothing usable, with the reason in its message.
    """
    if not isinstance(block, dict):
        return None
    kind = block.get("type")
    if kind == "image":
        return _from_image_block(block)
    if kind == "image_url":
        return _from_image_url_block(block)
    if kind == "non_standard" and isinstance(block.get("value"), dict):
        return read_image_block(block["value"])
    return None
