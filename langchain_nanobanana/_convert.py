"""Pure mapping: LangChain messages -> OpenRouter messages, OpenRouter answers -> AIMessages.

No I/O here; every function works on plain data and never mutates its input, so
tests call them directly.

Input: every image form LangChain knows becomes an ``image_url`` part, PDFs become
``file`` parts, and anything we cannot send raises ValueError naming the block.
Images found in assistant (or system, tool) turns move to the next user turn,
because the model only sees images in user turns (see the wire facts).

Output: the non-streaming answer and each stream chunk go through the same
``ChunkAssembler``, so ``invoke`` and the sum of ``stream`` cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    ChatMessage,
    FunctionMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.messages.ai import InputTokenDetails, OutputTokenDetails, UsageMetadata

from langchain_nanobanana import _media
from langchain_nanobanana._error_mapping import error_from_body
from langchain_nanobanana._wire import Completion, Delta, ImagePart, Usage

MODEL_PROVIDER = "openrouter"

Part = dict[str, Any]

# ---------------------------------------------------------------- input


def _unsupported(block: Any, why: str) -> ValueError:
    kind = block.get("type") if isinstance(block, dict) else type(block).__name__
    return ValueError(f"Cannot send content block of type {kind!r}: {why}")


def _object(block: dict[str, Any], key: str) -> dict[str, Any]:
    """``block[key]`` when it is a JSON object, else an empty one: inputs vary widely."""
    value = block.get(key)
    return value if isinstance(value, dict) else {}


def _string(block: dict[str, Any], key: str) -> str | None:
    value = block.get(key)
    return value if isinstance(value, str) and value else None


def _image_part(url: str, detail: str | None = None) -> Part:
    image_url: dict[str, Any] = {"url": url}
    if detail:
        image_url["detail"] = detail
    return {"type": "image_url", "image_url": image_url}


def _image_part_from_base64(data: str, mime_type: str | None, detail: str | None = None) -> Part:
    checked = _media.check_image_payload(data, mime_type)
    return _image_part(_media.data_url(checked, data), detail)


def _image_part_from_url(url: str, block: Any, detail: str | None = None) -> Part:
    parsed = _media.split_data_url(url)
    if parsed is not None:
        mime_type, data = parsed
        return _image_part_from_base64(data, mime_type, detail)
    if url.startswith(("https://", "http://")):
        return _image_part(url, detail)
    raise _unsupported(block, "an image URL must be https://... or a base64 data: URL")


def _image_part_from_block(block: dict[str, Any]) -> Part:
    """``image`` blocks: v1 standard, legacy ``source_type``, or Anthropic ``source``."""
    detail = _string(block, "detail") or _string(_object(block, "extras"), "detail")
    source = block.get("source")
    if isinstance(source, dict):  # Anthropic
        if source.get("type") == "base64" and isinstance(source.get("data"), str):
            return _image_part_from_base64(source["data"], _string(source, "media_type"), detail)
        if source.get("type") == "url" and isinstance(source.get("url"), str):
            return _image_part_from_url(source["url"], block, detail)
        raise _unsupported(block, "its 'source' has neither base64 data nor a url")
    source_type = block.get("source_type")
    if source_type == "base64" and isinstance(block.get("data"), str):  # legacy
        return _image_part_from_base64(block["data"], _string(block, "mime_type"), detail)
    if isinstance(block.get("base64"), str):
        return _image_part_from_base64(block["base64"], _string(block, "mime_type"), detail)
    if isinstance(block.get("url"), str):
        return _image_part_from_url(block["url"], block, detail)
    if block.get("file_id") or source_type == "id":
        raise _unsupported(block, "OpenRouter has no file ids; pass base64 data or a URL")
    raise _unsupported(block, "it has no 'base64', 'url' or 'source'")


def _file_part_from_block(block: dict[str, Any]) -> Part:
    if isinstance(block.get("file"), dict):  # already OpenAI/OpenRouter shaped
        return {"type": "file", "file": dict(block["file"])}
    filename = (
        _string(block, "filename")
        or _string(_object(block, "extras"), "filename")
        or _string(_object(block, "metadata"), "filename")
    )
    data = block.get("base64") if isinstance(block.get("base64"), str) else None
    if data is None and block.get("source_type") == "base64":
        data = block.get("data")
    if isinstance(data, str):
        mime_type = _media.sniff_base64_mime_type(data) or _string(block, "mime_type")
        if not mime_type:
            raise _unsupported(block, "its mime type is unknown; set 'mime_type'")
        file_data = _media.data_url(mime_type, data)
    elif isinstance(block.get("url"), str):
        file_data = block["url"]
    else:
        raise _unsupported(block, "it has no 'base64' or 'url' (file ids are not supported)")
    default_name = "document.pdf" if "pdf" in file_data[:40] else "file"
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
    if kind == "image":
        return _image_part_from_block(block)
    if kind == "image_url":
        image_url = block.get("image_url")
        if isinstance(image_url, str):
            return _image_part_from_url(image_url, block)
        if isinstance(image_url, dict) and isinstance(image_url.get("url"), str):
            return _image_part_from_url(image_url["url"], block, _string(image_url, "detail"))
        raise _unsupported(block, "'image_url' must be a URL string or {'url': ...}")
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
    """Blocks a model produced that are not input: reasoning (sent as reasoning_details)."""
    return isinstance(block, dict) and block.get("type") in ("reasoning", "thinking")


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
        if isinstance(message, ToolMessage):
            entry["tool_call_id"] = message.tool_call_id
        if message.name and role in ("assistant", "system"):
            entry["name"] = message.name
        converted.append(entry)
    if carried_media:
        converted.append({"role": "user", "content": carried_media})
    return converted


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
            sniffed = _media.sniff_base64_mime_type(block["base64"])
            if sniffed:
                block = {**block, "mime_type": sniffed}
                changed = True
        blocks.append(block)
    return message.model_copy(update={"content": blocks}) if changed else message


# ---------------------------------------------------------------- output


def _usage_metadata(usage: Usage) -> UsageMetadata:
    metadata = UsageMetadata(
        input_tokens=usage.prompt_tokens,
        output_tokens=usage.completion_tokens,
        total_tokens=usage.total_tokens or usage.prompt_tokens + usage.completion_tokens,
    )
    prompt_details = usage.prompt_tokens_details
    if prompt_details is not None and prompt_details.cached_tokens is not None:
        metadata["input_token_details"] = InputTokenDetails(cache_read=prompt_details.cached_tokens)
    completion_details = usage.completion_tokens_details
    if completion_details is not None:
        output_details = OutputTokenDetails()
        if completion_details.reasoning_tokens is not None:
            output_details["reasoning"] = completion_details.reasoning_tokens
        if completion_details.image_tokens is not None:
            output_details["image"] = completion_details.image_tokens  # type: ignore[typeddict-unknown-key]
        metadata["output_token_details"] = output_details
    return metadata


def _image_block(image: ImagePart, block_id: str, index: int) -> dict[str, Any]:
    url = image.image_url.url
    parsed = _media.split_data_url(url)
    if parsed is None:
        return {"type": "image", "url": url, "id": block_id, "index": index}
    mime_type, data = parsed
    return {"type": "image", "base64": data, "mime_type": mime_type, "id": block_id, "index": index}


@dataclass
class ChunkAssembler:
    """Builds AIMessageChunks from a whole answer or from stream chunks, one at a time.

    Each content block gets an explicit ``index``: a run of text (or reasoning)
    keeps one index so its deltas concatenate, and every image gets its own, so
    two images can never be merged into one. Response metadata and usage are
    collected and emitted once, on ``final_chunk``, because langchain-core
    concatenates strings and sums numbers when chunks are added.
    """

    generation_id: str | None = None
    model: str | None = None
    provider: str | None = None
    created: int | None = None
    finish_reason: str | None = None
    native_finish_reason: str | None = None
    usage: Usage | None = None
    _next_index: int = 0
    _open_run: str | None = None
    _images_seen: int = 0
    _produced: list[AIMessageChunk] = field(default_factory=list)

    def _index_for(self, kind: str) -> int:
        # Deltas of one text (or reasoning) run share an index, so they concatenate;
        # an image always opens a new one.
        if kind == "image" or self._open_run != kind:
            self._open_run = kind
            self._next_index += 1
        return self._next_index - 1

    def _note_envelope(self, completion: Completion) -> None:
        self.generation_id = self.generation_id or completion.id
        self.model = completion.model or self.model
        self.provider = completion.provider or self.provider
        self.created = self.created or completion.created
        if completion.usage is not None:
            self.usage = completion.usage  # once per stream; the last one wins

    def add(self, completion: Completion) -> AIMessageChunk:
        """The content one answer (or stream chunk) adds; raises on a reported error."""
        self._note_envelope(completion)
        blocks: list[dict[str, Any]] = []
        additional: dict[str, Any] = {}
        failed = completion.error is not None
        choice_error = None
        # OpenRouter's image models answer with one choice (no ``n``).
        for choice in completion.choices[:1]:
            payload: Delta = choice.payload
            self.finish_reason = choice.finish_reason or self.finish_reason
            self.native_finish_reason = choice.native_finish_reason or self.native_finish_reason
            if payload.reasoning:
                blocks.append(
                    {
                        "type": "reasoning",
                        "reasoning": payload.reasoning,
                        "index": self._index_for("reasoning"),
                    }
                )
            if payload.content:
                blocks.append(
                    {"type": "text", "text": payload.content, "index": self._index_for("text")}
                )
            if payload.refusal:
                additional["refusal"] = payload.refusal
            if payload.reasoning_details:
                additional["reasoning_details"] = payload.reasoning_details
            for image in payload.images or []:
                block_id = f"{self.generation_id or 'image'}-{self._images_seen}"
                blocks.append(_image_block(image, block_id, self._index_for("image")))
                self._images_seen += 1
            failed = failed or choice.finish_reason == "error" or choice.error is not None
            choice_error = choice.error
        chunk = AIMessageChunk(content=blocks, additional_kwargs=additional, id=self.generation_id)  # type: ignore[arg-type]
        self._produced.append(chunk)
        if failed:
            error = completion.error or choice_error
            reported = (
                error.model_dump() if error is not None else {"message": "finish_reason error"}
            )
            raise error_from_body(
                None,
                {"error": reported},
                generation_id=self.generation_id,
                partial_message=self.partial_message(),
            )
        return chunk

    def partial_message(self) -> AIMessage | None:
        """Everything produced so far, for an error to carry; None when nothing came."""
        produced = [chunk for chunk in self._produced if chunk.content or chunk.additional_kwargs]
        if not produced:
            return None
        total = produced[0]
        for chunk in produced[1:]:
            total = total + chunk
        return AIMessage(
            content=total.content,
            additional_kwargs=total.additional_kwargs,
            id=self.generation_id,
            response_metadata={"model_provider": MODEL_PROVIDER},
        )

    def response_metadata(self) -> dict[str, Any]:
        metadata: dict[str, Any] = {
            "model_name": self.model,
            "model_provider": MODEL_PROVIDER,
            "id": self.generation_id,
            "provider": self.provider,
            "created": self.created,
            "finish_reason": self.finish_reason,
            "native_finish_reason": self.native_finish_reason,
        }
        if self.usage is not None:
            metadata["cost"] = self.usage.cost
            metadata["cost_details"] = self.usage.cost_details
            metadata["is_byok"] = self.usage.is_byok
        # Unknown values are left out rather than reported as None.
        return {key: value for key, value in metadata.items() if value is not None}

    def usage_metadata(self) -> UsageMetadata | None:
        return _usage_metadata(self.usage) if self.usage is not None else None

    def final_chunk(self) -> AIMessageChunk:
        """The closing chunk: metadata and usage, once."""
        return AIMessageChunk(
            content=[],
            id=self.generation_id,
            response_metadata=self.response_metadata(),
            usage_metadata=self.usage_metadata(),
            chunk_position="last",
        )


def message_from_completion(
    completion: Completion, requested_model: str | None = None
) -> AIMessage:
    """The AIMessage for a whole (non-streaming) answer: the stream path, in one step.

    What ``add`` returns plus what ``final_chunk`` carries, without summing two
    chunks (the closing chunk has no content, so the sum is just the union).
    """
    assembler = ChunkAssembler(model=requested_model)
    content = assembler.add(completion)
    return AIMessage(
        content=content.content,
        additional_kwargs=content.additional_kwargs,
        response_metadata=assembler.response_metadata(),
        usage_metadata=assembler.usage_metadata(),
        id=assembler.generation_id,
    )
