"""``nanobanana models``: the image-capable models OpenRouter lists, with their prices."""

from __future__ import annotations

import os
from typing import Any

import httpx

from langchain_nanobanana._connection import DEFAULT_BASE_URL

PER_MILLION = 1_000_000


def fetch_image_models(client: httpx.Client | None = None) -> list[dict[str, Any]]:
    """``GET {base}/models?output_modalities=image`` (no key needed), as OpenRouter lists them."""
    base_url = os.environ.get("OPENROUTER_BASE_URL", DEFAULT_BASE_URL).rstrip("/")
    own = client is None
    http = client or httpx.Client(timeout=30)
    try:
        response = http.get(f"{base_url}/models", params={"output_modalities": "image"})
        response.raise_for_status()
        models = response.json().get("data")
    finally:
        if own:
            http.close()
    if not isinstance(models, list):
        raise ValueError("OpenRouter's model list had no 'data' array.")
    return [model for model in models if isinstance(model, dict)]


def _per_million(price: Any) -> str:
    try:
        return f"${float(price) * PER_MILLION:,.2f}"
    except (TypeError, ValueError):
        return "-"


def models_table(models: list[dict[str, Any]]) -> str:
    """One line per model: id, output modalities, prices per million tokens.

    The image output price is ``pricing.image_output``; ``pricing.image`` is what an
    INPUT image costs, so it is not shown as one.
    """
    rows = [("model", "outputs", "input /M", "output /M", "image output /M")]
    for model in sorted(models, key=lambda m: str(m.get("id"))):
        pricing = model.get("pricing") or {}
        outputs = "+".join((model.get("architecture") or {}).get("output_modalities") or [])
        rows.append(
            (
                str(model.get("id")),
                outputs,
                _per_million(pricing.get("prompt")),
                _per_million(pricing.get("completion")),
                _per_million(pricing.get("image_output")),
            )
        )
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )
