"""Scripted outcomes: what the emulator should do with the next chat request."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

OutcomeKind = Literal[
    "answer", "http_error", "error_in_200", "choice_error", "drop_connection",
    "truncated_stream", "raw", "no_image",
]  # fmt: skip

_DEFAULT_MESSAGES = {
    400: "Invalid request",
    401: "No auth credentials found",
    402: (
        "This request requires more credits, or fewer max_tokens. You requested up to 32768 "
        "tokens, but can only afford 1024. To increase, visit "
        "https://openrouter.ai/settings/credits and upgrade to a paid account"
    ),
    403: "Your input was flagged by moderation",
    404: "No endpoints found for this model",
    408: "Request timed out",
    413: "Downloaded image content cannot exceed 30MB",
    422: "Unprocessable request",
    429: "Provider returned error",
    500: "Internal Server Error",
    502: "Provider returned error",
    503: "No provider available for this request",
    524: "Provider timed out at the edge",
    529: "Provider is overloaded",
}


# The metadata recorded with these statuses (a 402 and a 429 of live traffic).
_DEFAULT_METADATA: dict[int, dict[str, Any]] = {
    402: {"provider_name": None},
    429: {
        "provider_name": "Google",
        "raw": "The model is temporarily rate-limited upstream. Please retry shortly, or add "
        "your own key to accumulate your rate limits: https://openrouter.ai/settings/integrations",
    },
}


def default_message(status: int) -> str:
    return _DEFAULT_MESSAGES.get(status, f"HTTP {status}")


@dataclass(frozen=True)
class Outcome:
    """One scripted answer; build them with the class methods, queue them with ``enqueue``.

    Every kind takes ``delay=`` (seconds to wait before answering), so a slow
    server can be combined with any other behaviour.
    """

    kind: OutcomeKind = "answer"
    status: int = 200
    message: str = ""
    metadata: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    content_type: str = "application/json"
    native_finish_reason: str = "STOP"
    text: str | None = None
    delay: float = 0.0
    finish_reason: str = "stop"
    refusal: str | None = None
    cost: float = 0.0

    @classmethod
    def answer(cls, *, delay: float = 0.0) -> Outcome:
        """A normal answer (the default when the queue is empty)."""
        return cls(delay=delay)

    @classmethod
    def wait(cls, seconds: float) -> Outcome:
        """A normal answer after ``seconds``: a slow upstream."""
        return cls(delay=seconds)

    @classmethod
    def http_error(
        cls,
        status: int,
        message: str | None = None,
        *,
        metadata: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        delay: float = 0.0,
    ) -> Outcome:
        """An HTTP error status with OpenRouter's error body (e.g. 429 with Retry-After); a
        402 or 429 without ``metadata`` gets the metadata recorded with it."""
        return cls(
            "http_error",
            status,
            message or default_message(status),
            metadata if metadata is not None else _DEFAULT_METADATA.get(status),
            dict(headers or {}),
            delay=delay,
        )

    @classmethod
    def error_in_200(cls, code: int, message: str | None = None, *, delay: float = 0.0) -> Outcome:
        """HTTP 200 whose whole body (or only SSE event) is ``{"error": {...}}``."""
        return cls("error_in_200", code, message or default_message(code), delay=delay)

    @classmethod
    def choice_error(
        cls, code: int = 502, message: str | None = None, *, delay: float = 0.0
    ) -> Outcome:
        """A provider failure after the answer began: finish_reason "error" beside partial text."""
        metadata = {"error_type": "provider_unavailable"}
        return cls("choice_error", code, message or default_message(code), metadata, delay=delay)

    @classmethod
    def drop_connection(cls, *, delay: float = 0.0) -> Outcome:
        """The connection closes abruptly before the answer's first data chunk (after the
        first text with ``text_before_image``), or after half a whole body."""
        return cls("drop_connection", delay=delay)

    @classmethod
    def truncated_stream(cls, *, delay: float = 0.0) -> Outcome:
        """The stream ends cleanly before the answer's chunk (after the text, with
        ``text_before_image``): no image, no usage, no [DONE]."""
        return cls("truncated_stream", delay=delay)

    @classmethod
    def raw(
        cls, status: int, body: bytes, content_type: str = "text/html", *, delay: float = 0.0
    ) -> Outcome:
        """Exactly these bytes: malformed JSON, an HTML error page, ..."""
        return cls("raw", status, body=body, content_type=content_type, delay=delay)

    @classmethod
    def no_image(
        cls,
        native_finish_reason: str = "IMAGE_SAFETY",
        text: str = "",
        *,
        finish_reason: str = "stop",
        refusal: str | None = None,
        cost: float = 0.0,
        delay: float = 0.0,
    ) -> Outcome:
        """A 200 answer without an image, as when Gemini blocks or fails the picture; it
        costs ``cost`` USD: 0 by default, as the one recorded blocked image
        (IMAGE_RECITATION) shows; script a cost for a failure that is billed.

        ``native_finish_reason`` is Gemini's own (IMAGE_SAFETY, PROHIBITED_CONTENT,
        IMAGE_RECITATION, NO_IMAGE, MAX_TOKENS, ...); ``finish_reason`` OpenRouter's
        (``"stop"``, ``"content_filter"``, ``"length"``); ``refusal`` fills the
        OpenAI-style ``message.refusal`` field (``delta.refusal`` when streamed).
        On the Image API, whose answers carry no finish reason, this is an empty
        ``data`` list.
        """
        return cls(
            "no_image",
            native_finish_reason=native_finish_reason,
            text=text,
            finish_reason=finish_reason,
            refusal=refusal,
            cost=cost,
            delay=delay,
        )
