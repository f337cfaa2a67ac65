"""OpenRouter's Image API (``POST /images``): its request body, and the reading of its answers.

A sibling of ``_chat_completions`` with the same three pieces. The last user turn's
text is the prompt (a system message's text goes before it) and its images are the
references; images the model made earlier are carried into that turn by
``_convert``, so "make it blue" after a picture edits that picture. Answers become
the same standard image blocks, usage and metadata as on the chat endpoint, through
the same ``ChunkAssembler``; partial images of a stream are progress blocks
(``non_standard`` ``partial_image``), never extra final images.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage

from langchain_nanobanana._catalog.models import (
    ALL_BACKGROUNDS,
    ALL_QUALITIES,
    IMAGE_API_RESOLUTIONS,
    MAX_REFERENCE_IMAGES,
    ModelSpec,
    allowed_values,
    find_model,
)
from langchain_nanobanana._content.to_openrouter import to_openrouter_messages
from langchain_nanobanana._openrouter.assembler import ChunkAssembler
from langchain_nanobanana._openrouter.endpoint import Endpoint
from langchain_nanobanana._openrouter.error_mapping import error_from_reported, parsed
from langchain_nanobanana._openrouter.options import CallOptions
from langchain_nanobanana._openrouter.wire import (
    CapabilityDescriptor,
    ErrorObject,
    GeneratedData,
    ImageEvent,
    ImagesAnswer,
)
from langchain_nanobanana.errors import OpenRouterAPIError, OpenRouterError

PATH = "images"
_DONE = b"[DONE]"
# Chat options the Image API has no field for: refused rather than dropped. Its
# provider object routes by only/order/ignore/sort/allow_fallbacks, without max_price.
_CHAT_ONLY = ("temperature", "top_p", "max_tokens", "stop", "response_format", "max_price")
# Formats a caller may ask for; SVG is refused, since it can carry script.
_RASTER_FORMATS = ("png", "jpeg", "webp")


# ---------------------------------------------------------------- request


def _prompt_and_references(
    messages: Sequence[BaseMessage],
) -> tuple[str, list[dict[str, Any]]]:
    converted = to_openrouter_messages(messages)
    users = [message for message in converted if message["role"] == "user"]
    if not users:
        raise ValueError("The Image API needs a prompt: send at least one user message.")
    system = [m["content"] for m in converted if m["role"] == "system" and m["content"]]
    content = users[-1]["content"]
    parts: list[dict[str, Any]] = (
        [{"type": "text", "text": content}] if isinstance(content, str) else content
    )
    texts = [part["text"] for part in parts if part["type"] == "text"]
    # Each reference is a ContentPartImage object, as the OpenAPI file and the guide say
    # (a bare data-URL string fails OpenRouter's request validation).
    references = [
        {"type": "image_url", "image_url": {"url": part["image_url"]["url"]}}
        for part in parts
        if part["type"] == "image_url"
    ]
    if any(part["type"] not in ("text", "image_url") for part in parts):
        raise ValueError(
            "The Image API takes text and images only; send files (PDF) on the chat endpoint."
        )
    if len(references) > MAX_REFERENCE_IMAGES:
        msg = (
            f"The Image API takes at most {MAX_REFERENCE_IMAGES} reference images; "
            f"this request has {len(references)}."
        )
        raise ValueError(msg)
    prompt = "\n\n".join([*system, "\n".join(texts)]).strip()
    if not prompt:
        raise ValueError("The Image API needs a prompt: the last user message has no text.")
    return prompt, references


def _allowed(option: str, value: str | None, allowed: tuple[str, ...], model: str) -> None:
    if value is not None and value not in allowed:
        if not allowed:
            raise ValueError(f"{model!r} does not take {option} on the Image API; leave it unset.")
        msg = f"{option}={value!r} is not supported by {model!r}; use one of: {', '.join(allowed)}."
        raise ValueError(msg)


def check_image_api_options(options: CallOptions, spec: ModelSpec | None) -> None:
    """Refuse, before any request, what the Image API (or this model on it) cannot take."""
    chat_only = [name for name in _CHAT_ONLY if getattr(options, name) is not None]
    if chat_only:
        msg = (
            f"{', '.join(chat_only)}: not options of the Image API (endpoint='images'); "
            "drop them, or use endpoint='chat'."
        )
        raise ValueError(msg)
    if options.output_format == "svg":
        raise ValueError(
            "output_format='svg' is refused: SVG can carry script. Use png, jpeg or webp."
        )
    model = options.model
    # A model's own lists are only refused on where they are recorded or documented;
    # otherwise any value OpenRouter documents goes out, and the server decides.
    _allowed(
        "quality",
        options.quality,
        allowed_values(spec, "qualities", spec.qualities if spec else (), ALL_QUALITIES),
        model,
    )
    _allowed(
        "output_format",
        options.output_format,
        allowed_values(
            spec, "output_formats", spec.output_formats if spec else (), _RASTER_FORMATS
        ),
        model,
    )
    _allowed(
        "background",
        options.background,
        allowed_values(spec, "backgrounds", spec.backgrounds if spec else (), ALL_BACKGROUNDS),
        model,
    )
    compression = options.output_compression
    if compression is not None and not (isinstance(compression, int) and 0 <= compression <= 100):
        raise ValueError(
            f"output_compression={compression!r} must be a whole number from 0 to 100."
        )


# Body fields that are not capabilities of a model: always accepted.
_NOT_CAPABILITIES = frozenset({"model", "prompt", "input_references", "stream", "provider", "user"})


def check_discovered(
    body: Mapping[str, Any], parameters: Mapping[str, CapabilityDescriptor]
) -> None:
    """Refuse what OpenRouter's listing says the model cannot take (its typed descriptors).

    Only for models the catalog lacks, and only when the listing gave descriptors.
    """
    if not parameters:
        return
    model = body.get("model")
    for name, value in body.items():
        if name in _NOT_CAPABILITIES:
            continue
        descriptor = parameters.get(name)
        if descriptor is None:
            listed = ", ".join(sorted(parameters))
            msg = f"{model!r} does not take {name} on the Image API (OpenRouter lists: {listed})."
            raise ValueError(msg)
        if descriptor.type == "enum" and descriptor.values and str(value) not in descriptor.values:
            msg = (
                f"{name}={value!r} is not supported by {model!r}; "
                f"use one of: {', '.join(descriptor.values)}."
            )
            raise ValueError(msg)
        low, high = descriptor.min, descriptor.max
        if (
            descriptor.type == "range"
            and isinstance(value, (int, float))
            and ((low is not None and value < low) or (high is not None and value > high))
        ):
            msg = f"{name}={value!r} is outside what {model!r} takes ({low} to {high})."
            raise ValueError(msg)


def request_body(
    messages: Sequence[BaseMessage],
    options: CallOptions,
    *,
    stream: bool,
    model_kwargs: Mapping[str, Any],
) -> dict[str, Any]:
    """The JSON body of one Image API request, options under the endpoint's own names."""
    check_image_api_options(options, find_model(options.model))
    prompt, references = _prompt_and_references(messages)
    body: dict[str, Any] = {"model": options.model, "prompt": prompt}
    if references:
        body["input_references"] = references
    if options.n is not None:
        body["n"] = options.n
    if options.image_size is not None:
        body["resolution"] = IMAGE_API_RESOLUTIONS[options.image_size]
    named = {
        "aspect_ratio": options.aspect_ratio,
        "quality": options.quality,
        "output_format": options.output_format,
        "background": options.background,
        "output_compression": options.output_compression,
        "seed": options.seed,
        "provider": options.provider,
    }
    body.update((name, value) for name, value in named.items() if value is not None)
    body.update(model_kwargs)
    if stream:
        body["stream"] = True
    return body


# ---------------------------------------------------------------- answers


def _add_whole(assembler: ChunkAssembler, answer: ImagesAnswer) -> AIMessageChunk:
    if answer.error is not None:
        raise error_from_reported(answer.error, generation_id=None, partial_message=None)
    assembler.created = answer.created or assembler.created
    assembler.usage = answer.usage or assembler.usage
    blocks = [_block(assembler, data) for data in answer.data if data.b64_json or data.url]
    # No image and no error: the finish reason stays unknown, and says so downstream.
    assembler.finish_reason = "stop" if blocks else assembler.finish_reason
    return assembler.emit(blocks)


def _block(assembler: ChunkAssembler, data: GeneratedData) -> dict[str, Any]:
    if data.b64_json is not None:
        return assembler.inline_image_block(data.b64_json, data.media_type or "image/png")
    return assembler.image_block(data.url or "")


def read_answer(raw: bytearray, requested_model: str) -> AIMessage:
    """The AIMessage for a whole Image API answer body."""
    answer = parsed(raw, ImagesAnswer)
    del raw  # a 4K answer is tens of MB: let it go before the image is copied out
    reader = StreamReader(requested_model)
    content = reader.add(answer)
    assembler = reader.assembler
    return AIMessage(
        content=[
            *(block for chunk in content for block in chunk.content),
            *assembler.closing_blocks(),
        ],
        response_metadata=assembler.response_metadata(),
        usage_metadata=assembler.usage_metadata(),
    )


class StreamReader:
    """Reads an Image API answer, event by event (see ``_chat_completions.StreamReader``)."""

    def __init__(self, requested_model: str) -> None:
        self.assembler = ChunkAssembler(model=requested_model)
        self.finished = False
        self._completed = False

    def parse(self, payload: bytes) -> ImageEvent | ImagesAnswer | None:
        if payload == _DONE:
            self.finished = True
            return None
        event = parsed(payload, ImageEvent)
        if event.type is None and "data" in (event.model_extra or {}):
            # A 200 answer that came whole although a stream was asked for.
            return ImagesAnswer.model_validate(event.model_dump())
        return event

    def add(self, item: ImageEvent | ImagesAnswer | None) -> list[AIMessageChunk]:
        if item is None:
            return []
        if isinstance(item, ImagesAnswer):
            self._completed = True
            return [_add_whole(self.assembler, item)]
        return self._add_event(item)

    def _add_event(self, event: ImageEvent) -> list[AIMessageChunk]:
        assembler = self.assembler
        text = event.text or event.delta
        if event.type == "image_generation.text_chunk" and text:
            kind = "text" if event.phase in (None, "content") else "reasoning"
            return [assembler.emit([assembler.text_block(text, kind)])]
        if event.type == "image_generation.partial_image" and event.b64_json:
            preview = {
                "type": "partial_image",
                "partial_image_index": event.partial_image_index,
                "base64": event.b64_json,
                "mime_type": event.media_type or "image/png",
            }
            return [assembler.emit([assembler.progress_block(preview)])]
        if event.type == "image_generation.completed":
            self._completed = True
            assembler.usage = event.usage or assembler.usage  # the last one wins
            assembler.finish_reason = "stop"
            if event.b64_json:
                block = assembler.inline_image_block(
                    event.b64_json, event.media_type or "image/png"
                )
                return [assembler.emit([block])]
            return []
        if event.type == "error":
            reported = event.error or ErrorObject(code=event.code, message=event.message)
            raise error_from_reported(
                reported, generation_id=None, partial_message=assembler.partial_message()
            )
        return []  # events this package does not use (progress pings and the like)

    def close(self) -> AIMessageChunk:
        if not self._completed:
            raise self.failed(
                OpenRouterAPIError(
                    "The Image API stream ended before an image was completed; "
                    "the connection was probably cut (nothing is billed for it)."
                )
            )
        return self.assembler.final_chunk()

    def failed(self, error: OpenRouterError) -> OpenRouterError:
        return self.assembler.attach_partial(error)


ENDPOINT = Endpoint(path=PATH, read_answer=read_answer, stream_reader=StreamReader)
