"""Build the chat/completions request body, validating locally what can be validated.

An unsupported aspect ratio or image size is refused here, with the allowed values
in the message, before any money is spent.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from langchain_core.messages import BaseMessage

from langchain_nanobanana._catalog import ALL_ASPECT_RATIOS, ALL_IMAGE_SIZES, find_model
from langchain_nanobanana._convert import to_openrouter_messages

DEFAULT_BASE_URL = "https://openrouter.ai/api/v1"

# Per-call options (invoke kwargs or .bind) that override the model's fields.
CALL_OPTIONS = frozenset(
    {
        "model",
        "aspect_ratio",
        "image_size",
        "modalities",
        "seed",
        "temperature",
        "top_p",
        "max_tokens",
        "stop",
        "response_format",
        "provider",
    }
)
# Keys langchain-core itself passes down with the call; not request options.
_FRAMEWORK_KEYS = frozenset({"stream", "ls_structured_output_format"})


def check_image_config(model: str, aspect_ratio: str | None, image_size: str | None) -> None:
    """Raise ValueError for a ratio or size the model cannot make.

    Known models are checked against their own lists; for a model we do not
    know, only values no OpenRouter image model accepts are refused.
    """
    spec = find_model(model)
    ratios = spec.aspect_ratios if spec else ALL_ASPECT_RATIOS
    sizes = spec.image_sizes if spec else ALL_IMAGE_SIZES
    named = f"{model!r}" if spec else "any OpenRouter image model"
    if aspect_ratio is not None and aspect_ratio not in ratios:
        msg = (
            f"aspect_ratio={aspect_ratio!r} is not supported by {named}; "
            f"use one of: {', '.join(ratios)}."
        )
        raise ValueError(msg)
    if image_size is not None and image_size not in sizes:
        msg = (
            f"image_size={image_size!r} is not supported by {named}; "
            f"use one of: {', '.join(sizes)}."
        )
        raise ValueError(msg)


def check_base_url(base_url: str, *, allow_insecure_http: bool) -> None:
    """Refuse a URL the key must not be sent to: only https, or http to this machine."""
    url = urlsplit(base_url)
    if url.scheme == "https" and url.hostname:
        return
    if url.scheme == "http" and url.hostname:
        if allow_insecure_http or _is_loopback(url.hostname):
            return
        msg = (
            f"base_url {base_url!r} is plain http to another machine: the API key would travel "
            "unencrypted. Use https, or pass allow_insecure_http=True if you really mean it."
        )
        raise ValueError(msg)
    raise ValueError(f"base_url {base_url!r} must be an http(s) URL such as {DEFAULT_BASE_URL!r}.")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _reject_unknown(options: Mapping[str, Any]) -> None:
    unknown = sorted(set(options) - CALL_OPTIONS - _FRAMEWORK_KEYS)
    if unknown:
        msg = (
            f"Unknown option(s) for ChatNanoBanana: {', '.join(unknown)}. Per-call options are "
            f"{', '.join(sorted(CALL_OPTIONS))}; put other OpenRouter body fields in model_kwargs."
        )
        raise TypeError(msg)


def build_body(
    messages: Sequence[BaseMessage],
    defaults: Mapping[str, Any],
    call_options: Mapping[str, Any],
    *,
    stop: list[str] | None,
    stream: bool,
    model_kwargs: Mapping[str, Any],
) -> dict[str, Any]:
    """The JSON body for one call.

    ``defaults`` are the model's fields (None when unset), ``call_options`` what this
    call overrides. ``image_config`` holds only the keys that are set; other unset
    fields are left out so OpenRouter's own defaults apply.
    """
    _reject_unknown(call_options)
    options = {**defaults, **{k: v for k, v in call_options.items() if k in CALL_OPTIONS}}
    if stop is not None:
        options["stop"] = stop
    check_image_config(options["model"], options.get("aspect_ratio"), options.get("image_size"))
    image_config = {
        key: options[key] for key in ("aspect_ratio", "image_size") if options.get(key) is not None
    }
    body: dict[str, Any] = {
        "model": options["model"],
        "messages": to_openrouter_messages(messages),
        "modalities": list(options["modalities"]),
    }
    if image_config and "image" in body["modalities"]:
        body["image_config"] = image_config
    for key in (
        "temperature",
        "top_p",
        "seed",
        "max_tokens",
        "stop",
        "response_format",
        "provider",
    ):
        if options.get(key) is not None:
            body[key] = options[key]
    body.update(model_kwargs)
    if stream:
        body["stream"] = True
    return body
