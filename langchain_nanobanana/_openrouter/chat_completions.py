"""The chat/completions endpoint: its request body, and the reading of its answers.

Everything the chat model must not know about this endpoint lives here: the
path, where each option goes in the body, how a whole answer and an SSE stream
of chunks become AIMessages, what ``[DONE]`` means, and when a stream counts as
cut short. Sync and async callers share all of it; they only feed bytes in.
A second endpoint (``/api/v1/images``) is a sibling module with the same three
pieces: ``request_body``, ``read_answer``, ``StreamReader``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage

from langchain_nanobanana._content.to_openrouter import to_openrouter_messages
from langchain_nanobanana._openrouter.assembler import ChunkAssembler, message_from_completion
from langchain_nanobanana._openrouter.endpoint import Endpoint
from langchain_nanobanana._openrouter.error_mapping import parsed
from langchain_nanobanana._openrouter.options import CallOptions
from langchain_nanobanana._openrouter.wire import Completion
from langchain_nanobanana.errors import OpenRouterAPIError, OpenRouterError

PATH = "chat/completions"
_DONE = b"[DONE]"


def request_body(
    messages: Sequence[BaseMessage],
    options: CallOptions,
    *,
    stream: bool,
    model_kwargs: Mapping[str, Any],
) -> dict[str, Any]:
    """The JSON body for one call.

    Unset options are left out so OpenRouter's own defaults apply; ``image_config``
    is sent only with the keys that are set, and only when an image is asked for;
    ``max_price`` goes inside ``provider``, beside the routing the caller gave.
    """
    image_api_only = options.placed("images")
    if image_api_only:
        msg = (
            f"{', '.join(image_api_only)}: options of OpenRouter's Image API only; pass "
            "endpoint='images' to ChatNanoBanana, or drop them."
        )
        raise ValueError(msg)
    body: dict[str, Any] = {
        "model": options.model,
        "messages": to_openrouter_messages(messages),
        "modalities": list(options.modalities),
    }
    image_config = options.placed("image_config")
    if image_config and "image" in body["modalities"]:
        body["image_config"] = image_config
    typed_routing = options.placed("provider")
    if typed_routing and "provider" in model_kwargs:
        # model_kwargs replace body fields whole: the typed routing would be lost unseen.
        msg = (
            f"{', '.join(typed_routing)} and model_kwargs['provider'] both set the provider "
            "routing; pass the routing as provider={...} instead of in model_kwargs."
        )
        raise ValueError(msg)
    body.update(options.placed("body"))
    routing = options.routing()
    if routing is not None:
        body["provider"] = routing  # the provider option, max_price inside it
    body.update(model_kwargs)
    if stream:
        body["stream"] = True
    return body


def parse_completion(raw: bytes | bytearray) -> Completion:
    """A response body or chunk payload; anything unreadable becomes OpenRouterAPIError."""
    return parsed(raw, Completion)


def read_answer(raw: bytearray, requested_model: str) -> AIMessage:
    """The AIMessage for a whole (non-streaming) answer body."""
    completion = parse_completion(raw)
    # A 4K answer is 30 MB: let it go before the message copies the image out.
    del raw
    return message_from_completion(completion, requested_model)


class StreamReader:
    """Reads one SSE answer, payload by payload, into AIMessageChunks.

    For each ``data:`` payload in arrival order: ``parse`` it, drop the payload
    (a megabyte line, gone before the image is copied out of it), then yield what
    ``add`` returns; stop once ``finished`` (``[DONE]`` arrived), then yield
    ``close()``. An ``OpenRouterError`` raised while reading goes through
    ``failed`` so it carries what had arrived: nothing paid for is lost.
    """

    def __init__(self, requested_model: str) -> None:
        self._assembler = ChunkAssembler(model=requested_model)
        self.finished = False

    def parse(self, payload: bytes) -> Completion | None:
        """The chunk a payload holds; None for ``[DONE]``, which finishes the stream."""
        if payload == _DONE:
            self.finished = True
            return None
        return parse_completion(payload)

    def add(self, completion: Completion | None) -> list[AIMessageChunk]:
        """What a parsed chunk adds to the message (nothing for an empty delta)."""
        if completion is None:
            return []
        chunk = self._assembler.add(completion)
        return [chunk] if chunk.content or chunk.additional_kwargs or chunk.tool_call_chunks else []

    def close(self) -> AIMessageChunk:
        """The closing chunk (metadata and usage, once); raises when the stream was cut."""
        if not self.finished and self._assembler.finish_reason is None:
            raise self.failed(
                OpenRouterAPIError(
                    "The OpenRouter stream ended before the answer was complete "
                    "(no finish_reason and no [DONE]); the connection was probably cut."
                )
            )
        self._assembler.check_answered()
        return self._assembler.final_chunk()

    def failed(self, error: OpenRouterError) -> OpenRouterError:
        """``error`` with what the stream had produced before it failed attached."""
        return self._assembler.attach_partial(error)


ENDPOINT = Endpoint(path=PATH, read_answer=read_answer, stream_reader=StreamReader)
