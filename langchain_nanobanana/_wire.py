"""Typed shapes of what OpenRouter's chat/completions endpoint sends back.

Parsed straight from the raw bytes with pydantic (one pass, in Rust), never through
``.get()`` chains. Every model keeps unknown fields (``extra="allow"``): OpenRouter
adds fields faster than its schema documents them, and nothing may be dropped.
Fields the official SDK loses (``provider``, ``native_finish_reason``, ``images``)
are first-class here.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from langchain_nanobanana._error_mapping import unreadable_answer


class _Lenient(BaseModel):
    # defer_build: validators are built on the first answer parsed, not at import.
    model_config = ConfigDict(extra="allow", defer_build=True)


class ImageURL(_Lenient):
    url: str


class ImagePart(_Lenient):
    """One generated image: ``{"type":"image_url","image_url":{"url":"data:..."}}``."""

    type: str = "image_url"
    image_url: ImageURL
    index: int | None = None


class Delta(_Lenient):
    """A message, or a piece of one in a stream: both have the same fields."""

    role: str | None = None
    content: str | None = None
    refusal: str | None = None
    reasoning: str | None = None
    reasoning_details: list[dict[str, Any]] | None = None
    images: list[ImagePart] | None = None


class ErrorObject(_Lenient):
    """``{"code": 502, "message": "...", "metadata": {...}}``; code may be a string."""

    code: int | str | None = None
    message: str = ""
    metadata: dict[str, Any] | None = None


class Choice(_Lenient):
    index: int = 0
    finish_reason: str | None = None
    native_finish_reason: str | None = None
    message: Delta | None = None
    delta: Delta | None = None
    error: ErrorObject | None = None

    @property
    def payload(self) -> Delta:
        """The message (non-streaming) or delta (streaming) this choice carries."""
        return self.message or self.delta or Delta()


class PromptTokensDetails(_Lenient):
    cached_tokens: int | None = None


class CompletionTokensDetails(_Lenient):
    reasoning_tokens: int | None = None
    image_tokens: int | None = None


class Usage(_Lenient):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cost: float | None = None
    is_byok: bool | None = None
    cost_details: dict[str, Any] | None = None
    prompt_tokens_details: PromptTokensDetails | None = None
    completion_tokens_details: CompletionTokensDetails | None = None


class Completion(_Lenient):
    """A whole response body or one stream chunk: the envelope is the same.

    ``error`` is set when OpenRouter reports a failure with HTTP 200, either as
    the whole body or beside the choices of a chunk.
    """

    id: str | None = None
    model: str | None = None
    provider: str | None = None
    object: str | None = None
    created: int | None = None
    choices: list[Choice] = Field(default_factory=list)
    usage: Usage | None = None
    error: ErrorObject | None = None


def parse_completion(raw: bytes | bytearray) -> Completion:
    """A response body or chunk payload; anything unreadable becomes OpenRouterAPIError."""
    try:
        return Completion.model_validate_json(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        raise unreadable_answer(raw, f"{where}: {first['msg']}") from None
