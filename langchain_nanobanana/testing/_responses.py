"""Response bodies and SSE frames, shaped exactly like OpenRouter's recorded traffic."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from langchain_nanobanana.testing._answer import Answer

KEEP_ALIVE = b": OPENROUTER PROCESSING\n\n"
DONE = b"data: [DONE]\n\n"


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


def usage(answer: Answer) -> dict[str, Any]:
    return {
        "prompt_tokens": answer.prompt_tokens,
        "completion_tokens": answer.completion_tokens,
        "total_tokens": answer.prompt_tokens + answer.completion_tokens,
        "cost": answer.cost,
        "is_byok": False,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0, "video_tokens": 0},
        "cost_details": {
            "upstream_inference_cost": None,
            "upstream_inference_prompt_cost": answer.prompt_cost,
            "upstream_inference_completions_cost": round(answer.cost - answer.prompt_cost, 10),
        },
        "completion_tokens_details": {"reasoning_tokens": 0, "image_tokens": answer.image_tokens},
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


def completion_body(
    envelope: Envelope, answer: Answer, *, error: dict[str, Any] | None = None
) -> bytes:
    """A whole (non-streaming) answer; with ``error``, a choice that failed mid-way."""
    message: dict[str, Any] = {
        "role": "assistant",
        "content": answer.text,
        "refusal": answer.refusal,
        "reasoning": None,
    }
    images = _images(answer)
    if images:
        message["images"] = images
    choice: dict[str, Any] = {
        "logprobs": None,
        "finish_reason": "error" if error else answer.finish_reason,
        "native_finish_reason": None if error else answer.native_finish_reason,
        "index": 0,
        "message": message,
    }
    if error:
        choice["error"] = error
    body = {**envelope.fields("chat.completion"), "choices": [choice], "usage": usage(answer)}
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


def text_events(envelope: Envelope, answer: Answer) -> list[bytes]:
    return [
        _chunk(envelope, {"role": "assistant", "content": piece}, None, None)
        for piece in text_pieces(answer.text)
    ]


def closing_events(envelope: Envelope, answer: Answer) -> list[bytes]:
    """The image chunk (whole image, one line), the usage chunk and [DONE]."""
    finish, native = answer.finish_reason, answer.native_finish_reason
    delta: dict[str, Any] = {"role": "assistant", "content": ""}
    if answer.refusal is not None:
        delta["refusal"] = answer.refusal
    images = _images(answer)
    if images:
        delta["images"] = images
    return [
        _chunk(envelope, delta, finish, native, answer),
        _chunk(envelope, {"role": "assistant", "content": ""}, finish, native, usage=usage(answer)),
        DONE,
    ]


def mid_stream_error_event(envelope: Envelope, error: dict[str, Any]) -> bytes:
    return _chunk(envelope, {"role": "assistant", "content": ""}, "error", None, error=error)


def bare_error_event(error: dict[str, Any]) -> bytes:
    return _event({"error": error})
