"""The constructor's keywords: every one known, or refused with the closest valid name.

pydantic ignores unknown keywords by default, so ``ChatNanoBanana(aspect_ration="16:9")``
would silently make square images and a dropped ``openai_api_base`` would send the key
to OpenRouter instead of the user's proxy. This runs before any field is validated.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import AliasChoices
from pydantic.fields import FieldInfo

from langchain_nanobanana._catalog.names import unknown_names

_SECRET_HEADERS = frozenset({"authorization"})


def accepted_names(fields: Mapping[str, FieldInfo]) -> dict[str, str]:
    """Every keyword the constructor takes, mapped to the field it sets."""
    names: dict[str, str] = {}
    for name, info in fields.items():
        names[name] = name
        if info.alias:
            names[info.alias] = name
        if isinstance(info.validation_alias, AliasChoices):
            names.update(
                (choice, name)
                for choice in info.validation_alias.choices
                if isinstance(choice, str)
            )
        elif isinstance(info.validation_alias, str):
            names[info.validation_alias] = name
    return names


def check_keywords(values: Mapping[str, Any], fields: Mapping[str, FieldInfo]) -> None:
    """Raise TypeError for an unknown keyword or two names for one field."""
    accepted = accepted_names(fields)
    unknown = [key for key in values if key not in accepted]
    if unknown:
        msg = (
            f"ChatNanoBanana got unknown keyword(s): {unknown_names(unknown, accepted)}. "
            "Other OpenRouter body fields go in model_kwargs={...}."
        )
        raise TypeError(msg)
    given: dict[str, list[str]] = {}
    for key in values:
        given.setdefault(accepted[key], []).append(key)
    twice = {field: keys for field, keys in given.items() if len(keys) > 1}
    if twice:
        field, keys = sorted(twice.items())[0]
        raise TypeError(f"{' and '.join(keys)} both set {field}: pass only one of them.")
    headers = values.get("default_headers")
    if isinstance(headers, Mapping) and any(str(h).lower() in _SECRET_HEADERS for h in headers):
        raise TypeError(
            "default_headers must not carry Authorization: pass the key as api_key=... "
            "(or OPENROUTER_API_KEY), which is never shown in a repr or a log."
        )
