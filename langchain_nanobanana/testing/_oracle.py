"""OpenRouter's official SDK as a second oracle for the emulator and the package.

The emulator and the package were written from the same reading of OpenRouter's docs,
so where that reading is wrong both agree. The ``openrouter`` SDK's typed models are
generated from OpenRouter's own OpenAPI file: with ``FakeOpenRouter(check_schema=True)``
(or ``NANOBANANA_SCHEMA_CHECK=1``) every request this package sends is validated against
``ChatRequest`` / ``ImageGenerationRequest`` (one that fails is answered 400, as
OpenRouter's own request validation answers it), and every answer the emulator gives
(recordings replayed included) against ``ChatResult``, ``ChatStreamChunk``,
``ImageGenerationResponse``, the image stream events and the error bodies. Each failure
is kept as a ``SchemaViolation`` (``take_schema_violations``); the test suite fails a
test that caused one.

Where recorded traffic shows the schema is stricter than the service, the difference is
listed in ``KNOWN_GAPS``, and only there.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any

USER_AGENT_PREFIX = "langchain-nanobanana/"
"""Requests from this package say so; only they are held to the request schema."""

KNOWN_GAPS: dict[tuple[str, str, str], str] = {
    ("ChatResult", "system_fingerprint", "missing"): (
        "ChatResult requires system_fingerprint; no recorded answer (Gemini or OpenAI image "
        "models, 2025-11 to 2026-01) has one."
    ),
    ("ChatResult", "", "error body with status 200"): (
        "A provider failure can come as HTTP 200 whose whole body is {'error': {...}} (wire "
        "notes); it is checked as ChatStreamChunkError alone."
    ),
    ("ChatStreamChunk", "", "bare error event"): (
        "A chat stream event can be only {'error': {...}}, with no choices, id or model (wire "
        "notes); it is checked as ChatStreamChunkError alone."
    ),
}
"""(model, field path, pydantic error type or case) where the service differs from the
SDK's models, each with what shows it. The only exceptions the oracle makes."""

_ERROR_BODIES = {
    400: "BadRequestResponseErrorData",
    401: "UnauthorizedResponseErrorData",
    402: "PaymentRequiredResponseErrorData",
    403: "ForbiddenResponseErrorData",
    404: "NotFoundResponseErrorData",
    408: "RequestTimeoutResponseErrorData",
    413: "PayloadTooLargeResponseErrorData",
    422: "UnprocessableEntityResponseErrorData",
    429: "TooManyRequestsResponseErrorData",
    500: "InternalServerResponseErrorData",
    502: "BadGatewayResponseErrorData",
    503: "ServiceUnavailableResponseErrorData",
    524: "EdgeNetworkTimeoutResponseErrorData",
    529: "ProviderOverloadedResponseErrorData",
}


@dataclass(frozen=True)
class SchemaViolation:
    """Something sent (``request``) or answered (``answer``) that the official models refuse."""

    kind: str
    path: str
    model: str
    problems: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.kind} on {self.path} fails {self.model}: " + "; ".join(self.problems)


_violations: list[SchemaViolation] = []
_lock = threading.Lock()


def take_schema_violations() -> list[SchemaViolation]:
    """Every violation seen in this process since the last call (then forgotten)."""
    with _lock:
        taken = list(_violations)
        _violations.clear()
    return taken


def _models() -> Any:
    try:
        from openrouter import components, errors
    except ImportError as missing:
        msg = (
            "check_schema needs OpenRouter's official SDK: pip install 'openrouter>=1.3.84,<1.4' "
            "(it is in langchain-nanobanana's [test] extra)."
        )
        raise ImportError(msg) from missing
    return components, errors


def _problems(model: Any, value: Any) -> list[str]:
    """What ``model`` refuses in ``value``, less the known gaps."""
    from pydantic import ValidationError

    try:
        model.model_validate(value)
    except ValidationError as refused:
        name = model.__name__
        found = []
        for error in refused.errors():
            where = ".".join(str(part) for part in error["loc"])
            if (name, where, error["type"]) not in KNOWN_GAPS:
                found.append(f"{where}: {error['msg']}")
        return found
    return []


def _data_lines(events: list[bytes]) -> list[Any]:
    payloads = []
    for line in b"".join(events).split(b"\n"):
        if line.startswith(b"data:"):
            data = line[len(b"data:") :].strip()
            if data and data != b"[DONE]":
                payloads.append(json.loads(data))
    return payloads


class SchemaOracle:
    """Checks one emulator's traffic against the official SDK's models."""

    def __init__(self) -> None:
        self.components, self.errors = _models()

    def _note(self, kind: str, path: str, model: str, problems: list[str]) -> str | None:
        if not problems:
            return None
        violation = SchemaViolation(kind, path, model, tuple(problems[:5]))
        with _lock:
            _violations.append(violation)
        return str(violation)

    def request_refusal(self, path: str, headers: dict[str, str], body: Any) -> str | None:
        """Why the official request model refuses this package request; None when it passes
        (or the request is not this package's, or not to a model endpoint)."""
        if not headers.get("user-agent", "").startswith(USER_AGENT_PREFIX):
            return None
        name = {"/chat/completions": "ChatRequest", "/images": "ImageGenerationRequest"}.get(path)
        if name is None:
            return None
        return self._note("request", path, name, _problems(getattr(self.components, name), body))

    def check_answer(self, path: str, status: int, body: bytes, events: list[bytes] | None) -> None:
        """Note what the official models refuse in an answer to ``path``."""
        if path not in ("/chat/completions", "/images"):
            return
        if status != 200:
            name = _ERROR_BODIES.get(status)
            if name is not None:
                self._check(path, getattr(self.errors, name), _json(body))
            return
        if events is not None:
            for payload in _data_lines(events):
                self._check_event(path, payload)
            return
        answer = _json(body)
        if isinstance(answer, dict) and set(answer) <= {"error", "user_id"}:
            # KNOWN_GAPS: an error body with status 200.
            self._check(path, self.components.ChatStreamChunkError, answer.get("error"))
        elif path == "/images":
            self._check(path, self.components.ImageGenerationResponse, answer)
        else:
            self._check(path, self.components.ChatResult, answer)

    def _check_event(self, path: str, payload: Any) -> None:
        if path == "/images":
            wrapped = {"data": payload}
            self._check(path, self.components.ImageStreamingResponse, wrapped)
        elif isinstance(payload, dict) and set(payload) == {"error"}:
            # KNOWN_GAPS: a bare error event.
            self._check(path, self.components.ChatStreamChunkError, payload["error"])
        else:
            self._check(path, self.components.ChatStreamChunk, payload)

    def _check(self, path: str, model: Any, value: Any) -> None:
        self._note("answer", path, model.__name__, _problems(model, value))


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None
