"""Error bodies read through typed shapes: odd fields never make a failure untyped."""

from __future__ import annotations

import json
from typing import Any

import pytest

from langchain_nanobanana._openrouter.error_mapping import error_from_response
from langchain_nanobanana.errors import (
    OpenRouterAPIError,
    OpenRouterPermissionDeniedError,
    OpenRouterRateLimitError,
)


def _error(status: int, error: Any, headers: dict[str, str] | None = None) -> Any:
    return error_from_response(status, json.dumps({"error": error}).encode(), headers or {})


def test_moderation_reasons_are_typed_and_kept() -> None:
    error = _error(
        403,
        {
            "code": 403,
            "message": "flagged",
            "metadata": {"reasons": ["violence"], "flagged_input": "x"},
        },
    )
    assert isinstance(error, OpenRouterPermissionDeniedError)
    assert error.reasons == ["violence"]
    assert error.flagged_input == "x"
    assert "moderation reasons: violence" in error.message


@pytest.mark.parametrize(
    "error",
    [
        {"code": 403, "message": "flagged", "metadata": {"reasons": "violence"}},
        {"code": 403, "message": 42, "metadata": "not an object"},
        {"code": [403], "message": "flagged"},
        "just a string",
    ],
)
def test_fields_of_an_unexpected_type_read_as_absent(error: Any) -> None:
    mapped = _error(403, error)
    assert isinstance(mapped, OpenRouterPermissionDeniedError)
    assert mapped.status_code == 403
    assert mapped.body == {"error": error}


def test_a_code_that_only_looks_numeric_falls_back_to_the_http_status() -> None:
    mapped = _error(502, {"code": "²", "message": "Provider returned error"})
    assert isinstance(mapped, OpenRouterAPIError)
    assert mapped.status_code == 502


@pytest.mark.parametrize(
    ("headers", "metadata", "availability", "expected"),
    [
        ({"retry-after": "7"}, None, None, 7.0),
        ({"retry-after": "soon"}, {"retry_after_seconds": 3}, None, 3.0),
        ({}, {"retry_after_seconds": -5}, None, 0.0),
        ({}, None, {"code": "rate_limited", "retry_after": 2.5}, 2.5),
        ({"retry-after": "Wed, 32 Foo 2026"}, None, None, None),
    ],
)
def test_retry_after_comes_from_the_header_or_the_body_and_is_never_negative(
    headers: dict[str, str], metadata: Any, availability: Any, expected: float | None
) -> None:
    error: dict[str, Any] = {"code": 429, "message": "slow down"}
    if metadata is not None:
        error["metadata"] = metadata
    if availability is not None:
        error["availability"] = availability
    mapped = _error(429, error, headers)
    assert isinstance(mapped, OpenRouterRateLimitError)
    assert mapped.retry_after == expected


def test_wrong_endpoint_says_which_endpoint_to_use() -> None:
    error = {
        "code": 400,
        "message": "krea/krea-2 is only available on the Image API",
        "availability": {"code": "wrong_endpoint", "retryable": False},
    }
    mapped = _error(400, error)
    assert "pass endpoint='images' (or 'chat') to ChatNanoBanana" in mapped.message
