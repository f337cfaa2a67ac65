"""Response bodies and SSE frames, shaped like OpenRouter's recorded traffic.

Where recordings of live traffic differ from each other (or from the docs), a
``WireShape`` option says which form to send; its defaults are the recorded ones:

- a chat stream has no text deltas: the first data chunk carries the whole image (and
  any text) with ``finish_reason: "stop"``; the next one an empty delta, the usage,
  and ``finish_reason: null, native_finish_reason: null``;
- usage comes with ``cost``, ``cost_details`` and ``is_byok`` (newer recordings; an
  older one has none of them);
- ``provider`` is "Google" for Google's models (an older recording says "Google AI
  Studio").
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from langchain_nanobanana.testing._answer import Answer

KEEP_ALIVE = b": OPENROUTER PROCESSING\n\n"
DONE = b"data: [DONE]\n\n"


@dataclass(frozen=True)
class WireShape:
    """The forms the emulator sends where reality varies; the defaults are recorded."""

    text_before_image: bool = False
    """Stream the text in deltas before the image chunk (not seen in recordings, which put
    everything in the image chunk; the docs' example streams text first)."""
    usage_cost: bool = True
    """Usage with ``cost``, ``cost_details`` and ``is_byok``; False: without them, as in
    a 2025-11 recording."""
    media_type: bool | None = None
    """``media_type`` beside each Image API image. None: as recorded and documented, left
    out of whole answers (a live Gemini answer had none) and present in stream events."""
    provider_name: str | None = None
    """``provider`` in every answer; None: "Google" for Google's models (recorded; an older
    recording says "Google AI Studio"), "OpenAI" for OpenAI's (recorded), else the name
    the model list gives."""


@dataclass(frozen=True)
class Envelope:
    """What every body and chunk of one generation repeats."""

    id: str
    model: str
    provider: str
    created: int

    def fields(self, kind: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "provider": self.provider,
            "model": self.model,
            "object": kind,
            "created": self.created,
        }


def error_object(code: int, message: str, metadata: dict[str, Any] | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if metadata:
        error["metadata"] = metadata
    return error


def error_body(code: int, message: str, metadata: dict[str, Any] | None = None) -> bytes:
    return json.dumps(
        {"error": error_object(code, message, metadata), "user_id": "user_fake"}
    ).encode()


def usage(answer: Answer, shape: WireShape) -> dict[str, Any]:
    counted: dict[str, Any] = {
        "prompt_tokens": answer.prompt_tokens,
        "completion_tokens": answer.completion_tokens,
        "total_tokens": answer.prompt_tokens + answer.completion_tokens,
    }
    if not shape.usage_cost:
        return {
            **counted,
            "completion_tokens_details": {
                "image_tokens": answer.image_tokens,
                "reasoning_tokens": answer.reasoning_tokens,
            },
            "prompt_tokens_details": {"cached_tokens": 0},
        }
    return {
        **counted,
        "cost": answer.cost,
        "is_byok": False,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0, "video_tokens": 0},
        "cost_details": {
            "upstream_inference_cost": None,
            "upstream_inference_prompt_cost": answer.prompt_cost,
            "upstream_inference_completions_cost": round(answer.cost - answer.prompt_cost, 10),
        },
        "completion_tokens_details": {
            "reasoning_tokens": answer.reasoning_tokens,
            "image_tokens": answer.image_tokens,
        },
    }


_IMAGE_SLOT = "@@image@@"


def _images(answer: Answer) -> list[dict[str, Any]]:
    if answer.image_png is None:
        return []
    return [{"type": "image_url", "image_url": {"url": _IMAGE_SLOT}, "index": 0}]


def _json(value: Any, answer: Answer) -> bytes:
    """``value`` as JSON, the image's data URL spliced in whole.

    Base64 needs no JSON escaping, so splicing skips json.dumps's pass over
    megabytes of it: the emulator must not be the bottleneck a benchmark measures.
    """
    text = json.dumps(value)
    url = answer.image_data_url
    if url is not None:
        text = text.replace(f'"{_IMAGE_SLOT}"', f'"{url}"', 1)
    return text.encode()


def _said(answer: Answer, message: dict[str, Any]) -> dict[str, Any]:
    """``message`` with what the model produced besides text: reasoning, tool calls, images."""
    if answer.reasoning is not None:
        message["reasoning"] = answer.reasoning
    if answer.reasoning_details:
        message["reasoning_details"] = answer.reasoning_details
    if answer.tool_calls:
        message["tool_calls"] = answer.tool_calls
    images = _images(answer)
    if images:
        message["images"] = images
    return message


def completion_body(
    envelope: Envelope, answer: Answer, shape: WireShape, *, error: dict[str, Any] | None = None
) -> bytes:
    """A whole (non-streaming) answer; with ``error``, a choice that failed mid-way."""
    message = _said(
        answer,
        {"role": "assistant", "content": answer.text, "refusal": answer.refusal, "reasoning": None},
    )
    choice: dict[str, Any] = {
        "logprobs": None,
        "finish_reason": "error" if error else answer.finish_reason,
        "native_finish_reason": None if error else answer.native_finish_reason,
        "index": 0,
        "message": message,
    }
    if error:
        choice["error"] = error
    body = {
        **envelope.fields("chat.completion"),
        "choices": [choice],
        "usage": usage(answer, shape),
    }
    return _json(body, answer)


def _event(payload: dict[str, Any], answer: Answer | None = None) -> bytes:
    encoded = _json(payload, answer) if answer is not None else json.dumps(payload).encode()
    return b"data: " + encoded + b"\n\n"


def _chunk(
    envelope: Envelope,
    delta: dict[str, Any],
    finish: str | None,
    native: str | None,
    answer: Answer | None = None,
    **extra: Any,
) -> bytes:
    choice = {
        "index": 0,
        "delta": delta,
        "finish_reason": finish,
        "native_finish_reason": native,
        "logprobs": None,
    }
    return _event(
        {**envelope.fields("chat.completion.chunk"), "choices": [choice], **extra}, answer
    )


def text_pieces(text: str) -> list[str]:
    """The text in up to three deltas, split at spaces, so clients must concatenate."""
    if not text:
        return []
    words = text.split(" ")
    step = max(1, -(-len(words) // 3))
    groups = [" ".join(words[i : i + step]) for i in range(0, len(words), step)]
    return [group + (" " if i < len(groups) - 1 else "") for i, group in enumerate(groups)]


def text_events(envelope: Envelope, answer: Answer, shape: WireShape) -> list[bytes]:
    """The text deltas streamed before the image, only with ``text_before_image``."""
    if not shape.text_before_image:
        return []
    return [
        _chunk(envelope, {"role": "assistant", "content": piece}, None, None)
        for piece in text_pieces(answer.text)
    ]


def _tool_call_pieces(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each call as two stream pieces sharing its index: id and name, then the arguments."""
    pieces: list[dict[str, Any]] = []
    for call in calls:
        function = call["function"]
        head = {"index": call["index"], "id": call["id"], "type": "function"}
        pieces.append({**head, "function": {"name": function["name"], "arguments": ""}})
        pieces.append({"index": call["index"], "function": {"arguments": function["arguments"]}})
    return pieces


def closing_events(envelope: Envelope, answer: Answer, shape: WireShape) -> list[bytes]:
    """The answer's chunk (whole image in one line, with the finish reason), then the
    usage chunk (empty delta, finish reasons null, as recorded) and [DONE]."""
    content = "" if shape.text_before_image else answer.text
    delta = _said(answer, {"role": "assistant", "content": content})
    if answer.refusal is not None:
        delta["refusal"] = answer.refusal
    calls = delta.pop("tool_calls", None)
    frames = []
    if calls:
        # Tool calls arrive in pieces a client must join by index.
        head, *rest = _tool_call_pieces(calls)
        frames.append(_chunk(envelope, {**delta, "tool_calls": [head]}, None, None, answer))
        frames.extend(
            _chunk(
                envelope, {"role": "assistant", "content": "", "tool_calls": [piece]}, None, None
            )
            for piece in rest
        )
        frames.append(
            _chunk(
                envelope,
                {"role": "assistant", "content": ""},
                answer.finish_reason,
                answer.native_finish_reason,
            )
        )
    else:
        frames.append(
            _chunk(envelope, delta, answer.finish_reason, answer.native_finish_reason, answer)
        )
    usage_chunk = _chunk(
        envelope, {"role": "assistant", "content": ""}, None, None, usage=usage(answer, shape)
    )
    return [*frames, usage_chunk, DONE]


def mid_stream_error_event(envelope: Envelope, error: dict[str, Any]) -> bytes:
    return _chunk(envelope, {"role": "assistant", "content": ""}, "error", None, error=error)


def bare_error_event(error: dict[str, Any]) -> bytes:
    return _event({"error": error})
