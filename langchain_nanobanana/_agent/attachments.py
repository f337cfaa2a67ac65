"""Photos users attach: stored by handle, named by a line of text, shown again on demand.

A user message that carries images is swapped for one whose images are lines
such as ``[attached image img_1a2b... (1024x768 JPEG)]``, and the bytes go into
an ``ImageStore``: the agent can pass the handle to the image tool, and no
base64 stays in the agent state from then on (checkpoints LangGraph wrote before
the swap still hold it; see the middleware). ``with_pictures`` puts the
images back next to their lines for a request to a multimodal model, without
changing what is stored. The line's format is defined here and only here.

What the agent model is shown is an ``AgentView`` of the photo: by default a copy
whose long side is at most 1024 px and whose bytes are at most 200,000 (about
270,000 characters of base64), under what the common agent models take and
resize to (Claude scales past 1568 px and refuses past 5 MB an image; OpenAI's high
detail fits 2048 px, then 768 px on the short side), and billed again on every turn.
The stored photo stays whole, for edits. Making the copy needs Pillow; without it a
photo over the bound is shown as its line only.

Nothing here may end a thread: an image whose data does not decode is kept as
a line of text that says so, and an image whose bytes are gone (a restart with
an in-memory store, deleted, expired) is shown as
``[image img_... is no longer available]``.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, TypeVar

from langchain_core.messages import BaseMessage, HumanMessage

from langchain_nanobanana._content.image_blocks import UnusableImageBlockError, read_image_block
from langchain_nanobanana._content.image_formats import ConversionError, SizeBound, downscaled
from langchain_nanobanana._content.text import shorten
from langchain_nanobanana.images import GeneratedImage, images_from
from langchain_nanobanana.stores import HANDLE_PATTERN, ImageStore

HANDLES_KEY = "nanobanana_handles"
"""``additional_kwargs`` key listing the handles of a message's attached images."""
_LINE = re.compile(rf"\[attached image ({HANDLE_PATTERN.pattern})\b")

MessageT = TypeVar("MessageT", bound=BaseMessage)


def has_unregistered_images(message: BaseMessage) -> bool:
    """A user message with image data in it that ``register`` has not yet swapped out.

    Read from the blocks' form alone: the base64 is decoded once, by ``register``
    (damaged data included, which it keeps as a note)."""
    if not isinstance(message, HumanMessage) or HANDLES_KEY in message.additional_kwargs:
        return False
    content = [message.content] if isinstance(message.content, str) else message.content
    return any(_holds_image_data(block) for block in content)


def _holds_image_data(block: Any) -> bool:
    try:
        reference = read_image_block(block)
    except UnusableImageBlockError:
        return False
    return reference is not None and reference.base64 is not None


def attachment_line(image: GeneratedImage) -> dict[str, Any]:
    """The text block that names a stored photo: ``[attached image img_... (1024x768 JPEG)]``."""
    return {"type": "text", "text": f"[attached image {image.describe()}]"}


@dataclass(frozen=True)
class _Unreadable:
    reason: str


class _Registration:
    """What becomes of each block of one user message as its photos are stored: the
    block itself, a handle, or why its image cannot be kept."""

    def __init__(self, message: HumanMessage) -> None:
        self.original = message
        content = [message.content] if isinstance(message.content, str) else message.content
        self.blocks: list[Any] = []
        for block in content:
            try:
                attached = images_from([block])
            except ValueError as error:
                self.blocks.append(_Unreadable(str(error)))
                continue
            if attached:
                self.blocks.append(attached[0])
            else:
                self.blocks.append(
                    {"type": "text", "text": block} if isinstance(block, str) else block
                )
        self.handles: dict[int, str] = {}

    def photos(self) -> list[tuple[int, GeneratedImage]]:
        """The decoded photos still to store, by position."""
        return [
            (i, block) for i, block in enumerate(self.blocks) if isinstance(block, GeneratedImage)
        ]

    def stored(self, position: int, handle: str) -> None:
        self.handles[position] = handle

    def refused(self, position: int, error: ValueError) -> None:
        """Bytes that are no image the store keeps (HTML or SVG labelled as one)."""
        self.blocks[position] = _Unreadable(str(error))

    def message(self) -> HumanMessage:
        """The message rebuilt: a line per stored photo, a note per unreadable one."""
        content: list[Any] = []
        for position, block in enumerate(self.blocks):
            if isinstance(block, _Unreadable):
                note = (
                    "[an attached image could not be read and was left out: "
                    f"{shorten(block.reason, 120)}]"
                )
                content.append({"type": "text", "text": note})
            elif isinstance(block, GeneratedImage):
                handle = self.handles[position]
                content.append(attachment_line(GeneratedImage.from_bytes(block.data, handle)))
            else:
                content.append(block)
        kwargs = {**self.original.additional_kwargs, HANDLES_KEY: list(self.handles.values())}
        return self.original.model_copy(update={"content": content, "additional_kwargs": kwargs})


def register(message: HumanMessage, images: ImageStore) -> HumanMessage:
    """The message with each attached image stored in ``images`` and named by its line.

    The handles are also listed in ``additional_kwargs["nanobanana_handles"]``. Bytes
    that are no image the store keeps (HTML or SVG labelled as one) become a note.
    """
    registration = _Registration(message)
    for position, photo in registration.photos():
        try:
            handle = images.put(photo.data, photo.mime_type, origin="attachment")
        except ValueError as error:
            registration.refused(position, error)
        else:
            registration.stored(position, handle)
    return registration.message()


async def aregister(message: HumanMessage, images: ImageStore) -> HumanMessage:
    """``register`` with the store's async methods."""
    registration = _Registration(message)
    for position, photo in registration.photos():
        try:
            handle = await images.aput(photo.data, photo.mime_type, origin="attachment")
        except ValueError as error:
            registration.refused(position, error)
        else:
            registration.stored(position, handle)
    return registration.message()


def _shown_handles(message: BaseMessage) -> list[tuple[int, str]]:
    """Where the message's attachment lines are, and whose handles they name."""
    handles = (
        message.additional_kwargs.get(HANDLES_KEY) if isinstance(message, HumanMessage) else None
    )
    if not handles or isinstance(message.content, str):
        return []
    found: list[tuple[int, str]] = []
    for position, block in enumerate(message.content):
        text = (
            block.get("text") if isinstance(block, dict) and block.get("type") == "text" else None
        )
        line = _LINE.match(text) if isinstance(text, str) else None
        if line and line.group(1) in handles:
            found.append((position, line.group(1)))
    return found


AGENT_VIEW_BOUND = SizeBound(long_side=1024, max_bytes=200_000)
"""How large an attached photo is shown to the agent model by default (see the module)."""
_REMEMBERED_VIEWS = 32


class AgentView:
    """What the agent model is shown of each attached photo: the photo itself when it is
    within ``bound`` (or there is no bound), else a smaller JPEG copy; None when no copy
    can be made (no Pillow, bytes Pillow cannot decode), so only the line is shown.

    The last few copies are remembered by the photo's digest: the same photo is shown
    on every turn of a thread, and the digest (not the handle, which a thread's history
    can name in another scope) decides which copy belongs to which bytes.
    """

    def __init__(self, bound: SizeBound | None) -> None:
        self.bound = bound
        self._copies: OrderedDict[bytes, bytes | None] = OrderedDict()
        self._lock = threading.Lock()  # a middleware serves many threads at once

    def of(self, image: GeneratedImage) -> GeneratedImage | None:
        if self.bound is None or self.bound.holds(image.data, image.size):
            return image
        digest = hashlib.sha256(image.data).digest()
        with self._lock:
            remembered = digest in self._copies
            copy = self._copies.get(digest)
            if remembered:
                self._copies.move_to_end(digest)
        if not remembered:
            try:
                copy = downscaled(image.data, self.bound)
            except ConversionError:
                copy = None
            with self._lock:
                self._copies[digest] = copy
                while len(self._copies) > _REMEMBERED_VIEWS:
                    self._copies.popitem(last=False)
        return None if copy is None else GeneratedImage(copy, "image/jpeg", image.id)


_FULL_SIZE = AgentView(None)


def _with(message: MessageT, shown: dict[int, dict[str, Any] | None]) -> MessageT:
    content: list[Any] = []
    for position, block in enumerate(message.content):
        content.append(block)
        if shown.get(position) is not None:
            content.append(shown[position])
    return message.model_copy(update={"content": content})


def _picture(handle: str, image: GeneratedImage | None, view: AgentView) -> dict[str, Any] | None:
    if image is None:
        return {"type": "text", "text": f"[image {handle} is no longer available]"}
    shown = view.of(image)
    return None if shown is None else shown.to_block()


def with_pictures(message: MessageT, images: ImageStore, view: AgentView = _FULL_SIZE) -> MessageT:
    """The message with each attachment line followed by its image again (for a model),
    as ``view`` shows it (by default whole)."""
    lines = _shown_handles(message)
    if not lines:
        return message
    return _with(message, {position: _picture(h, images.find(h), view) for position, h in lines})


async def awith_pictures(
    message: MessageT, images: ImageStore, view: AgentView = _FULL_SIZE
) -> MessageT:
    """``with_pictures`` with the store's async methods."""
    lines = _shown_handles(message)
    if not lines:
        return message
    shown = {}
    for position, handle in lines:
        image = await images.afind(handle)
        # Decoding and shrinking a photo takes a while: not on the event loop.
        shown[position] = await asyncio.to_thread(_picture, handle, image, view)
    return _with(message, shown)
