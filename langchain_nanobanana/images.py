"""Images out of messages, for chains, notebooks and apps.

    from langchain_nanobanana.images import images_from

    chain = prompt | ChatNanoBanana() | images_from     # -> list[GeneratedImage]
    image = chain.invoke({"dish": "banana"})[0]
    image.save("dish.png"); image.size; image.data_url
    image                                                # shows inline in Jupyter

``images_from`` reads AIMessages (content blocks), ToolMessages from the image tool
(content and artifact), and plain lists of blocks.
"""

from __future__ import annotations

import base64
import binascii
import html
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from langchain_core.messages import BaseMessage, ToolMessage

from langchain_nanobanana._content.dimensions import image_dimensions
from langchain_nanobanana._content.image_blocks import UnusableImageBlockError, read_image_block
from langchain_nanobanana._content.image_formats import converted, extension_for, format_named_by
from langchain_nanobanana._content.media import data_url, decode_base64, sniff_mime_type

_UNSAFE_NAME_CHARACTERS = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass(frozen=True)
class GeneratedImage:
    """One image: its bytes, mime type and, when it has one, its id or handle."""

    data: bytes = field(repr=False)
    mime_type: str
    id: str | None = None
    encoded: str | None = field(default=None, repr=False, compare=False)
    """The base64 text the image arrived as, if it did: reused, never encoded again."""

    @classmethod
    def from_bytes(cls, data: bytes, id: str | None = None) -> GeneratedImage:
        """Wrap bytes, telling the mime type from the bytes themselves."""
        return cls(data, sniff_mime_type(data[:16]) or "application/octet-stream", id)

    @property
    def size(self) -> tuple[int, int] | None:
        """``(width, height)`` in pixels, or None for bytes we cannot read."""
        return image_dimensions(self.data)

    @property
    def width(self) -> int | None:
        return self.size[0] if self.size else None

    @property
    def height(self) -> int | None:
        return self.size[1] if self.size else None

    @property
    def base64(self) -> str:
        return self.encoded if self.encoded is not None else base64.b64encode(self.data).decode()

    @property
    def data_url(self) -> str:
        """``data:image/png;base64,...``, for HTML or an OpenAI-style ``image_url``."""
        return data_url(self.mime_type, self.base64)

    @property
    def extension(self) -> str:
        return extension_for(self.mime_type)

    def save(self, path: str | Path) -> Path:
        """Write the image to ``path`` in the format its extension names (``.png``,
        ``.jpg``/``.jpeg``, ``.webp``, ``.gif``; none: the image's own); a folder gets a
        file named after the id, in the image's own format.

        Another format than the image's own is converted with Pillow
        (``pip install 'langchain-nanobanana[pillow]'``); without it, or for an
        extension that names no image format, ValueError says so and nothing is
        written. The id may come from a server, so only its safe characters make a
        file name (``../x`` becomes ``x``): the file always lands inside the folder.
        """
        target = Path(path)
        if target.is_dir():
            target, data = target / f"{_file_stem(self.id)}{self.extension}", self.data
        else:
            data, _ = converted(self.data, self.mime_type, format_named_by(target))
        target.write_bytes(data)
        return target

    def describe(self) -> str:
        """``img_1a2b3c4d... (1024x768 JPEG)``: the id, pixel size and kind, for a sentence."""
        kind = self.mime_type.split("/")[-1].upper()
        size = self.size
        pixels = f"{size[0]}x{size[1]} " if size else ""
        return f"{self.id} ({pixels}{kind})"

    def with_id(self, id: str) -> GeneratedImage:
        """The same image under another id (a handle, say), keeping its base64 text."""
        return replace(self, id=id)

    def to_block(self) -> dict[str, Any]:
        """The standard LangChain image block for this image."""
        block: dict[str, Any] = {
            "type": "image",
            "base64": self.base64,
            "mime_type": self.mime_type,
        }
        if self.id:
            block["id"] = self.id
        return block

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        """Jupyter shows the picture itself, not a repr."""
        if self.mime_type in ("image/png", "image/jpeg"):
            return {self.mime_type: self.data, "text/plain": repr(self)}
        # The mime type may be anything a block said: escaped, it cannot close the
        # attribute and add an onerror= handler.
        return {"text/html": f'<img src="{html.escape(self.data_url)}"/>', "text/plain": repr(self)}


def _file_stem(id: str | None) -> str:
    """A file name from an id: letters, digits, ``_``, ``-`` and inner dots only."""
    stem = _UNSAFE_NAME_CHARACTERS.sub("_", id or "").strip("._")
    return stem[:100] or "image"


def _from_block(block: Any) -> GeneratedImage | None:
    """The image a block holds with its bytes, in any form ``_image_blocks`` reads."""
    try:
        reference = read_image_block(block)
    except UnusableImageBlockError:
        return None
    if reference is None or reference.base64 is None:
        return None
    try:
        data = decode_base64(reference.base64)  # no copy of the text on the way
    except (binascii.Error, ValueError):
        named = f" {reference.id!r}" if reference.id else ""
        raise ValueError(
            f"The image block{named} holds damaged base64 text: no image in it."
        ) from None
    mime_type = reference.mime_type or sniff_mime_type(data[:16]) or "image/png"
    return GeneratedImage(data, mime_type, reference.id, encoded=reference.base64)


def _blocks_of(source: Any) -> Iterable[Any]:
    if isinstance(source, ToolMessage):
        yield from _blocks_of(source.artifact)
        if source.artifact is None:
            yield from _blocks_of(source.content)
    elif isinstance(source, BaseMessage):
        yield from _blocks_of(source.content)
    elif isinstance(source, dict):
        yield source
    elif isinstance(source, (list, tuple)):
        for item in source:
            yield from _blocks_of(item)


def images_from(source: Any) -> list[GeneratedImage]:
    """Every image with its bytes in a message, a tool result or a list of blocks.

    Every image-block form LangChain apps use is read (standard, legacy
    ``source_type``, Anthropic ``source``, OpenAI ``image_url``, data URLs). Image
    blocks that only hold a URL or a file id are not fetched and not returned.
    Raises ValueError for a block whose base64 text is damaged.
    """
    return [image for image in map(_from_block, _blocks_of(source)) if image is not None]


def redact_images(value: Any) -> Any:
    """``value`` with each image block holding bytes replaced by a small placeholder.

    Works on messages, lists and dicts (a tracer's inputs or outputs), so it can
    also serve as a LangSmith ``hide_inputs``/``hide_outputs`` function. The
    placeholder keeps the id (the handle, where there is one), mime type and
    byte count, and says what was left out. An image URL keeps its address but not
    its query, which for a signed URL is the credential.
    """
    if isinstance(value, BaseMessage):
        if isinstance(value.content, str):
            return value
        return value.model_copy(update={"content": redact_images(value.content)})
    if isinstance(value, list):
        return [redact_images(item) for item in value]
    if isinstance(value, tuple):
        return tuple(redact_images(item) for item in value)
    if isinstance(value, dict):
        placeholder = _placeholder(value)
        if placeholder is not None:
            return placeholder
        return {key: redact_images(item) for key, item in value.items()}
    return value


def _placeholder(block: dict[str, Any]) -> dict[str, Any] | None:
    try:
        reference = read_image_block(block)
    except (UnusableImageBlockError, ValueError, TypeError):
        return None
    if reference is None:
        return None
    if reference.base64 is None:
        return _without_signature(block, reference.url)
    extras = block.get("extras")
    if not isinstance(extras, dict):
        extras = {}
    return {
        "type": "image",
        "file_id": reference.id or block.get("id") or "inline image",
        "mime_type": reference.mime_type,
        "extras": {
            **{key: extras[key] for key in ("width", "height") if key in extras},
            "bytes": _decoded_length(reference.base64),
            "omitted": "image bytes are left out of traces",
        },
    }


def _without_signature(block: dict[str, Any], url: str | None) -> dict[str, Any] | None:
    """A URL image block with its query left out: a signed URL's query is a credential
    (anyone holding it can load the image until it expires). Other blocks stay."""
    if url is None or "?" not in url:
        return None
    shown = url.split("?", 1)[0] + "?(signature left out of traces)"
    if block.get("type") == "image_url":
        inner = block.get("image_url")
        return {**block, "image_url": {**inner, "url": shown} if isinstance(inner, dict) else shown}
    if block.get("type") == "image":
        return {**block, "url": shown}
    return None


def _decoded_length(encoded: str) -> int:
    """The byte count, from the text's length: a trace never pays for decoding."""
    return len(encoded) * 3 // 4 - encoded[-2:].count("=")
