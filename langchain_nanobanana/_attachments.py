"""Photos users attach: stored by handle, named by a line of text, shown again on demand.

A user message that carries images is swapped for one whose images are lines
such as ``[attached image img_1a2b3c4d (1024x768 JPEG)]``, and the bytes go into
an ``ImageStore``: the agent can pass the handle to the image tool, and no
base64 stays in agent state or its checkpoints. ``with_pictures`` puts the
images back next to their lines for a request to a multimodal model, without
changing what is stored. The line's format is defined here and only here.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

from langchain_core.messages import BaseMessage, HumanMessage

from langchain_nanobanana.images import images_from
from langchain_nanobanana.stores import HANDLE_PATTERN, ImageStore

HANDLES_KEY = "nanobanana_handles"
"""``additional_kwargs`` key listing the handles of a message's attached images."""
_LINE = re.compile(rf"\[attached image ({HANDLE_PATTERN.pattern})\b")

MessageT = TypeVar("MessageT", bound=BaseMessage)


def has_unregistered_images(message: BaseMessage) -> bool:
    """A user message with image bytes in it that ``register`` has not yet swapped out."""
    return (
        isinstance(message, HumanMessage)
        and HANDLES_KEY not in message.additional_kwargs
        and bool(images_from(message))
    )


def register(message: HumanMessage, images: ImageStore) -> HumanMessage:
    """The message with each attached image stored in ``images`` and named by its line.

    The handles are also listed in ``additional_kwargs["nanobanana_handles"]``.
    """
    content = [message.content] if isinstance(message.content, str) else message.content
    handles: list[str] = []
    new_content: list[Any] = []
    for block in content:
        attached = images_from([block])
        if not attached:
            new_content.append({"type": "text", "text": block} if isinstance(block, str) else block)
            continue
        handle = images.put(attached[0].data, attached[0].mime_type, origin="attachment")
        handles.append(handle)
        line = f"[attached image {attached[0].with_id(handle).describe()}]"
        new_content.append({"type": "text", "text": line})
    kwargs = {**message.additional_kwargs, HANDLES_KEY: handles}
    return message.model_copy(update={"content": new_content, "additional_kwargs": kwargs})


def with_pictures(message: MessageT, images: ImageStore) -> MessageT:
    """The message with each attachment line followed by its image again (for a model)."""
    handles = (
        message.additional_kwargs.get(HANDLES_KEY) if isinstance(message, HumanMessage) else None
    )
    if not handles or isinstance(message.content, str):
        return message
    content: list[Any] = []
    for block in message.content:
        content.append(block)
        text = (
            block.get("text") if isinstance(block, dict) and block.get("type") == "text" else None
        )
        found = _LINE.match(text) if isinstance(text, str) else None
        if found and found.group(1) in handles:
            content.append(images.get(found.group(1)).to_block())
    return message.model_copy(update={"content": content})
