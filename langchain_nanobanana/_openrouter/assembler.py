"""Pure: OpenRouter chat answers -> AIMessage(Chunk)s, one answer or stream chunk at a time.

The non-streaming answer and each stream chunk go through the same
``ChunkAssembler``, so ``invoke`` and the sum of ``stream`` cannot drift apart.
No I/O here; the stream protocol around it (``[DONE]``, truncation) is in
``_chat_completions``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.messages.ai import InputTokenDetails, OutputTokenDetails, UsageMetadata
from langchain_core.messages.tool import ToolCallChunk, tool_call_chunk
from langchain_core.utils._merge import merge_dicts, merge_lists

from langchain_nanobanana._content import media as media_facts
from langchain_nanobanana._openrouter.error_mapping import error_from_reported, excerpt
from langchain_nanobanana._openrouter.refusals import refusal_block
from langchain_nanobanana._openrouter.wire import Completion, Delta, ToolCall, Usage
from langchain_nanobanana.errors import OpenRouterAPIError, OpenRouterError

MODEL_PROVIDER = "openrouter"


def summed(chunks: Sequence[AIMessageChunk]) -> AIMessageChunk:
    """The chunks added up the way langchain-core adds them."""
    total = chunks[0]
    for chunk in chunks[1:]:
        total = total + chunk
    return total


def usage_metadata_of(usage: Usage) -> UsageMetadata:
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


@dataclass
class ChunkAssembler:
    """Builds AIMessageChunks from a whole answer or from stream chunks, one at a time.

    Each content block gets an explicit ``index``: a run of text (or reasoning)
    keeps one index so its deltas concatenate, and every image gets its own, so
    two images can never be merged into one. Response metadata and usage are
    collected and emitted once, on ``final_chunk``, because langchain-core
    concatenates strings and sums numbers when chunks are added. A refused answer
    ends with a refusal block (``_refusals``), also once: only the end of an
    answer knows its finish reason.
    """

    generation_id: str | None = None
    model: str | None = None
    provider: str | None = None
    created: int | None = None
    finish_reason: str | None = None
    native_finish_reason: str | None = None
    usage: Usage | None = None
    choices_seen: int = 0
    _choiceless: Completion | None = None
    """The last answer (or chunk) that held no choice, for the error that says so."""
    _next_index: int = 0
    _open_run: str | None = None
    _images_seen: int = 0
    # What arrived so far, for an error to carry: blocks by index (a text run as its
    # pieces, joined only when asked), not every chunk: a stream of a million tiny
    # deltas must not keep a million messages.
    _blocks: dict[int, dict[str, Any]] = field(default_factory=dict)
    _pieces: dict[int, list[str]] = field(default_factory=dict)
    _additional: list[dict[str, Any]] = field(default_factory=list)
    _tool_call_chunks: list[ToolCallChunk] = field(default_factory=list)
    _stated_refusal: list[str] = field(default_factory=list)
    """The provider's own refusal text (``message.refusal``), as its pieces arrived."""

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

    # ------------------------------------------------------------ blocks, for any endpoint

    def text_block(self, text: str, kind: str = "text") -> dict[str, Any]:
        """A piece of text (``kind="text"``) or reasoning, continuing the current run."""
        key = "reasoning" if kind == "reasoning" else "text"
        return {"type": key, key: text, "index": self._index_for(key)}

    def image_block(self, url_or_data_url: str) -> dict[str, Any]:
        """A standard image block for an image URL or ``data:`` URL, with its own index and id."""
        parsed = media_facts.split_data_url(url_or_data_url)
        if parsed is not None:
            mime_type, data = parsed
            return self.inline_image_block(data, mime_type)
        return {"type": "image", "url": url_or_data_url, **self._next_image()}

    def inline_image_block(self, data: str, mime_type: str) -> dict[str, Any]:
        """A standard image block for base64 ``data``, with its own index and id.

        The bytes decide, not the label ``mime_type``: anything but strict base64
        of a PNG, JPEG, WebP or GIF (SVG, HTML, text labelled image/png) is refused
        with OpenRouterAPIError carrying what was emitted before it.
        """
        place = self._next_image()
        sniffed = media_facts.image_type_of(data)
        if sniffed is None:
            raise OpenRouterAPIError(
                f"OpenRouter sent an image (labelled {mime_type[:60]!r}) whose bytes are not a "
                f"PNG, JPEG, WebP or GIF in valid base64; it was refused [image {place['id']}].",
                generation_id=self.generation_id,
                partial_message=self.partial_message(),
            )
        return {"type": "image", "base64": data, "mime_type": sniffed, **place}

    def _next_image(self) -> dict[str, Any]:
        block_id = f"{self.generation_id or 'image'}-{self._images_seen}"
        self._images_seen += 1
        return {"id": block_id, "index": self._index_for("image")}

    def progress_block(self, value: dict[str, Any]) -> dict[str, Any]:
        """Something shown while the answer forms (a partial image): not part of the answer."""
        return {"type": "non_standard", "value": value, "index": self._index_for("image")}

    def emit(
        self,
        blocks: list[dict[str, Any]],
        additional: dict[str, Any] | None = None,
        tool_calls: list[ToolCallChunk] | None = None,
    ) -> AIMessageChunk:
        """The chunk holding ``blocks`` (and pieces of tool calls), remembered for
        ``partial_message``."""
        chunk = AIMessageChunk(
            content=blocks,  # type: ignore[arg-type]
            additional_kwargs=additional or {},
            tool_call_chunks=tool_calls or [],
            id=self.generation_id,
        )
        self._keep(blocks, additional or {})
        self._tool_call_chunks = merge_lists(self._tool_call_chunks, tool_calls) or []
        return chunk

    # ------------------------------------------------------------ chat/completions

    def add(self, completion: Completion) -> AIMessageChunk:
        """The content one answer (or stream chunk) adds; raises on a reported error."""
        self._note_envelope(completion)
        if not completion.choices:
            self._choiceless = completion
        blocks: list[dict[str, Any]] = []
        additional: dict[str, Any] = {}
        tool_calls: list[ToolCallChunk] = []
        failed = completion.error is not None
        choice_error = None
        # OpenRouter's image models answer with one choice (no ``n``).
        for choice in completion.choices[:1]:
            self.choices_seen += 1
            payload: Delta = choice.payload
            self.finish_reason = choice.finish_reason or self.finish_reason
            self.native_finish_reason = choice.native_finish_reason or self.native_finish_reason
            if payload.reasoning:
                blocks.append(self.text_block(payload.reasoning, "reasoning"))
            if payload.content:
                blocks.append(self.text_block(payload.content))
            if payload.refusal:
                additional["refusal"] = payload.refusal
                self._stated_refusal.append(payload.refusal)
            if payload.reasoning_details:
                additional["reasoning_details"] = payload.reasoning_details
            tool_calls.extend(
                _tool_call_chunk(call, position)
                for position, call in enumerate(payload.tool_calls or [])
            )
            for image in payload.images or []:
                try:
                    blocks.append(self.image_block(image.image_url.url))
                except OpenRouterAPIError as refused:
                    self.emit(blocks, additional, tool_calls)  # what came before it is kept too
                    refused.partial_message = self.partial_message()
                    raise
            failed = failed or choice.finish_reason == "error" or choice.error is not None
            choice_error = choice.error
        chunk = self.emit(blocks, additional, tool_calls)
        if failed:
            raise error_from_reported(
                completion.error or choice_error,
                generation_id=self.generation_id,
                partial_message=self.partial_message(),
            )
        return chunk

    def _keep(self, blocks: list[dict[str, Any]], additional: dict[str, Any]) -> None:
        for block in blocks:
            index = block["index"]
            kind = block["type"]
            if index not in self._blocks:
                self._blocks[index] = block
                self._pieces[index] = []
            if kind in ("text", "reasoning"):
                self._pieces[index].append(block[kind])
        if additional:
            self._additional.append(additional)

    def partial_message(self) -> AIMessage | None:
        """Everything produced so far, for an error to carry; None when nothing came.

        The same content and additional_kwargs as the sum of the chunks ``add``
        returned."""
        if not self._blocks and not self._additional and not self._tool_call_chunks:
            return None
        content: list[dict[str, Any]] = []
        for index, block in self._blocks.items():
            kind = block["type"]
            joined = {kind: "".join(self._pieces[index])} if kind in ("text", "reasoning") else {}
            content.append({**block, **joined})
        additional: dict[str, Any] = {}
        for more in self._additional:
            additional = merge_dicts(additional, more)
        calls = AIMessageChunk(content=[], tool_call_chunks=self._tool_call_chunks)
        return AIMessage(
            content=content,  # type: ignore[arg-type]
            additional_kwargs=additional,
            tool_calls=calls.tool_calls,
            invalid_tool_calls=calls.invalid_tool_calls,
            id=self.generation_id,
            response_metadata={"model_provider": MODEL_PROVIDER},
        )

    def check_answered(self) -> None:
        """Raise when the whole answer held no choice at all: nothing to read, whether
        it came whole or streamed (a usage-only chunk is not an answer)."""
        if self.choices_seen == 0:
            seen = self._choiceless
            raise OpenRouterAPIError(
                "OpenRouter's answer held no choices (no message, no error): nothing was "
                "generated. Try again; if it repeats, check the model id and modalities.",
                body={"raw": excerpt(seen.model_dump_json(exclude_unset=True) if seen else "")},
                generation_id=self.generation_id,
            )

    def attach_partial(self, error: OpenRouterError) -> OpenRouterError:
        """``error`` with what had been produced before it (and the generation id) on it."""
        if error.partial_message is None:
            error.partial_message = self.partial_message()
        if error.generation_id is None:
            error.generation_id = self.generation_id
        return error

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
        return usage_metadata_of(self.usage) if self.usage is not None else None

    def closing_blocks(self) -> list[dict[str, Any]]:
        """What the end of the answer adds to its content: the refusal block, if it was one.

        Call it once per answer (``final_chunk`` does): the block takes the next index.
        """
        block = refusal_block(
            self.finish_reason, self.native_finish_reason, "".join(self._stated_refusal)
        )
        if block is None:
            return []
        return [{**block, "index": self._index_for("refusal")}]

    def final_chunk(self) -> AIMessageChunk:
        """The closing chunk: the refusal block if any, metadata and usage, once."""
        return AIMessageChunk(
            content=self.closing_blocks(),  # type: ignore[arg-type]
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
    chunks (their blocks have different indexes, so the sum is just the union).
    """
    assembler = ChunkAssembler(model=requested_model)
    content = assembler.add(completion)
    assembler.check_answered()
    return AIMessage(
        content=[*content.content, *assembler.closing_blocks()],
        additional_kwargs=content.additional_kwargs,
        # The chunk parsed its tool-call pieces (JSON arguments) as a stream's sum would.
        tool_calls=content.tool_calls,
        invalid_tool_calls=content.invalid_tool_calls,
        response_metadata=assembler.response_metadata(),
        usage_metadata=assembler.usage_metadata(),
        id=assembler.generation_id,
    )


def _tool_call_chunk(call: ToolCall, position: int) -> ToolCallChunk:
    """One tool call (or a stream's piece of one) as LangChain's chunk: pieces that share
    an index are joined when chunks are added, whole calls parse on their own."""
    function = call.function
    return tool_call_chunk(
        name=function.name if function else None,
        args=function.arguments if function else None,
        id=call.id,
        index=call.index if call.index is not None else position,
    )
