"""What the package knows of a model: the built-in catalog, or OpenRouter's lists for the rest.

For a model the catalog does not know, the chat model asks OpenRouter, once per
base URL and hour: ``GET /models?output_modalities=image`` (what chat completions
serves, with output modalities) and ``GET /images/models`` (what the Image API
serves, with typed capability descriptors and streaming support). From them it
learns which endpoint serves the model, whether it makes only images, and what its
Image API options may be. Without an answer (offline, an old proxy) the
catalog's general defaults apply, and the lists are asked again a minute later.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from pydantic import ValidationError

from langchain_nanobanana._catalog.models import ModelSpec, find_model
from langchain_nanobanana._openrouter.wire import CapabilityDescriptor, ImageModelList, ModelList

logger = logging.getLogger("langchain_nanobanana")

DISCOVERY_TTL_SECONDS = 3600.0
RETRY_AFTER_FAILURE_SECONDS = 60.0
CHAT_LIST = "models?output_modalities=image"
IMAGE_API_LIST = "images/models"

Fetch = Callable[[str], bytes | None]
"""GET a path under the base URL: the body of a 200 answer, or None."""


@dataclass(frozen=True)
class ModelFacts:
    """What decides how a model is called."""

    endpoints: tuple[str, ...] = ("chat", "images")
    image_only: bool = False
    images_per_request: int | None = None
    """None: unknown, ``n`` is sent as asked and the server decides."""
    native_stream: bool = True
    """Whether the Image API streams the model (the chat endpoint streams every model)."""
    parameters: dict[str, CapabilityDescriptor] = field(default_factory=dict)
    """The Image API's capability descriptors, by parameter, when discovery gave them."""

    @classmethod
    def of_spec(cls, spec: ModelSpec) -> ModelFacts:
        return cls(
            endpoints=spec.endpoints,
            image_only=spec.image_only,
            images_per_request=spec.images_per_request,
            native_stream=spec.image_streaming,
        )


@dataclass
class _Lists:
    fetched_at: float
    facts: dict[str, ModelFacts] = field(default_factory=dict)
    complete: bool = False
    """Both lists were read; an incomplete pair is asked for again sooner."""


def _facts_from(
    chat_raw: bytes | None, images_raw: bytes | None
) -> tuple[dict[str, ModelFacts], bool]:
    """Facts for every model either list names, and whether both lists were read."""
    chat = ModelList.model_validate_json(chat_raw).data if chat_raw else None
    images = ImageModelList.model_validate_json(images_raw).data if images_raw else None
    facts: dict[str, ModelFacts] = {}
    outputs: dict[str, tuple[str, ...]] = {}
    served: dict[str, list[str]] = {}
    for entry in chat or []:
        served.setdefault(entry.id, []).append("chat")
        if entry.architecture and entry.architecture.output_modalities:
            outputs[entry.id] = tuple(entry.architecture.output_modalities)
    descriptors: dict[str, dict[str, CapabilityDescriptor]] = {}
    streaming: dict[str, bool] = {}
    for image_entry in images or []:
        served.setdefault(image_entry.id, []).append("images")
        if image_entry.architecture and image_entry.architecture.output_modalities:
            outputs.setdefault(image_entry.id, tuple(image_entry.architecture.output_modalities))
        descriptors[image_entry.id] = image_entry.supported_parameters or {}
        streaming[image_entry.id] = bool(image_entry.supports_streaming)
    for model_id, endpoints in served.items():
        n = descriptors.get(model_id, {}).get("n")
        facts[model_id] = ModelFacts(
            endpoints=tuple(endpoints),
            image_only="text" not in outputs.get(model_id, ("image", "text")),
            images_per_request=int(n.max) if n is not None and n.max else None,
            native_stream=streaming.get(model_id, False),
            parameters=descriptors.get(model_id, {}),
        )
    return facts, chat is not None and images is not None


class Discovery:
    """OpenRouter's model lists per base URL, fetched when first needed and kept a while."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lists: dict[str, _Lists] = {}
        self._lock = threading.Lock()

    def cached(self, base_url: str, model: str) -> ModelFacts | None:
        """The facts for ``model`` without fetching: the catalog's, or still-fresh lists'.

        None means the lists must be fetched first (``facts`` does that).
        """
        spec = find_model(model)
        if spec is not None:
            return ModelFacts.of_spec(spec)
        with self._lock:
            lists = self._lists.get(base_url)
        if lists is None or self._stale(lists):
            return None
        return lists.facts.get(model, ModelFacts())

    def facts(self, base_url: str, model: str, fetch: Fetch) -> ModelFacts:
        """The facts for ``model``, fetching OpenRouter's lists when they are missing or old."""
        known = self.cached(base_url, model)
        if known is not None:
            return known
        try:
            facts, complete = _facts_from(fetch(CHAT_LIST), fetch(IMAGE_API_LIST))
        except ValidationError:
            facts, complete = {}, False
        if not complete:
            logger.info("OpenRouter's model lists could not be read; using built-in defaults")
        with self._lock:
            self._lists[base_url] = _Lists(self._clock(), facts=facts, complete=complete)
        return facts.get(model, ModelFacts())

    def _stale(self, lists: _Lists) -> bool:
        age = self._clock() - lists.fetched_at
        return age > (DISCOVERY_TTL_SECONDS if lists.complete else RETRY_AFTER_FAILURE_SECONDS)

    def clear(self) -> None:
        with self._lock:
            self._lists.clear()


DISCOVERY = Discovery()
"""The process's one cache of OpenRouter's model lists."""
