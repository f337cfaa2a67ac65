"""What the package knows of a model: the built-in catalog, or OpenRouter's lists for the rest.

For a model the catalog does not know, the chat model asks OpenRouter, once per
connection and hour: ``GET /models?output_modalities=image`` (what chat completions
serves, with output modalities) and ``GET /images/models`` (what the Image API
serves, with typed capability descriptors and streaming support). From them it
learns which endpoint serves the model, whether it makes only images, and what its
Image API options may be. Without an answer (offline, an old proxy) the
catalog's general defaults apply, and the lists are asked again a minute later.

The lists come from outside, so they are read like any answer: through the
transport's capped, deadline-bound path (``MAX_LIST_BYTES``, the call's own
deadline), and a descriptor's numbers count only when they are finite. The cache is
keyed by everything that changes the answer (``cache_key``): the base URL, the
extra headers, and the identity of any client the user passed in (a client with
its own transport or proxy may see another list).
"""

from __future__ import annotations

import itertools
import logging
import math
import threading
import time
import weakref
from collections.abc import Awaitable, Callable, Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from langchain_nanobanana._catalog.models import ModelSpec, find_model
from langchain_nanobanana._openrouter.wire import CapabilityDescriptor, ImageModelList, ModelList

logger = logging.getLogger("langchain_nanobanana")

DISCOVERY_TTL_SECONDS = 3600.0
RETRY_AFTER_FAILURE_SECONDS = 60.0
CHAT_LIST = "models?output_modalities=image"
IMAGE_API_LIST = "images/models"

MAX_LIST_BYTES = 16 * 1024 * 1024
"""A list is read this far (decompressed) and no further: OpenRouter's whole model
list is about 1 MB, the image models' a few KB."""
_MOST_CONNECTIONS = 32
"""Cached lists kept at once: an app that makes a model (and a client) per request
must not grow the cache for an hour."""

Fetch = Callable[[str], bytes | None]
"""GET a path under the base URL: the body of a 200 answer, or None."""
AFetch = Callable[[str], Awaitable[bytes | None]]

_client_numbers: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()
_numbering = itertools.count(1)
_numbering_lock = threading.Lock()


def _client_number(client: Any) -> int | None:
    """A number for a user's client that no other client ever gets (``id()`` is reused
    once an object is gone, and a new client must not inherit an old one's lists)."""
    if client is None:
        return None
    with _numbering_lock:
        number = _client_numbers.get(client)
        if number is None:
            number = _client_numbers[client] = next(_numbering)
        return number


def cache_key(
    base_url: str, headers: Mapping[str, str], client: Any = None, async_client: Any = None
) -> Hashable:
    """What the lists depend on: where they are asked, with which headers, over which
    of the user's clients."""
    return (
        base_url.rstrip("/"),
        tuple(sorted(headers.items())),
        _client_number(client),
        _client_number(async_client),
    )


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
    endpoints_verified: bool = True
    """Whether ``endpoints`` may refuse a call locally (recorded, documented or listed by
    OpenRouter) or only guide it (approximate: the call goes where it was asked)."""
    calls_tools: bool | None = None
    """Whether OpenRouter lists ``tools`` for the model on chat completions; None: unknown."""

    @classmethod
    def of_spec(cls, spec: ModelSpec) -> ModelFacts:
        return cls(
            endpoints=spec.endpoints,
            image_only=spec.image_only,
            images_per_request=spec.images_per_request,
            native_stream=spec.image_streaming,
            endpoints_verified=spec.verified("endpoints"),
            calls_tools=spec.calls_tools if spec.verified("supported_parameters") else None,
        )


@dataclass
class _Lists:
    fetched_at: float
    facts: dict[str, ModelFacts] = field(default_factory=dict)
    complete: bool = False
    """Both lists were read; an incomplete pair is asked for again sooner."""


def _finite(descriptor: CapabilityDescriptor) -> CapabilityDescriptor:
    """The descriptor with any bound that is not a finite number left out (``Infinity``
    or ``NaN`` in a list must not make every call raise)."""
    low, high = descriptor.min, descriptor.max
    if (low is None or math.isfinite(low)) and (high is None or math.isfinite(high)):
        return descriptor
    return descriptor.model_copy(
        update={
            "min": low if low is not None and math.isfinite(low) else None,
            "max": high if high is not None and math.isfinite(high) else None,
        }
    )


def _images_per_request(descriptor: CapabilityDescriptor | None) -> int | None:
    """The most images one request makes, from ``n``'s range; None when it says nothing usable."""
    most = descriptor.max if descriptor is not None else None
    if most is None or not 1 <= most <= 1_000:
        return None
    return int(most)


def _read_lists(
    chat_raw: bytes | None, images_raw: bytes | None
) -> tuple[dict[str, ModelFacts], bool]:
    """``_facts_from``, or no facts when a list cannot be read (malformed, too deep)."""
    try:
        return _facts_from(chat_raw, images_raw)
    except (ValidationError, ValueError, RecursionError):
        return {}, False


def _facts_from(
    chat_raw: bytes | None, images_raw: bytes | None
) -> tuple[dict[str, ModelFacts], bool]:
    """Facts for every model either list names, and whether both lists were read."""
    chat = ModelList.model_validate_json(chat_raw).data if chat_raw else None
    images = ImageModelList.model_validate_json(images_raw).data if images_raw else None
    facts: dict[str, ModelFacts] = {}
    outputs: dict[str, tuple[str, ...]] = {}
    served: dict[str, list[str]] = {}
    tools: dict[str, bool] = {}
    for entry in chat or []:
        served.setdefault(entry.id, []).append("chat")
        if entry.supported_parameters is not None:
            tools[entry.id] = "tools" in entry.supported_parameters
        if entry.architecture and entry.architecture.output_modalities:
            outputs[entry.id] = tuple(entry.architecture.output_modalities)
    descriptors: dict[str, dict[str, CapabilityDescriptor]] = {}
    streaming: dict[str, bool] = {}
    for image_entry in images or []:
        served.setdefault(image_entry.id, []).append("images")
        if image_entry.architecture and image_entry.architecture.output_modalities:
            outputs.setdefault(image_entry.id, tuple(image_entry.architecture.output_modalities))
        descriptors[image_entry.id] = {
            name: _finite(descriptor)
            for name, descriptor in (image_entry.supported_parameters or {}).items()
        }
        streaming[image_entry.id] = bool(image_entry.supports_streaming)
    for model_id, endpoints in served.items():
        facts[model_id] = ModelFacts(
            endpoints=tuple(endpoints),
            image_only="text" not in outputs.get(model_id, ("image", "text")),
            images_per_request=_images_per_request(descriptors.get(model_id, {}).get("n")),
            native_stream=streaming.get(model_id, False),
            parameters=descriptors.get(model_id, {}),
            calls_tools=tools.get(model_id),
        )
    return facts, chat is not None and images is not None


class Discovery:
    """OpenRouter's model lists per connection (``cache_key``), fetched when first needed
    and kept a while."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lists: dict[Hashable, _Lists] = {}
        self._lock = threading.Lock()

    def cached(self, key: Hashable, model: str) -> ModelFacts | None:
        """The facts for ``model`` without fetching: the catalog's, or still-fresh lists'.

        None means the lists must be fetched first (``facts`` does that).
        """
        spec = find_model(model)
        if spec is not None:
            return ModelFacts.of_spec(spec)
        with self._lock:
            lists = self._lists.get(key)
        if lists is None or self._stale(lists):
            return None
        return lists.facts.get(model, ModelFacts())

    def facts(self, key: Hashable, model: str, fetch: Fetch) -> ModelFacts:
        """The facts for ``model``, fetching OpenRouter's lists when they are missing or old."""
        known = self.cached(key, model)
        if known is not None:
            return known
        chat = fetch(CHAT_LIST)
        return self._learned(key, model, chat, fetch(IMAGE_API_LIST))

    async def afacts(self, key: Hashable, model: str, fetch: AFetch) -> ModelFacts:
        known = self.cached(key, model)
        if known is not None:
            return known
        chat = await fetch(CHAT_LIST)
        return self._learned(key, model, chat, await fetch(IMAGE_API_LIST))

    def _learned(
        self, key: Hashable, model: str, chat: bytes | None, images: bytes | None
    ) -> ModelFacts:
        facts, complete = _read_lists(chat, images)
        if not complete:
            logger.info("OpenRouter's model lists could not be read; using built-in defaults")
        with self._lock:
            self._lists.pop(key, None)  # re-inserted last: the newest
            self._lists[key] = _Lists(self._clock(), facts=facts, complete=complete)
            for stale in [k for k, lists in self._lists.items() if self._stale(lists)]:
                del self._lists[stale]
            while len(self._lists) > _MOST_CONNECTIONS:
                del self._lists[next(iter(self._lists))]  # the oldest goes first
        return facts.get(model, ModelFacts())

    def _stale(self, lists: _Lists) -> bool:
        age = self._clock() - lists.fetched_at
        return age > (DISCOVERY_TTL_SECONDS if lists.complete else RETRY_AFTER_FAILURE_SECONDS)

    def clear(self) -> None:
        with self._lock:
            self._lists.clear()


DISCOVERY = Discovery()
"""The process's one cache of OpenRouter's model lists."""
