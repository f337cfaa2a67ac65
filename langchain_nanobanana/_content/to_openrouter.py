"""Pure mapping of LangChain messages to OpenRouter's chat messages.

No I/O here; every function works on plain data and never mutates its input, so
tests call them directly.

Every image form LangChain knows (read by ``_image_blocks``) becomes an
``image_url`` part (inline images as ``DataUrl``s, which hold the caller's base64,
or the bytes of an image lent by file id, rather than a joined copy; see
``lent_images``), PDFs become ``file`` parts, and anything we cannot send raises
ValueError naming the block. Images found in assistant (or system, tool) turns
move to the next user turn, because the model only sees images in user turns
(see the wire facts). The answer's way back is ``_assembler``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    ChatMessage,
    FunctionMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)

from langchain_nanobanana._content import media as media_facts
from langchain_nanobanana._content.image_blocks import (
    UnusableImageBlockError,
    read_image_block,
    string_at,
)
from langchain_nanobanana._content.lent_images import lent

Part = dict[str, Any]


def _unsupported(block: Any, why: str) -> ValueError:
    kind = block.get("type") if isinstance(block, dict) else type(block).__name__
    return ValueError(f"Cannot send content block of type {kind!r}: {why}")


def _image_part(url: str | media_facts.DataUrl, detail: str | None = None) -> Part:
    image_url: dict[str, Any] = {"url": url}
    if detail:
        image_url["detail"] = detail
    return {"type": "image_url", "image_url": image_url}


def _image_part_from_block(block: dict[str, Any]) -> Part:
    """Any image block (see ``_image_blocks``) as an ``image_url`` part, checked."""
    try:
        reference = read_image_block(block)
    except UnusableImageBlockError as problem:
        raise _unsupported(block, str(problem)) from None
    assert reference is not None  # called for image and image_url blocks only
    if reference.base64 is not None:
        checked = media_facts.check_image_payload(reference.base64, reference.mime_type)
        # The base64 goes into the body by reference, never joined into a second copy.
        if reference.data_url is not None and checked == reference.mime_type:
            return _image_part(reference.data_url, reference.detail)
        return _image_part(media_facts.DataUrl(checked, reference.base64), reference.detail)
    if reference.url is not None and reference.url.startswith(("https://", "http://")):
        return _image_part(reference.url, reference.detail)
    if reference.file_id is not None:
        image = lent(reference.file_id)
        if image is None:
            raise _unsupported(block, "OpenRouter has no file ids; pass base64 data or a URL")
        checked = media_facts.check_image_bytes(image.data, image.mime_type)
        return _image_part(media_facts.DataUrl(checked, image.data), reference.detail)
    raise _unsupported(block, "an image URL must be https://... or a base64 data: URL")


def _file_part_from_block(block: dict[str, Any]) -> Part:
    if isinstance(block.get("file"), dict):  # already OpenAI/OpenRouter shaped
        return {"type": "file", "file": dict(block["file"])}
    filename = (
        string_at(block, "filename")
        or string_at(block.get("extras"), "filename")
        or string_at(block.get("metadata"), "filename")
    )
    data = block.get("base64") if isinstance(block.get("base64"), str) else None
    if data is None and block.get("source_type") == "base64":
        data = block.get("data")
    if isinstance(data, str):
        mime_type = media_facts.sniff_base64_mime_type(data) or string_at(block, "mime_type")
        if not mime_type:
            raise _unsupported(block, "its mime type is unknown; set 'mime_type'")
        file_data: str | media_facts.DataUrl = media_facts.DataUrl(mime_type, data)
    elif isinstance(block.get("url"), str):
        file_data = block["url"]
    else:
        raise _unsupported(block, "it has no 'base64' or 'url' (file ids are not supported)")
    head = file_data if isinstance(file_data, str) else file_data.prefix
    default_name = "document.pdf" if "pdf" in head[:40] else "file"
    return {"type": "file", "file": {"filename": filename or default_name, "file_data": file_data}}


def to_content_part(block: Any) -> Part:
    """One LangChain content block as one OpenRouter part; ValueError when impossible."""
    if isinstance(block, str):
        return {"type": "text", "text": block}
    if not isinstance(block, dict):
        raise _unsupported(block, "content blocks must be strings or dicts")
    kind = block.get("type")
    if kind == "text" or kind == "text-plain":
        if not isinstance(block.get("text"), str):
            raise _unsupported(block, "it has no 'text' string")
        return {"type": "text", "text": block["text"]}
    if kind in ("image", "image_url"):
        return _image_part_from_block(block)
    if kind == "file":
        return _file_part_from_block(block)
    if kind == "non_standard" and isinstance(block.get("value"), dict):
        return to_content_part(block["value"])
    if kind in ("audio", "video", "input_audio"):
        raise _unsupported(block, "Nano Banana models take text, images and PDF files only")
    raise _unsupported(block, "supported types are text, image, image_url and file (PDF)")


def _content_parts(content: str | list[Any]) -> list[Part]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    return [to_content_part(block) for block in content if not _is_output_only(block)]


def _is_output_only(block: Any) -> bool:
    """Blocks a model produced that are not input: reasoning (sent as reasoning_details),
    tool calls (sent as the turn's ``tool_calls``), the partial images an Image API
    stream shows while it works, and the refusal block, which says why an answer was
    withheld rather than being part of one."""
    if not isinstance(block, dict):
        return False
    if block.get("type") == "non_standard":
        value = block.get("value")
        return isinstance(value, dict) and value.get("type") in ("partial_image", "refusal")
    return block.get("type") in (
        "reasoning", "thinking", "refusal", "tool_call", "tool_call_chunk", "invalid_tool_call",
    )  # fmt: skip


def _role_of(message: BaseMessage) -> str:
    if isinstance(message, HumanMessage):
        return "user"
    if isinstance(message, AIMessage):
        return "assistant"
    if isinstance(message, SystemMessage):
        return "system"
    if isinstance(message, ToolMessage):
        return "tool"
    if isinstance(message, ChatMessage):
        return {"human": "user", "ai": "assistant"}.get(message.role, message.role)
    if isinstance(message, FunctionMessage):
        return "tool"
    raise ValueError(f"Cannot send a message of type {message.type!r} to OpenRouter")


def _joined_text(parts: list[Part]) -> str:
    return "".join(part["text"] for part in parts if part["type"] == "text")


def to_openrouter_messages(messages: Sequence[BaseMessage]) -> list[dict[str, Any]]:
    """The ``messages`` array of a chat/completions request.

    Media in non-user turns (an image the model generated earlier, say) is carried
    to the next user turn and placed after that turn's text, so "make it blue"
    edits the image it follows. With no later user turn, a user turn is added
    for it: nothing is dropped.
    """
    converted: list[dict[str, Any]] = []
    carried_media: list[Part] = []
    for message in messages:
        role = _role_of(message)
        parts = _content_parts(message.content)
        if role == "user":
            texts = [part for part in parts if part["type"] == "text"]
            media = [part for part in parts if part["type"] != "text"]
            user_parts = texts + carried_media + media
            carried_media = []
            only_text = all(part["type"] == "text" for part in user_parts)
            content: Any = (
                _joined_text(user_parts)
                if only_text and isinstance(message.content, str)
                else user_parts
            )
            user: dict[str, Any] = {"role": "user", "content": content}
            if message.name:
                user["name"] = message.name
            converted.append(user)
            continue
        carried_media.extend(part for part in parts if part["type"] != "text")
        entry: dict[str, Any] = {"role": role, "content": _joined_text(parts)}
        if isinstance(message, AIMessage) and message.additional_kwargs.get("reasoning_details"):
            entry["reasoning_details"] = message.additional_kwargs["reasoning_details"]
        if isinstance(message, AIMessage) and message.tool_calls:
            entry["tool_calls"] = [_tool_call(call) for call in message.tool_calls]
            # As recorded: a turn that only called tools says so with null content.
            entry["content"] = entry["content"] or None
        if isinstance(message, ToolMessage):
            entry["tool_call_id"] = message.tool_call_id
        if message.name and role in ("assistant", "system"):
            entry["name"] = message.name
        converted.append(entry)
    if carried_media:
        converted.append({"role": "user", "content": carried_media})
    return converted


def _tool_call(call: Any) -> dict[str, Any]:
    """A LangChain tool call as the assistant turn's ``tool_calls`` item."""
    return {
        "id": call["id"],
        "type": "function",
        "function": {"name": call["name"], "arguments": json.dumps(call["args"])},
    }


def check_media_size(messages: Sequence[BaseMessage]) -> None:
    """Refuse messages whose inline images and files together exceed what one request
    may carry, before anything copies them (tracing, data URLs, the JSON body)."""
    total = 0
    for message in messages:
        for block in message.content if isinstance(message.content, list) else []:
            total += _inline_bytes(block)
    media_facts.check_request_media_size(total)


def _inline_bytes(block: Any) -> int:
    """Bytes of base64 a block carries inline; 0 for anything else (or unusable:
    the conversion says why)."""
    try:
        reference = read_image_block(block)
    except UnusableImageBlockError:
        return 0
    if reference is not None:
        image = lent(reference.file_id) if reference.file_id is not None else None
        return len(image.data) if image else media_facts.decoded_size(reference.base64 or "")
    if isinstance(block, dict) and block.get("type") == "file":
        data = block.get("base64") or block.get("data")
        return media_facts.decoded_size(data) if isinstance(data, str) else 0
    return 0


def with_sniffed_mime_types(message: BaseMessage) -> BaseMessage:
    """``message``, or a copy whose base64 blocks without ``mime_type`` have one.

    langchain-core's tracing refuses such blocks before our code runs, so this
    runs where the model first receives its input.
    """
    if isinstance(message.content, str):
        return message
    changed = False
    blocks: list[Any] = []
    for block in message.content:
        if (
            isinstance(block, dict)
            and block.get("type") in ("image", "file")
            and isinstance(block.get("base64"), str)
            and not block.get("mime_type")
        ):
            sniffed = media_facts.sniff_base64_mime_type(block["base64"])
            if sniffed:
                block = {**block, "mime_type": sniffed}
                changed = True
        blocks.append(block)
    return message.model_copy(update={"content": blocks}) if changed else message
