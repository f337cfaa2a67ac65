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


class FunctionCall(_Lenient):
    """``{"name": ..., "arguments": "<JSON text>"}``; in a stream either may come in pieces."""

    name: str | None = None
    arguments: str | None = None


class ToolCall(_Lenient):
    """One tool call of an answer, or a piece of one in a stream (pieces share ``index``)."""

    index: int | None = None
    id: str | None = None
    type: str | None = None
    function: FunctionCall | None = None


class Delta(_Lenient):
    """A message, or a piece of one in a stream: both have the same fields."""

    role: str | None = None
    content: str | None = None
    refusal: str | None = None
    reasoning: str | None = None
    reasoning_details: list[dict[str, Any]] | None = None
    images: list[ImagePart] | None = None
    tool_calls: list[ToolCall] | None = None


class ErrorMetadata(_Lenient):
    """``error.metadata``: moderation reasons, the provider's own words, a wait, advice.

    Recorded bodies also carry ``limit_source`` (402), ``routing_funnel`` and
    ``failed_routing_step`` (404): kept as extra fields."""

    reasons: Tolerant[list[Any]] = None
    flagged_input: Tolerant[str] = None
    provider_name: Tolerant[str] = None
    raw: Any = None
    """The provider's error as it sent it: a string or any JSON."""
    retry_after_seconds: Tolerant[float] = None
    remedy_hint: Tolerant[str] = None
    """OpenRouter's own advice (seen on 402s)."""


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


# ---------------------------------------------------------------- the Image API (POST /images)


class GeneratedData(_Lenient):
    """One image of an Image API answer: ``{"b64_json": ..., "media_type": "image/png"}``."""

    b64_json: str | None = None
    url: str | None = None
    media_type: str | None = None
    """Omitted only when the provider did not say."""


class ImagesAnswer(_Lenient):
    """A whole Image API answer; ``error`` when a failure comes with HTTP 200."""

    created: int | None = None
    data: list[GeneratedData] = Field(default_factory=list)
    usage: Usage | None = None
    error: ErrorObject | None = None


class ImageEvent(_Lenient):
    """One SSE event of a streamed Image API answer, told apart by ``type``.

    ``image_generation.partial_image`` (a preview), ``image_generation.text_chunk``
    (text by ``phase``), ``image_generation.completed`` (a final image, with usage),
    ``error``. The event name may also come as the SSE ``event:`` field; the
    payload's ``type`` is what is read.
    """

    type: str | None = None
    b64_json: str | None = None
    media_type: str | None = None
    partial_image_index: int | None = None
    phase: str | None = None
    text: str | None = None
    delta: str | None = None
    usage: Usage | None = None
    code: Tolerant[int | str] = None
    message: Tolerant[str] = None
    error: ErrorObject | None = None


# ---------------------------------------------------------------- model lists (discovery)


class Architecture(_Lenient):
    input_modalities: Tolerant[list[str]] = None
    output_modalities: Tolerant[list[str]] = None


class ChatModelEntry(_Lenient):
    """One model of ``GET /models``: served on chat completions."""

    id: str
    architecture: Tolerant[Architecture] = None
    supported_parameters: Tolerant[list[str]] = None


class CapabilityDescriptor(_Lenient):
    """``{"type": "enum", "values": [...]}``, ``{"type": "range", "min": 0, "max": 100}``,
    or ``{"type": "boolean"}``: what one Image API parameter may be."""

    type: Tolerant[str] = None
    values: Tolerant[list[str]] = None
    min: Tolerant[float] = None
    max: Tolerant[float] = None


class ImageModelEntry(_Lenient):
    """One model of ``GET /images/models``: served on the Image API."""

    id: str
    architecture: Tolerant[Architecture] = None
    supported_parameters: Tolerant[dict[str, CapabilityDescriptor]] = None
    supports_streaming: Tolerant[bool] = None


class ModelList(_Lenient):
    data: Tolerant[list[ChatModelEntry]] = None


class ImageModelList(_Lenient):
    data: Tolerant[list[ImageModelEntry]] = None
