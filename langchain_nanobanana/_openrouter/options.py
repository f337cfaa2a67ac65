"""Per-call options, defined once: names, defaults, validation and where each goes on the wire.

``CallOptions`` is the typed shape of what one call asks for. The chat model's
fields of the same names are its defaults; ``invoke`` keywords and ``bind``
override them; ``CallOptions.resolve`` merges the two, refuses unknown names and
checks what can be checked locally. Each field's ``wire`` says where the chat
endpoint puts it, so adding a wire field means one line here and one model field.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Literal, cast

# pydantic reads TypedDicts from typing_extensions only before Python 3.12 (pydantic
# itself depends on it, so it is always installed).
from typing_extensions import TypedDict

from langchain_nanobanana._catalog.models import (
    ALL_ASPECT_RATIOS,
    ALL_IMAGE_SIZES,
    MAX_IMAGES_PER_CALL,
    Fact,
    allowed_values,
    find_model,
)
from langchain_nanobanana._catalog.names import unknown_names
from langchain_nanobanana._catalog.retired import released_id

WirePlace = Literal["body", "image_config", "provider", "images"]
"""On the chat endpoint: top level of the body, inside its ``image_config`` object, or
inside its ``provider`` routing object (merged with the ``provider`` option);
``"images"``: an option of the Image API only (the chat endpoint refuses it)."""


_IMAGE_CONFIG: dict[str, WirePlace] = {"wire": "image_config"}
_BODY: dict[str, WirePlace] = {"wire": "body"}
_PROVIDER: dict[str, WirePlace] = {"wire": "provider"}
_IMAGES: dict[str, WirePlace] = {"wire": "images"}


class MaxPrice(TypedDict, total=False):
    """OpenRouter's ``provider.max_price``: skip providers whose listed price is higher.

    Prices in US dollars, each 0 or more; set only the keys you want to cap. It filters
    providers by their price list, so it is not a limit on what one call spends
    (``max_tokens`` bounds that; the call's ``response_metadata["cost"]`` reports it).
    """

    prompt: float
    """USD per million prompt (input) tokens."""
    completion: float
    """USD per million completion (output) tokens."""
    image: float
    """USD per image: OpenRouter's ``image`` price, which its model list gives for input
    images."""
    audio: float
    """USD per audio unit."""
    request: float
    """USD per request."""


MAX_PRICE_KEYS: tuple[str, ...] = tuple(MaxPrice.__annotations__)


@dataclass(frozen=True)
class CallOptions:
    """What one call asks for; None means "not set, let OpenRouter's default apply"."""

    model: str
    modalities: list[str]
    aspect_ratio: str | None = field(default=None, metadata=_IMAGE_CONFIG)
    image_size: str | None = field(default=None, metadata=_IMAGE_CONFIG)
    temperature: float | None = field(default=None, metadata=_BODY)
    top_p: float | None = field(default=None, metadata=_BODY)
    seed: int | None = field(default=None, metadata=_BODY)
    max_tokens: int | None = field(default=None, metadata=_BODY)
    stop: list[str] | None = field(default=None, metadata=_BODY)
    response_format: dict[str, Any] | None = field(default=None, metadata=_BODY)
    provider: dict[str, Any] | None = field(default=None, metadata=_BODY)
    max_price: MaxPrice | None = field(default=None, metadata=_PROVIDER)
    quality: str | None = field(default=None, metadata=_IMAGES)
    output_format: str | None = field(default=None, metadata=_IMAGES)
    background: str | None = field(default=None, metadata=_IMAGES)
    output_compression: int | None = field(default=None, metadata=_IMAGES)
    n: int | None = None
    """Images to make; more than one request makes when the endpoint or model gives one each."""
    tools: list[dict[str, Any]] | None = field(default=None, metadata=_BODY)
    """Functions the model may call, OpenAI-shaped (``bind_tools`` sets them)."""
    tool_choice: str | dict[str, Any] | None = field(default=None, metadata=_BODY)

    @classmethod
    def resolve(
        cls,
        defaults: Mapping[str, Any],
        overrides: Mapping[str, Any],
        *,
        stop: list[str] | None = None,
    ) -> CallOptions:
        """``defaults`` (the model's fields) with this call's ``overrides`` applied, checked.

        Raises TypeError for an option that does not exist, ValueError for a value
        the model cannot take (before any money is spent).
        """
        _reject_unknown(overrides)
        merged: dict[str, Any] = {name: defaults.get(name) for name in OPTION_NAMES}
        merged.update((name, value) for name, value in overrides.items() if name in OPTION_NAMES)
        if stop is not None:
            merged["stop"] = stop
        merged["model"] = released_id(merged["model"], stacklevel=3)
        if merged["modalities"] is None:
            merged["modalities"] = default_modalities(merged["model"])
        merged["max_price"] = checked_max_price(merged["max_price"])
        options = cls(**merged)
        check_image_config(options.model, options.aspect_ratio, options.image_size)
        _check_count(options.n)
        _check_routing(options)
        return options

    @property
    def count(self) -> int:
        """How many images were asked for (``n``, 1 when unset)."""
        return self.n or 1

    def placed(self, place: WirePlace) -> dict[str, Any]:
        """The set options that belong at ``place`` on the chat wire, by their wire names."""
        return {
            option.name: getattr(self, option.name)
            for option in fields(self)
            if option.metadata.get("wire") == place and getattr(self, option.name) is not None
        }

    def routing(self) -> dict[str, Any] | None:
        """The body's ``provider`` object: the ``provider`` option with the typed routing
        options (``max_price``) added; None when there is neither."""
        routing = {**(self.provider or {}), **self.placed("provider")}
        return routing or None


def default_modalities(model: str) -> list[str]:
    """What to ask ``model`` for when the caller did not say.

    Image-only models (FLUX, ...) answer 404 to ``["image", "text"]``; the catalog
    knows which they are. Any other model, known or not, gets Gemini's pair.
    """
    spec = find_model(model)
    return ["image"] if spec is not None and spec.image_only else ["image", "text"]


OPTION_NAMES: tuple[str, ...] = tuple(option.name for option in fields(CallOptions))
"""Every per-call option, in field order."""

BOUND_ONLY: tuple[str, ...] = ("tools", "tool_choice")
"""Options a call gets from ``bind_tools``, never from the chat model's fields."""

MODEL_OPTION_NAMES: tuple[str, ...] = tuple(n for n in OPTION_NAMES if n not in BOUND_ONLY)
"""The per-call options the chat model's fields of the same names give defaults for."""

# Keys langchain-core itself passes down with the call; not request options.
_FRAMEWORK_KEYS = frozenset({"stream", "ls_structured_output_format"})


def _reject_unknown(options: Mapping[str, Any]) -> None:
    unknown = sorted(set(options) - set(OPTION_NAMES) - _FRAMEWORK_KEYS)
    if unknown:
        msg = (
            f"Unknown option(s) for ChatNanoBanana: {unknown_names(unknown, OPTION_NAMES)}. "
            f"Per-call options are {', '.join(sorted(OPTION_NAMES))}; "
            "put other OpenRouter body fields in model_kwargs."
        )
        raise TypeError(msg)


def check_image_config(model: str, aspect_ratio: str | None, image_size: str | None) -> None:
    """Raise ValueError for a ratio or size the model cannot make.

    A known model's lists are checked where they are recorded or documented; for a
    model we do not know, or lists that are only approximate, only values no
    OpenRouter image model accepts are refused (the rest is sent, and the server's
    answer says whether the model takes it).
    """
    spec = find_model(model)
    checks: tuple[tuple[str, str | None, Fact, tuple[str, ...]], ...] = (
        ("aspect_ratio", aspect_ratio, "aspect_ratios", ALL_ASPECT_RATIOS),
        ("image_size", image_size, "image_sizes", ALL_IMAGE_SIZES),
    )
    for option, value, fact, everything in checks:
        own: tuple[str, ...] = getattr(spec, fact) if spec is not None else ()
        allowed = allowed_values(spec, fact, own, everything)
        if value is not None and value not in allowed:
            named = f"{model!r}" if allowed is own else "any OpenRouter image model"
            msg = (
                f"{option}={value!r} is not supported by {named}; use one of: {', '.join(allowed)}."
            )
            raise ValueError(msg)


def _check_count(n: int | None) -> None:
    if n is not None and not (isinstance(n, int) and 1 <= n <= MAX_IMAGES_PER_CALL):
        msg = f"n={n!r} must be a whole number from 1 to {MAX_IMAGES_PER_CALL}."
        raise ValueError(msg)


def checked_max_price(value: Any) -> MaxPrice | None:
    """``value`` as a ``MaxPrice`` (a copy), or ValueError saying what is wrong with it.

    Refused before any request: an unknown key (OpenRouter would ignore it, leaving
    that price uncapped), a price that is not a number (booleans and numeric strings
    included), a negative or non-finite price, and an empty cap.
    """
    if value is None:
        return None
    example = "e.g. max_price={'prompt': 0.5, 'completion': 40}"
    if not isinstance(value, Mapping):
        msg = f"max_price must be a dict of US dollar prices ({example}), not {value!r}."
        raise ValueError(msg)
    if not value:
        msg = f"max_price is empty, which caps nothing; pass None for no cap ({example})."
        raise ValueError(msg)
    unknown = [key for key in value if key not in MAX_PRICE_KEYS]
    if unknown:
        msg = (
            f"Unknown max_price key(s): {unknown_names(map(str, unknown), MAX_PRICE_KEYS)}; "
            f"max_price takes {', '.join(MAX_PRICE_KEYS)}."
        )
        raise ValueError(msg)
    for key, price in value.items():
        number = isinstance(price, (int, float)) and not isinstance(price, bool)
        if not number or not math.isfinite(price) or price < 0:
            msg = (
                f"max_price[{key!r}]={price!r} must be a price in US dollars: a number, "
                f"0 or more ({example})."
            )
            raise ValueError(msg)
    return cast("MaxPrice", dict(value))


def _check_routing(options: CallOptions) -> None:
    """Refuse a routing key given twice (as a typed option and inside ``provider``):
    neither may silently replace the other."""
    typed = options.placed("provider")
    twice = sorted(set(typed) & set(options.provider or {}))
    if twice:
        names = ", ".join(twice)
        msg = (
            f"{names} is set both as an option and inside provider={{...}}; pass it once "
            f"(as the {names} option, which is checked before the call)."
        )
        raise ValueError(msg)
