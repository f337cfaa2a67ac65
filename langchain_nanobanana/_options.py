"""Per-call options, defined once: names, defaults, validation and where each goes on the wire.

``CallOptions`` is the typed shape of what one call asks for. The chat model's
fields of the same names are its defaults; ``invoke`` keywords and ``bind``
override them; ``CallOptions.resolve`` merges the two, refuses unknown names and
checks what can be checked locally. Each field's ``wire`` says where the chat
endpoint puts it, so adding a wire field means one line here and one model field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Literal

from langchain_nanobanana._catalog import (
    ALL_ASPECT_RATIOS,
    ALL_IMAGE_SIZES,
    MAX_IMAGES_PER_CALL,
    find_model,
)

WirePlace = Literal["body", "image_config", "images"]
"""On the chat endpoint: top level of the body, or inside its ``image_config`` object;
``"images"``: an option of the Image API only (the chat endpoint refuses it)."""


_IMAGE_CONFIG: dict[str, WirePlace] = {"wire": "image_config"}
_BODY: dict[str, WirePlace] = {"wire": "body"}
_IMAGES: dict[str, WirePlace] = {"wire": "images"}


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
    quality: str | None = field(default=None, metadata=_IMAGES)
    output_format: str | None = field(default=None, metadata=_IMAGES)
    background: str | None = field(default=None, metadata=_IMAGES)
    output_compression: int | None = field(default=None, metadata=_IMAGES)
    n: int | None = None
    """Images to make; more than one request makes when the endpoint or model gives one each."""

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
        options = cls(**merged)
        check_image_config(options.model, options.aspect_ratio, options.image_size)
        _check_count(options.n)
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


OPTION_NAMES: tuple[str, ...] = tuple(option.name for option in fields(CallOptions))
"""Every per-call option, in field order: also the chat model's default parameters."""

# Keys langchain-core itself passes down with the call; not request options.
_FRAMEWORK_KEYS = frozenset({"stream", "ls_structured_output_format"})


def _reject_unknown(options: Mapping[str, Any]) -> None:
    unknown = sorted(set(options) - set(OPTION_NAMES) - _FRAMEWORK_KEYS)
    if unknown:
        msg = (
            f"Unknown option(s) for ChatNanoBanana: {', '.join(unknown)}. Per-call options are "
            f"{', '.join(sorted(OPTION_NAMES))}; put other OpenRouter body fields in model_kwargs."
        )
        raise TypeError(msg)


def check_image_config(model: str, aspect_ratio: str | None, image_size: str | None) -> None:
    """Raise ValueError for a ratio or size the model cannot make.

    Known models are checked against their own lists; for a model we do not
    know, only values no OpenRouter image model accepts are refused.
    """
    spec = find_model(model)
    ratios = spec.aspect_ratios if spec else ALL_ASPECT_RATIOS
    sizes = spec.image_sizes if spec else ALL_IMAGE_SIZES
    named = f"{model!r}" if spec else "any OpenRouter image model"
    for option, value, allowed in (
        ("aspect_ratio", aspect_ratio, ratios),
        ("image_size", image_size, sizes),
    ):
        if value is not None and value not in allowed:
            msg = (
                f"{option}={value!r} is not supported by {named}; use one of: {', '.join(allowed)}."
            )
            raise ValueError(msg)


def _check_count(n: int | None) -> None:
    if n is not None and not (isinstance(n, int) and 1 <= n <= MAX_IMAGES_PER_CALL):
        msg = f"n={n!r} must be a whole number from 1 to {MAX_IMAGES_PER_CALL}."
        raise ValueError(msg)
