"""Typed shapes of what OpenRouter's chat/completions endpoint sends back.

Parsed straight from the raw bytes with pydantic (one pass, in Rust), never through
``.get()`` chains. Every model keeps unknown fields (``extra="allow"``): OpenRouter
adds fields faster than its schema documents them, and nothing may be dropped.
Fields the official SDK loses (``provider``, ``native_finish_reason``, ``images``)
are first-class here.

Error bodies vary more than answers do (a code as a number or a string, metadata
of any shape): their fields are ``Tolerant``, so a field of an unexpected type
reads as absent instead of making the whole error unreadable.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
)

T = TypeVar("T")


def _none_when_invalid(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    try:
        return handler(value)
    except ValidationError:
        return None


Tolerant = Annotated[T | None, WrapValidator(_none_when_invalid)]
"""A field that reads as None when the server sent something of another type."""


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


class ErrorMetadata(_Lenient):
    """``error.metadata``: moderation reasons, the provider's own words, a wait."""

    reasons: Tolerant[list[Any]] = None
    flagged_input: Tolerant[str] = None
    provider_name: Tolerant[str] = None
    raw: Any = None
    """The provider's error as it sent it: a string or any JSON."""
    retry_after_seconds: Tolerant[float] = None


class Availability(_Lenient):
    """Newer bodies say whether and when to retry: ``{code, retryable, retry_after}``."""

    code: Tolerant[str] = None
    retryable: Tolerant[bool] = None
    retry_after: Tolerant[float] = None


class ErrorObject(_Lenient):
    """``{"code": 502, "message": "...", "metadata": {...}}``; code may be a string."""

    code: Tolerant[int | str] = None
    message: Tolerant[str] = None
    metadata: Tolerant[ErrorMetadata] = None
    availability: Tolerant[Availability] = None


class ErrorBody(_Lenient):
    """A whole error answer: ``{"error": {...}, "user_id": "..."}``."""

    error: Tolerant[ErrorObject] = None


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
