"""The emulated Image API: ``POST /images`` and ``GET /images/models``.

Built from OpenRouter's documentation of the endpoint and one quoted live answer:
the request fields and their checks (``input_references`` are ``ContentPartImage``
objects; a bare string is refused as OpenRouter's request validation refuses it),
``{"created", "data": [{"b64_json"}], "usage"}`` answers (a live Gemini answer had no
``media_type``; ``WireShape.media_type`` adds it), data-only SSE events for models
that stream natively (``image_generation.partial_image``,
``image_generation.completed``, ``{"type": "error", "error": {"message", "code"}}``,
then ``[DONE]``; other models answer a stream request with a whole answer), and the
documented errors: 400 for conflicting size and ratio, 400 ``wrong_endpoint`` for a
chat-only model, 413 for an oversized reference, 502 for a failed generation
(scripted with ``Outcome.http_error(502)``). ``quality`` is ignored by models without
a quality setting and ``output_format`` is honoured for any raster format, as the
docs say; a background the model lacks is refused (nothing says either way).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import io
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from langchain_nanobanana._catalog.models import (
    IMAGE_API_RESOLUTIONS,
    MAX_IMAGES_PER_CALL,
    MAX_REFERENCE_IMAGES,
    ModelSpec,
)
from langchain_nanobanana.testing._answer import INPUT_IMAGE_TOKENS, picture
from langchain_nanobanana.testing._outcomes import Outcome
from langchain_nanobanana.testing._responses import WireShape

MAX_REFERENCE_BYTES = 30 * 1024 * 1024
_SIZE_OF_RESOLUTION = {value: key for key, value in IMAGE_API_RESOLUTIONS.items()}
_MEDIA_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}
_PREVIEW_PIXELS = 64
_JSON_TYPES = {str: "string", int: "number", float: "number", list: "array", type(None): "null"}


class InvalidImagesRequestError(Exception):
    """What OpenRouter would answer with a 4xx to this request."""

    def __init__(self, status: int, message: str, *, availability: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.availability = status, message, availability

    def body(self) -> bytes:
        error: dict[str, Any] = {"code": self.status, "message": self.message}
        if self.availability:
            error["availability"] = {"code": self.availability, "retryable": False}
        return json.dumps({"error": error, "user_id": "user_fake"}).encode()


@dataclass
class ImagesAnswer:
    """What the emulated model makes for one valid request."""

    images: list[tuple[bytes, str]]
    """(bytes, media type) per image."""
    usage: dict[str, Any]
    created: int
    shape: WireShape

    def unbilled(self) -> None:
        """No image after all: the Image API bills all or nothing."""
        self.images = []
        self.usage = {
            **self.usage,
            "completion_tokens": 0,
            "total_tokens": self.usage["prompt_tokens"],
        }
        if "cost" in self.usage:
            self.usage["cost"] = 0.0

    def _item(self, base64: str, media_type: str, *, streamed: bool) -> dict[str, Any]:
        labelled = self.shape.media_type if self.shape.media_type is not None else streamed
        return {"b64_json": base64, "media_type": media_type} if labelled else {"b64_json": base64}

    def whole(self) -> bytes:
        # The base64 is spliced into the JSON rather than run through json.dumps:
        # a benchmark must measure the client, not the emulator's encoder.
        data = [
            self._item(f"@{number}@", media_type, streamed=False)
            for number, (_, media_type) in enumerate(self.images)
        ]
        body = json.dumps({"created": self.created, "data": data, "usage": self.usage})
        for number, (image, _) in enumerate(self.images):
            body = body.replace(f'"@{number}@"', f'"{_base64(image)}"', 1)
        return body.encode()

    def events(self, outcome: Outcome) -> list[bytes]:
        """SSE frames: per image a preview, then the image; usage on the last one."""
        frames: list[bytes] = []
        for number, (image, media_type) in enumerate(self.images):
            preview = picture(_PREVIEW_PIXELS, _PREVIEW_PIXELS, f"preview-{number}")
            frames.append(
                _event(
                    "image_generation.partial_image",
                    {"partial_image_index": 0, "b64_json": _base64(preview)},
                )
            )
            if outcome.kind == "choice_error":
                # As documented: the code is a string, the message what went wrong.
                error = {"message": outcome.message, "code": "server_error"}
                return [*frames, _event("error", {"error": error}), b"data: [DONE]\n\n"]
            if outcome.kind == "truncated_stream":
                return frames
            completed = {
                **self._item(_base64(image), media_type, streamed=True),
                "created": self.created,
            }
            if number == len(self.images) - 1:
                completed["usage"] = self.usage
            frames.append(_event("image_generation.completed", completed))
        return [*frames, b"data: [DONE]\n\n"]


@functools.lru_cache(maxsize=32)
def _base64(image: bytes) -> str:
    """Pictures repeat (same request, same picture), so their base64 is made once."""
    return base64.b64encode(image).decode()


def _event(kind: str, payload: dict[str, Any]) -> bytes:
    """A data-only SSE event whose JSON names its ``type``, as the docs show them."""
    return b"data: " + json.dumps({"type": kind, **payload}).encode() + b"\n\n"


def _one_of(name: str, value: Any, allowed: tuple[str, ...], spec: ModelSpec) -> None:
    if value is not None and value not in allowed:
        message = (
            f"{spec.id} does not support {name}={value!r}"
            if allowed
            else f"{spec.id} does not support {name}"
        )
        raise InvalidImagesRequestError(400, message)


def _references(body: dict[str, Any]) -> list[bytes]:
    references = body.get("input_references") or []
    if not isinstance(references, list) or len(references) > MAX_REFERENCE_IMAGES:
        raise InvalidImagesRequestError(
            400, f"input_references must be a list of at most {MAX_REFERENCE_IMAGES} images"
        )
    sources = []
    for number, reference in enumerate(references):
        url = _reference_url(reference, number)
        if not url.startswith(("data:", "https://", "http://")):
            raise InvalidImagesRequestError(
                400, "invalid_image: a reference must be a data or https URL"
            )
        if url.startswith("data:"):
            payload = url.partition(",")[2]
            if len(payload) * 3 // 4 > MAX_REFERENCE_BYTES:
                raise InvalidImagesRequestError(413, "Downloaded image content cannot exceed 30MB")
            sources.append(base64.b64decode(payload))
        else:
            sources.append(url.encode())
    return sources


def _reference_url(reference: Any, number: int) -> str:
    """The URL of one ``{"type": "image_url", "image_url": {"url": ...}}`` reference; a bare
    string or any other shape fails as OpenRouter's request validation fails it."""
    shaped = isinstance(reference, dict) and reference.get("type") == "image_url"
    image_url = reference.get("image_url") if shaped else None
    url = image_url.get("url") if isinstance(image_url, dict) else None
    if not isinstance(url, str):
        received = _JSON_TYPES.get(type(reference), "object")
        raise InvalidImagesRequestError(
            400,
            f"Input validation error: input_references.{number}: expected an object "
            f'{{"type": "image_url", "image_url": {{"url": ...}}}}, received {received}',
        )
    return url


def validated(body: Any, models: Mapping[str, ModelSpec]) -> ModelSpec:
    """The model's spec, or InvalidImagesRequestError with OpenRouter's answer."""
    if not isinstance(body, dict):
        raise InvalidImagesRequestError(400, "Request body is required")
    if not isinstance(body.get("model"), str) or not isinstance(body.get("prompt"), str):
        raise InvalidImagesRequestError(400, "model and prompt are required")
    spec = models.get(body["model"])
    if spec is None:
        raise InvalidImagesRequestError(404, f"No endpoints found for {body['model']}.")
    if "images" not in spec.endpoints:
        raise InvalidImagesRequestError(
            400,
            f"{spec.id} is not available on the Image API; use /chat/completions",
            availability="wrong_endpoint",
        )
    n = body.get("n", 1)
    if not isinstance(n, int) or not 1 <= n <= MAX_IMAGES_PER_CALL:
        raise InvalidImagesRequestError(400, f"n must be between 1 and {MAX_IMAGES_PER_CALL}")
    if n > spec.images_per_request:
        raise InvalidImagesRequestError(400, f"{spec.id} returns one image per request (n={n})")
    if "size" in body and ("resolution" in body or "aspect_ratio" in body):
        raise InvalidImagesRequestError(400, "size conflicts with resolution/aspect_ratio")
    ratios = (*spec.aspect_ratios, "auto") if spec.id.startswith("google/") else spec.aspect_ratios
    _one_of("aspect_ratio", body.get("aspect_ratio"), ratios, spec)
    sizes = tuple(IMAGE_API_RESOLUTIONS[size] for size in spec.image_sizes)
    _one_of("resolution", body.get("resolution"), sizes, spec)
    if spec.qualities:  # "Providers without a quality knob ignore this" (OpenAPI)
        _one_of("quality", body.get("quality"), spec.qualities, spec)
    _one_of("output_format", body.get("output_format"), tuple(_MEDIA_TYPES), spec)
    _one_of("background", body.get("background"), spec.backgrounds, spec)
    _references(body)  # refused before anything is made
    compression = body.get("output_compression")
    if compression is not None and not (isinstance(compression, int) and 0 <= compression <= 100):
        raise InvalidImagesRequestError(400, "output_compression must be between 0 and 100")
    return spec


def _encoded(png: bytes, output_format: str) -> bytes:
    if output_format == "png":
        return png
    try:
        from PIL import Image
    except ImportError:
        raise InvalidImagesRequestError(
            400, f"the emulator needs Pillow to answer output_format={output_format!r}"
        ) from None
    buffer = io.BytesIO()
    Image.open(io.BytesIO(png)).convert("RGB").save(buffer, format=output_format.upper())
    return buffer.getvalue()


def compose(
    body: dict[str, Any], spec: ModelSpec, created: int, *, noise: bool, shape: WireShape
) -> ImagesAnswer:
    """The images and usage for a request that passed ``validated``."""
    sources = _references(body)
    n = body.get("n", 1)
    size = _SIZE_OF_RESOLUTION.get(body.get("resolution", "1K"), "1K")
    ratio = body.get("aspect_ratio")
    if ratio in (None, "auto"):
        ratio = None
    width, height = spec.pixel_size(ratio, size)
    output_format = body.get("output_format") or "png"
    source_hashes = ",".join(hashlib.sha256(s).hexdigest() for s in sources)
    images = []
    for number in range(n):
        seed = json.dumps(
            [spec.id, body["prompt"], body.get("seed"), number, width, height, source_hashes]
        )
        label = {"prompt": body["prompt"], "model": spec.id, "sources": source_hashes}
        png = picture(width, height, seed, noise=noise, text=label)
        images.append((_encoded(png, output_format), _MEDIA_TYPES[output_format]))
    prompt_tokens = math.ceil(len(body["prompt"]) / 4) + INPUT_IMAGE_TOKENS * len(sources)
    image_tokens = spec.image_tokens(size) * n
    cost = prompt_tokens * spec.prices.prompt + n * spec.image_price(size)
    # As quoted live and in the OpenAPI example: no details object.
    usage: dict[str, Any] = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": image_tokens,
        "total_tokens": prompt_tokens + image_tokens,
    }
    if shape.usage_cost:
        usage["cost"] = round(cost, 10)
    return ImagesAnswer(images, usage, created, shape)


def model_entry(spec: ModelSpec) -> dict[str, Any]:
    """One entry of ``GET /images/models``, with typed capability descriptors."""
    parameters: dict[str, Any] = {
        "aspect_ratio": {"type": "enum", "values": list(spec.aspect_ratios)},
        "resolution": {
            "type": "enum",
            "values": [IMAGE_API_RESOLUTIONS[size] for size in spec.image_sizes],
        },
        "n": {"type": "range", "min": 1, "max": spec.images_per_request},
        "seed": {"type": "boolean"},
    }
    for name, values in (
        ("quality", spec.qualities),
        ("output_format", spec.output_formats),
        ("background", spec.backgrounds),
    ):
        if values:
            parameters[name] = {"type": "enum", "values": list(values)}
    return {
        "id": spec.id,
        "name": spec.name,
        "created": 1_767_225_600,
        "description": spec.name,
        "architecture": {
            "input_modalities": list(spec.input_modalities),
            "output_modalities": list(spec.output_modalities),
        },
        "endpoints": f"/api/v1/images/models/{spec.id}/endpoints",
        "supported_parameters": parameters,
        "supports_streaming": spec.image_streaming,
    }


def image_models(models: Iterable[ModelSpec]) -> bytes:
    listed = [model_entry(spec) for spec in models if "images" in spec.endpoints]
    return json.dumps({"data": listed}).encode()


def image_endpoints(spec: ModelSpec) -> bytes:
    """``GET /images/models/{id}/endpoints``: one provider, its parameters and price lines."""
    pricing = [
        {
            "billable": "output_image",
            "unit": "image",
            "cost_usd": round(spec.image_price(size), 6),
            "variant": IMAGE_API_RESOLUTIONS[size],
        }
        for size in spec.image_sizes
    ]
    endpoint = {
        "provider_name": spec.id.split("/")[0],
        "supported_parameters": sorted(model_entry(spec)["supported_parameters"]),
        "allowed_passthrough_parameters": [],
        "pricing": pricing,
    }
    return json.dumps({"data": {"id": spec.id, "endpoints": [endpoint]}}).encode()
