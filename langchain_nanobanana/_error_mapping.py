"""Turn what OpenRouter reports (a status, an error body) into one of our exceptions.

One mapping serves every way a failure arrives: an HTTP error status, an error
body with HTTP 200, an error beside a choice, and an error chunk mid-stream.
"""

from __future__ import annotations

import email.utils
import time
from typing import Any

from langchain_core.messages import AIMessage

from langchain_nanobanana.errors import (
    OpenRouterAPIError,
    OpenRouterAuthenticationError,
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


def _object_at(container: Any, key: str) -> dict[str, Any]:
    """``container[key]`` when both are JSON objects, else an empty one: bodies vary."""
    value = container.get(key) if isinstance(container, dict) else None
    return value if isinstance(value, dict) else {}


def _status_of(code: Any, fallback: int | None) -> int | None:
    """OpenRouter sends ``error.code`` as a number or a numeric string."""
    if isinstance(code, int):
        return code
    if isinstance(code, str) and code.isdigit():
        return int(code)
    return fallback


def parse_retry_after(header: str | None, error: dict[str, Any] | None = None) -> float | None:
    """Seconds to wait, from a Retry-After header (seconds or HTTP date) or the body."""
    if header:
        try:
            return max(0.0, float(header))
        except ValueError:
            parsed = email.utils.parsedate_to_datetime(header) if header else None
            if parsed is not None:
                return max(0.0, parsed.timestamp() - time.time())
    metadata = (error or {}).get("metadata")
    if isinstance(metadata, dict) and isinstance(metadata.get("retry_after_seconds"), (int, float)):
        return float(metadata["retry_after_seconds"])
    availability = (error or {}).get("availability")
    if isinstance(availability, dict) and isinstance(availability.get("retry_after"), (int, float)):
        return float(availability["retry_after"])
    return None


def _class_for(status: int | None, message: str) -> type[OpenRouterError]:
    if status == 401:
        return OpenRouterAuthenticationError
    if status == 402:
        return OpenRouterInsufficientCreditsError
    if status == 403:
        return OpenRouterPermissionDeniedError
    if status == 404:
        return OpenRouterNotFoundError
    if status == 408:
        return OpenRouterTimeoutError
    if status == 429:
        return OpenRouterRateLimitError
    if status in (400, 413, 422):
        if "context" in message.lower() and "length" in message.lower():
            return OpenRouterContextOverflowError
        return OpenRouterInvalidRequestError
    return OpenRouterAPIError


def error_from_body(
    status: int | None,
    body: dict[str, Any] | None,
    *,
    raw: bytes | bytearray | None = None,
    generation_id: str | None = None,
    retry_after_header: str | None = None,
    partial_message: AIMessage | None = None,
) -> OpenRouterError:
    """The exception for a failure OpenRouter reported.

    ``status`` is the HTTP status; an ``error.code`` in the body wins over it, since
    errors inside a 200 answer carry their real status only there.
    """
    error = _object_at(body, "error")
    status = _status_of(error.get("code"), status)
    said = str(error.get("message") or "") or (excerpt(raw) if raw else "")
    parts = [f"OpenRouter error {status}" if status else "OpenRouter error"]
    if said:
        parts.append(f": {said}")
    metadata = _object_at(error, "metadata")
    if status == 403 and metadata.get("reasons"):
        parts.append(f" (moderation reasons: {', '.join(map(str, metadata['reasons']))})")
    if metadata.get("raw") and status and status >= 500:
        parts.append(f" (provider said: {excerpt(str(metadata['raw']))})")
    if status in _ADVICE:
        parts.append(f". {_ADVICE[status]}")
    if generation_id:
        parts.append(f" [generation {generation_id}]")
    message = "".join(parts)
    stored_body = body if isinstance(body, dict) else ({"raw": excerpt(raw)} if raw else None)
    return _class_for(status, said)(
        message,
        status_code=status,
        body=stored_body,
        generation_id=generation_id,
        retry_after=parse_retry_after(retry_after_header, error),
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
