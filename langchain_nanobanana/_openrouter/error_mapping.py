"""Turn what OpenRouter reports (a status, an error body) into one of our exceptions.

The one translation point for every way a failure arrives: an HTTP error status
(``error_from_response``), and an error reported inside an answer, as its whole
body with HTTP 200, beside a choice, or in a chunk mid-stream (``error_from_reported``).
Both read the typed shapes of ``_wire``; nothing here walks dicts.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping
from typing import Any, TypeVar

import pydantic_core
from langchain_core.messages import AIMessage
from pydantic import BaseModel, ValidationError

from langchain_nanobanana._openrouter.wire import ErrorBody, ErrorObject
from langchain_nanobanana.errors import (
    OpenRouterAPIError,
    OpenRouterAuthenticationError,
    OpenRouterConnectionError,
    OpenRouterContextOverflowError,
    OpenRouterError,
    OpenRouterInsufficientCreditsError,
    OpenRouterInvalidRequestError,
    OpenRouterNotFoundError,
    OpenRouterPermissionDeniedError,
    OpenRouterRateLimitError,
    OpenRouterTimeoutError,
)

_EXCERPT_CHARS = 500

_ADVICE = {
    401: "Set OPENROUTER_API_KEY (or pass api_key=...) to a valid OpenRouter key; "
    "keys start with 'sk-or-'.",
    402: "Add credits at https://openrouter.ai/settings/credits, or lower max_tokens: "
    "OpenRouter reserves credit for max_tokens (the model maximum when unset).",
    404: "Check the model id (e.g. 'google/gemini-2.5-flash-image'); image-only models "
    "such as FLUX need modalities=['image'].",
}

# Recorded: Gemini 3.1 Flash Lite Image given tools answers 404 "No endpoints found that
# support tool use".
_NO_TOOL_USE = (
    "No provider of this model calls tools: drop the tools (or bind them to an image model "
    "that calls tools, such as 'openai/gpt-5-image-mini')."
)

_CLASS_BY_STATUS: dict[int, type[OpenRouterError]] = {
    401: OpenRouterAuthenticationError,
    402: OpenRouterInsufficientCreditsError,
    403: OpenRouterPermissionDeniedError,
    404: OpenRouterNotFoundError,
    408: OpenRouterTimeoutError,
    429: OpenRouterRateLimitError,
    400: OpenRouterInvalidRequestError,
    413: OpenRouterInvalidRequestError,
    422: OpenRouterInvalidRequestError,
}


def excerpt(raw: bytes | bytearray | str) -> str:
    """The start of a body, safe to put in an error message."""
    text = (
        raw if isinstance(raw, str) else bytes(raw[: _EXCERPT_CHARS * 4]).decode("utf-8", "replace")
    )
    text = text.strip()
    return text if len(text) <= _EXCERPT_CHARS else text[:_EXCERPT_CHARS] + "..."


def is_retryable_status(status: int) -> bool:
    """408, 429 and every 5xx (524 and 529 included) may succeed when tried again."""
    return status in (408, 429) or status >= 500


def is_retryable(error: OpenRouterError) -> bool:
    """Whether trying the same request again may succeed (connection failures do)."""
    if isinstance(error, OpenRouterConnectionError):
        return True
    return error.status_code is not None and is_retryable_status(error.status_code)


def _status_of(code: int | str | None, fallback: int | None) -> int | None:
    """OpenRouter sends ``error.code`` as a number or a numeric string."""
    if isinstance(code, int):
        return code
    if isinstance(code, str) and code.isascii() and code.isdigit():
        return int(code)
    return fallback


def parse_retry_after(header: str | None, error: ErrorObject | None = None) -> float | None:
    """Seconds to wait, from a Retry-After header (seconds or HTTP date) or the body."""
    if header:
        try:
            return max(0.0, float(header))
        except ValueError:
            pass
        try:
            parsed = email.utils.parsedate_to_datetime(header)
        except (TypeError, ValueError):
            parsed = None
        if parsed is not None:
            return max(0.0, parsed.timestamp() - time.time())
    if error is None:
        return None
    for seconds in (
        error.metadata.retry_after_seconds if error.metadata else None,
        error.availability.retry_after if error.availability else None,
    ):
        if seconds is not None:
            return max(0.0, seconds)
    return None


def _class_for(status: int | None, message: str) -> type[OpenRouterError]:
    chosen = _CLASS_BY_STATUS.get(status, OpenRouterAPIError) if status else OpenRouterAPIError
    if chosen is OpenRouterInvalidRequestError:
        words = message.lower()
        if "context" in words and "length" in words:
            return OpenRouterContextOverflowError
    return chosen


def _message(
    status: int | None, said: str, error: ErrorObject | None, generation_id: str | None
) -> str:
    parts = [f"OpenRouter error {status}" if status else "OpenRouter error"]
    if said:
        parts.append(f": {said}")
    metadata = error.metadata if error is not None else None
    if status == 403 and metadata is not None and metadata.reasons:
        parts.append(f" (moderation reasons: {', '.join(map(str, metadata.reasons))})")
    if metadata is not None and metadata.raw and status and (status >= 500 or status == 429):
        # "Provider returned error" says nothing; the provider's own words do (recorded 429).
        parts.append(f" (provider said: {excerpt(str(metadata.raw))})")
    if metadata is not None and metadata.remedy_hint:
        parts.append(f" (OpenRouter advises: {excerpt(metadata.remedy_hint)})")
    if status == 404 and "tool use" in said.lower():
        parts.append(f". {_NO_TOOL_USE}")
    elif status in _ADVICE:
        parts.append(f". {_ADVICE[status]}")
    if error is not None and error.availability and error.availability.code == "wrong_endpoint":
        parts.append(
            ". OpenRouter serves this model on its other endpoint: pass endpoint='images' "
            "(or 'chat') to ChatNanoBanana"
        )
    if generation_id:
        parts.append(f" [generation {generation_id}]")
    return "".join(parts)


def _build(
    status: int | None,
    error: ErrorObject | None,
    *,
    body: dict[str, Any] | None,
    raw: bytes | bytearray | None = None,
    generation_id: str | None = None,
    retry_after_header: str | None = None,
    partial_message: AIMessage | None = None,
) -> OpenRouterError:
    # An error.code in the body wins over the HTTP status: errors inside a 200
    # answer carry their real status only there.
    status = _status_of(error.code if error else None, status)
    said = (error.message if error else None) or (excerpt(raw) if raw else "")
    return _class_for(status, said)(
        _message(status, said, error, generation_id),
        status_code=status,
        body=body,
        generation_id=generation_id,
        retry_after=parse_retry_after(retry_after_header, error),
        partial_message=partial_message,
    )


def error_from_response(
    status: int, raw: bytes | bytearray, headers: Mapping[str, str]
) -> OpenRouterError:
    """The exception for an HTTP error answer: its status, body and headers.

    The body is kept on the exception as OpenRouter sent it (or as an excerpt
    when it is not a JSON object: an HTML page from a proxy, say).
    """
    try:
        # pydantic's parser stops at a bounded depth (ValueError); json.loads would
        # raise RecursionError on a body nested a few thousand deep.
        body = pydantic_core.from_json(raw) if raw.strip() else None
    except ValueError:
        body = None
    if not isinstance(body, dict):
        body = None
    try:
        error = ErrorBody.model_validate(body).error if body is not None else None
    except ValidationError:
        error = None
    return _build(
        status,
        error,
        body=body if body is not None else ({"raw": excerpt(raw)} if raw else None),
        raw=raw,
        generation_id=headers.get("x-generation-id"),
        retry_after_header=headers.get("retry-after"),
    )


def error_from_reported(
    error: ErrorObject | None,
    *,
    generation_id: str | None,
    partial_message: AIMessage | None,
) -> OpenRouterError:
    """The exception for an error reported inside an answer (``None``: a bare
    ``finish_reason: "error"`` that said nothing more)."""
    reported = (
        error.model_dump(exclude_unset=True)
        if error is not None
        else {"message": "finish_reason error"}
    )
    return _build(
        None,
        error if error is not None else ErrorObject(message="finish_reason error"),
        body={"error": reported},
        generation_id=generation_id,
        partial_message=partial_message,
    )


def unreadable_answer(
    raw: bytes | bytearray | str, why: str, *, status: int | None = None
) -> OpenRouterAPIError:
    """An answer that is not what OpenRouter sends: malformed JSON, an HTML page, ..."""
    shown = excerpt(raw)
    return OpenRouterAPIError(
        f"OpenRouter sent an answer that could not be read ({why}): {shown!r}",
        status_code=status,
        body={"raw": shown},
    )


ShapeT = TypeVar("ShapeT", bound=BaseModel)


def parsed(raw: bytes | bytearray, shape: type[ShapeT]) -> ShapeT:
    """``raw`` read as ``shape``; anything unreadable becomes OpenRouterAPIError with an excerpt."""
    try:
        return shape.model_validate_json(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        raise unreadable_answer(raw, f"{where}: {first['msg']}") from None
