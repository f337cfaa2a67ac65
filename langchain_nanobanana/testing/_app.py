"""The emulator's behaviour, independent of how requests arrive (in process or over HTTP).

``EmulatedOpenRouter.handle`` takes a request and returns a ``Reply``: a status,
headers, and either a body or a list of SSE frames, plus where to cut the
connection and how long to wait first. The httpx transports and the loopback
server only carry these replies; neither adds behaviour of its own.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from langchain_nanobanana._catalog.models import ModelSpec
from langchain_nanobanana.testing._answer import Answer, compose
from langchain_nanobanana.testing._control import CONTROL_PATH, control
from langchain_nanobanana.testing._images import (
    InvalidImagesRequestError,
    image_endpoints,
    image_models,
)
from langchain_nanobanana.testing._images import compose as compose_images
from langchain_nanobanana.testing._images import validated as validate_images_request
from langchain_nanobanana.testing._outcomes import Outcome
from langchain_nanobanana.testing._responses import (
    KEEP_ALIVE,
    Envelope,
    WireShape,
    bare_error_event,
    closing_events,
    completion_body,
    error_body,
    error_object,
    mid_stream_error_event,
    text_events,
)

if TYPE_CHECKING:
    from langchain_nanobanana.testing._oracle import SchemaOracle
    from langchain_nanobanana.testing._replay import Recordings

API_PREFIX = "/api/v1"
MAX_IMAGE_BYTES = 30 * 1024 * 1024
_GENERATING = frozenset({("POST", "/chat/completions"), ("POST", "/images")})
_JSON = "application/json"
_SSE = "text/event-stream"


@dataclass(frozen=True)
class RecordedRequest:
    """One request the emulator received. The key is kept out of ``repr`` and headers."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    size: int
    client_port: int | None = None
    bearer_token: str | None = field(default=None, repr=False)


@dataclass
class Reply:
    status: int
    body: bytes = b""
    content_type: str = _JSON
    headers: dict[str, str] = field(default_factory=dict)
    events: list[bytes] | None = None
    drop_after: int | None = None
    """Frames (or, for a body, bytes) to send before cutting the connection."""
    delay: float = 0.0
    finished: Callable[[], None] | None = None
    """Called by the carrier once the reply is handed over (its delay served): frees the
    request's place when the emulator plays a busy account."""
    verbatim: bool = False
    """Bytes a test scripted as they are (``Outcome.raw``): no schema to hold them to."""


class _InvalidRequestError(Exception):
    def __init__(self, status: int, message: str, metadata: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.metadata = status, message, metadata


def _provider_of(spec: ModelSpec, shape: WireShape) -> str:
    if shape.provider_name is not None:
        return shape.provider_name
    return spec.name.split(":")[0]  # "Google", "OpenAI", "Black Forest Labs", ...


class EmulatedOpenRouter:
    """The shared state and rules behind FakeOpenRouter; thread-safe."""

    def __init__(
        self,
        *,
        reply_text: str,
        keep_alive_comments: int,
        leading_whitespace: int,
        latency: float,
        noise: bool,
        models: dict[str, ModelSpec],
        shape: WireShape,
        oracle: SchemaOracle | None = None,
        max_concurrent: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.models = models
        self.shape = shape
        self.oracle = oracle
        self.recordings: Recordings | None = None
        self.reply_text = reply_text
        self.keep_alive_comments = keep_alive_comments
        self.leading_whitespace = leading_whitespace
        self.latency = latency
        self.noise = noise
        self.requests: list[RecordedRequest] = []
        self.generations: dict[str, dict[str, Any]] = {}
        self._outcomes: deque[Outcome] = deque()
        self._lock = threading.Lock()
        self._counter = 0
        self.max_concurrent = max_concurrent
        self.retry_after = retry_after
        self.rate_limited = 0
        self._busy = 0

    def enqueue(self, *outcomes: Outcome) -> None:
        with self._lock:
            self._outcomes.extend(outcomes)

    def queued(self) -> int:
        with self._lock:
            return len(self._outcomes)

    def _next_outcome(self) -> Outcome:
        with self._lock:
            return self._outcomes.popleft() if self._outcomes else Outcome()

    def _new_envelope(self, spec: ModelSpec) -> Envelope:
        with self._lock:
            self._counter += 1
            number = self._counter
        created = int(time.time())
        return Envelope(
            f"gen-{created}-{number:020d}", spec.id, _provider_of(spec, self.shape), created
        )

    # ------------------------------------------------------------ entry point

    def handle(
        self,
        method: str,
        target: str,
        headers: dict[str, str],
        raw: bytes,
        client_port: int | None = None,
    ) -> Reply:
        path, _, query_string = target.partition("?")
        if path.removeprefix(API_PREFIX).startswith(CONTROL_PATH):  # not OpenRouter traffic
            status, answer = control(self, method, path.removeprefix(API_PREFIX), raw)
            return Reply(status, json.dumps(answer).encode())
        query = {key: values[-1] for key, values in parse_qs(query_string).items()}
        lowered = {key.lower(): value for key, value in headers.items()}
        token = lowered.get("authorization", "")
        bearer = token[len("Bearer ") :].strip() if token.startswith("Bearer ") else None
        if "authorization" in lowered:
            lowered["authorization"] = "Bearer ***"
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        with self._lock:
            self.requests.append(
                RecordedRequest(method, path, query, lowered, body, len(raw), client_port, bearer)
            )
        route = (method, path.removeprefix(API_PREFIX))
        if self.oracle is None or route not in _GENERATING:
            return self._route(route, bearer, body, raw, query)
        refused = self.oracle.request_refusal(route[1], lowered, body)
        if refused is not None:
            # As OpenRouter's own request validation answers a body its schema refuses.
            return Reply(400, error_body(400, f"Input validation error: {refused}"))
        reply = self._route(route, bearer, body, raw, query)
        if not reply.verbatim:
            self.oracle.check_answer(route[1], reply.status, reply.body, reply.events)
        return reply

    def _route(
        self,
        route: tuple[str, str],
        bearer: str | None,
        body: Any,
        raw: bytes,
        query: dict[str, str],
    ) -> Reply:
        method, path = route
        if self.recordings is not None and route in _GENERATING:
            if not bearer:
                return Reply(401, error_body(401, "No auth credentials found"))
            recorded = self.recordings.reply(path, body)
            return Reply(
                recorded.status,
                recorded.body,
                recorded.content_type,
                recorded.headers,
                recorded.events,
                delay=self.latency,
            )
        if route in _GENERATING and bearer and self.max_concurrent is not None:
            return self._when_free(route, bearer, body, raw)
        if route == ("POST", "/chat/completions"):
            return self._chat(bearer, body, raw)
        if route == ("POST", "/images"):
            return self._images(bearer, body)
        if route == ("GET", "/images/models"):
            return Reply(200, image_models(self.models.values()))
        if method == "GET" and path.startswith("/images/models/"):
            return self._image_endpoints(path)
        if route == ("GET", "/models"):
            return self._models(query)
        if route == ("GET", "/generation"):
            return self._generation(query)
        return Reply(404, error_body(404, f"No route for {method} {API_PREFIX}{path}"))

    # ------------------------------------------------------------ a busy account

    def _when_free(self, route: tuple[str, str], bearer: str, body: Any, raw: bytes) -> Reply:
        """The answer while fewer than ``max_concurrent`` requests are being served, else a
        429 as OpenRouter passes on a provider's rate limit."""
        with self._lock:
            refused = self._busy >= (self.max_concurrent or 0)
            if refused:
                self.rate_limited += 1
            else:
                self._busy += 1
        if refused:
            return self._rate_limited(body)
        try:
            if route == ("POST", "/images"):
                reply = self._images(bearer, body)
            else:
                reply = self._chat(bearer, body, raw)
        except BaseException:
            self._free()
            raise
        reply.finished = self._free
        return reply

    def _free(self) -> None:
        with self._lock:
            self._busy -= 1

    def _rate_limited(self, body: Any) -> Reply:
        """The recorded 429's shape: "Provider returned error", the provider's own text in
        ``metadata.raw``; plus a Retry-After header unless ``retry_after`` is None."""
        model = body.get("model") if isinstance(body, dict) else None
        spec = self.models.get(model) if isinstance(model, str) else None
        metadata = {
            "provider_name": _provider_of(spec, self.shape) if spec is not None else None,
            "raw": f"{model} is temporarily rate-limited upstream. Please retry shortly, or add "
            "your own key to accumulate your rate limits: "
            "https://openrouter.ai/settings/integrations",
        }
        headers = {} if self.retry_after is None else {"Retry-After": f"{self.retry_after:g}"}
        return Reply(429, error_body(429, "Provider returned error", metadata), headers=headers)

    # ------------------------------------------------------------ endpoints

    def _models(self, query: dict[str, str]) -> Reply:
        wanted = query.get("output_modalities")
        listed = [
            _model_entry(spec)
            for spec in self.models.values()
            if "chat" in spec.endpoints and (not wanted or wanted in spec.output_modalities)
        ]
        return Reply(200, json.dumps({"data": listed}).encode())

    def _image_endpoints(self, path: str) -> Reply:
        model_id = path.removeprefix("/images/models/").removesuffix("/endpoints")
        spec = self.models.get(model_id)
        if spec is None or "images" not in spec.endpoints:
            return Reply(404, error_body(404, f"No image model {model_id}"))
        return Reply(200, image_endpoints(spec))

    def _generation(self, query: dict[str, str]) -> Reply:
        record = self.generations.get(query.get("id", ""))
        if record is None:
            return Reply(404, error_body(404, "Generation not found"))
        return Reply(200, json.dumps({"data": record}).encode())

    @staticmethod
    def _scripted_failure(outcome: Outcome, *, stream: bool, delay: float) -> Reply | None:
        """The reply for a fault that comes before any answer, the same on every endpoint."""
        if outcome.kind == "raw":
            return Reply(
                outcome.status, outcome.body, outcome.content_type, delay=delay, verbatim=True
            )
        if outcome.kind == "http_error":
            return Reply(
                outcome.status,
                error_body(outcome.status, outcome.message, outcome.metadata),
                headers=outcome.headers,
                delay=delay,
            )
        if outcome.kind == "error_in_200":
            error = error_object(outcome.status, outcome.message)
            if stream:
                return Reply(200, content_type=_SSE, events=[bare_error_event(error)], delay=delay)
            return Reply(
                200, json.dumps({"error": error, "user_id": "user_fake"}).encode(), delay=delay
            )
        return None

    def _chat(self, bearer: str | None, body: Any, raw: bytes) -> Reply:
        if not bearer:
            return Reply(401, error_body(401, "No auth credentials found"))
        outcome = self._next_outcome()
        delay = self.latency + outcome.delay
        stream = isinstance(body, dict) and body.get("stream") is True
        scripted = self._scripted_failure(outcome, stream=stream, delay=delay)
        if scripted is not None:
            return scripted
        try:
            spec = _validated(body, raw, self.models)
        except InvalidImagesRequestError as wrong_endpoint:
            return Reply(wrong_endpoint.status, wrong_endpoint.body(), delay=delay)
        except _InvalidRequestError as invalid:
            return Reply(
                invalid.status,
                error_body(invalid.status, invalid.message, invalid.metadata),
                delay=delay,
            )
        answer = compose(body, spec, reply_text=self.reply_text, noise=self.noise)
        if outcome.kind == "no_image":
            answer.unbilled()
            answer.cost = outcome.cost
            answer.text = outcome.text if outcome.text is not None else answer.text
            answer.finish_reason = outcome.finish_reason
            answer.native_finish_reason = outcome.native_finish_reason
            answer.refusal = outcome.refusal
        envelope = self._new_envelope(spec)
        self._remember(envelope, answer)
        headers = {"X-Generation-Id": envelope.id}
        reply = (
            self._streamed(envelope, answer, outcome)
            if stream
            else self._whole(envelope, answer, outcome)
        )
        reply.headers.update(headers)
        reply.delay = delay
        return reply

    def _images(self, bearer: str | None, body: Any) -> Reply:
        if not bearer:
            return Reply(401, error_body(401, "No auth credentials found"))
        outcome = self._next_outcome()
        delay = self.latency + outcome.delay
        scripted = self._scripted_failure(outcome, stream=False, delay=delay)
        if scripted is not None:
            return scripted
        try:
            spec = validate_images_request(body, self.models)
            answer = compose_images(
                body, spec, int(time.time()), noise=self.noise, shape=self.shape
            )
        except InvalidImagesRequestError as invalid:
            return Reply(invalid.status, invalid.body(), delay=delay)
        if outcome.kind == "no_image":
            answer.unbilled()
        envelope = self._new_envelope(spec)
        self._remember_images(envelope, answer.usage)
        headers = {"X-Generation-Id": envelope.id}
        if body.get("stream") is True and spec.image_streaming:
            events = answer.events(outcome)
            drop = 1 if outcome.kind == "drop_connection" else None
            return Reply(
                200, content_type=_SSE, events=events, drop_after=drop, headers=headers, delay=delay
            )
        whole = answer.whole()
        drop = len(whole) // 2 if outcome.kind == "drop_connection" else None
        return Reply(200, whole, headers=headers, drop_after=drop, delay=delay)

    def _whole(self, envelope: Envelope, answer: Answer, outcome: Outcome) -> Reply:
        error = (
            error_object(outcome.status, outcome.message, outcome.metadata)
            if outcome.kind == "choice_error"
            else None
        )
        if error is not None:
            answer.image_png, answer.image_tokens = None, 0
        body = b" " * self.leading_whitespace + completion_body(
            envelope, answer, self.shape, error=error
        )
        drop = len(body) // 2 if outcome.kind == "drop_connection" else None
        return Reply(200, body, drop_after=drop)

    def _streamed(self, envelope: Envelope, answer: Answer, outcome: Outcome) -> Reply:
        keep_alives = [KEEP_ALIVE] * self.keep_alive_comments
        texts = text_events(envelope, answer, self.shape)
        # Faults strike after the first piece of text (with text_before_image), else
        # after the keep-alives, before the answer's first data chunk.
        first = keep_alives + texts[:1]
        if outcome.kind == "choice_error":
            error = error_object(outcome.status, outcome.message, outcome.metadata)
            events = [*first, mid_stream_error_event(envelope, error), b"data: [DONE]\n\n"]
            return Reply(200, content_type=_SSE, events=events)
        if outcome.kind == "drop_connection":
            return Reply(200, content_type=_SSE, events=[*first, *texts[1:]], drop_after=len(first))
        if outcome.kind == "truncated_stream":
            return Reply(200, content_type=_SSE, events=keep_alives + texts)
        closing = closing_events(envelope, answer, self.shape)
        return Reply(200, content_type=_SSE, events=keep_alives + texts + closing)

    def _remember_images(self, envelope: Envelope, usage: dict[str, Any]) -> None:
        # Billed only when the images are made: a failed generation records nothing.
        with self._lock:
            self.generations[envelope.id] = {
                "id": envelope.id,
                "model": envelope.model,
                "total_cost": usage.get("cost", 0.0),
                "tokens_prompt": usage["prompt_tokens"],
                "tokens_completion": usage["completion_tokens"],
                "api_type": "images",
            }

    def _remember(self, envelope: Envelope, answer: Answer) -> None:
        with self._lock:
            self.generations[envelope.id] = {
                "id": envelope.id,
                "model": envelope.model,
                "provider_name": envelope.provider,
                "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(envelope.created)),
                "total_cost": answer.cost,
                "tokens_prompt": answer.prompt_tokens,
                "tokens_completion": answer.completion_tokens,
                "native_tokens_prompt": answer.prompt_tokens,
                "native_tokens_completion": answer.completion_tokens,
                "finish_reason": answer.finish_reason,
                "native_finish_reason": answer.native_finish_reason,
                "streamed": None,
            }


def _validated(body: Any, raw: bytes, models: dict[str, ModelSpec]) -> ModelSpec:
    """The model's spec, or _InvalidRequestError with the status OpenRouter would answer."""
    if not isinstance(body, dict):
        raise _InvalidRequestError(400, "Invalid JSON body" if raw else "Request body is required")
    if not isinstance(body.get("model"), str):
        raise _InvalidRequestError(400, "model is required")
    if not isinstance(body.get("messages"), list) or not body["messages"]:
        raise _InvalidRequestError(400, "messages must be a non-empty array")
    spec = models.get(body["model"])
    if spec is None:
        raise _InvalidRequestError(404, f"No endpoints found for {body['model']}.")
    if "chat" not in spec.endpoints:
        raise InvalidImagesRequestError(
            400,
            f"{spec.id} is only available on the Image API; use /images",
            availability="wrong_endpoint",
        )
    modalities = body.get("modalities") or ["text"]
    if spec.image_only and "text" in modalities:
        raise _InvalidRequestError(
            404,
            "No endpoints found that support the requested output modalities: "
            + ", ".join(modalities),
        )
    if body.get("tools") and "tools" not in spec.supported_parameters:
        # Recorded (Gemini 3.1 Flash Lite Image): no provider of the model takes tools.
        raise _InvalidRequestError(404, "No endpoints found that support tool use")
    image_config = body.get("image_config") or {}
    ratio, size = image_config.get("aspect_ratio"), image_config.get("image_size")
    if ratio is not None and ratio not in spec.aspect_ratios:
        raise _InvalidRequestError(
            400,
            f"Unsupported aspect_ratio {ratio!r} for {spec.id}",
            {"allowed": list(spec.aspect_ratios)},
        )
    if size is not None and size not in spec.image_sizes:
        raise _InvalidRequestError(
            400,
            f"Unsupported image_size {size!r} for {spec.id}",
            {"allowed": list(spec.image_sizes)},
        )
    for message in body["messages"]:
        if not isinstance(message, dict) or "role" not in message:
            raise _InvalidRequestError(400, "each message needs a role")
        content = message.get("content")
        for part in content if isinstance(content, list) else []:
            _check_part(part)
    return spec


def _check_part(part: Any) -> None:
    if not isinstance(part, dict) or part.get("type") not in ("text", "image_url", "file"):
        raise _InvalidRequestError(400, f"Invalid content part: {str(part)[:80]}")
    if part["type"] != "image_url":
        return
    url = str((part.get("image_url") or {}).get("url", ""))
    if url.startswith("data:"):
        payload = url.partition(",")[2]
        if len(payload) * 3 // 4 > MAX_IMAGE_BYTES:
            raise _InvalidRequestError(413, "Downloaded image content cannot exceed 30MB")
        try:
            base64.b64decode(payload[:64], validate=False)
        except ValueError:
            raise _InvalidRequestError(400, "invalid_image: image data is not base64") from None
    elif not url.startswith(("https://", "http://")):
        raise _InvalidRequestError(
            400, "invalid_image: image_url.url must be a data URL or http(s) URL"
        )


def _model_entry(spec: ModelSpec) -> dict[str, Any]:
    return {
        "id": spec.id,
        "name": spec.name,
        "context_length": spec.context_length,
        "architecture": {
            "input_modalities": list(spec.input_modalities),
            "output_modalities": list(spec.output_modalities),
            "modality": "text+image->" + "+".join(spec.output_modalities),
        },
        "pricing": {
            "prompt": f"{spec.prices.prompt:.10f}".rstrip("0"),
            "completion": f"{spec.prices.text_output:.10f}".rstrip("0"),
            # "image" would be the price of an INPUT image, which the catalog does not know.
            "image_output": f"{spec.prices.image_output:.10f}".rstrip("0"),
            "request": "0",
        },
        "supported_parameters": list(spec.supported_parameters),
    }
