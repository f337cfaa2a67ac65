"""``nanobanana models``: the image-capable models OpenRouter lists, with their prices.

Two lists: chat completions' (``/models``, prices per million tokens) and the Image
API's (``/images/models``; its prices are per endpoint, behind each model's
``endpoints`` URL, as ``{billable, unit, cost_usd, variant}`` lines). An ``endpoints``
path is the server's text: it is followed only below the base URL, on its host.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import httpx

from langchain_nanobanana._content.text import printable, shorten

PER_MILLION = 1_000_000


def fetch_image_models(base_url: str, client: httpx.Client | None = None) -> list[dict[str, Any]]:
    """``GET {base}/models?output_modalities=image`` (no key needed), as OpenRouter lists them."""
    base_url = base_url.rstrip("/")
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


def fetch_image_api_models(
    base_url: str, client: httpx.Client | None = None
) -> list[dict[str, Any]]:
    """``GET {base}/images/models``, each with the pricing lines of its endpoints."""
    base_url = base_url.rstrip("/")
    own = client is None
    http = client or httpx.Client(timeout=30)
    try:
        response = http.get(f"{base_url}/images/models")
        response.raise_for_status()
        models = [m for m in response.json().get("data") or [] if isinstance(m, dict)]
        for model in models:
            model["pricing_lines"] = _pricing_lines(http, base_url, model)
    finally:
        if own:
            http.close()
    return models


def _pricing_lines(http: httpx.Client, base_url: str, model: dict[str, Any]) -> list[Any]:
    path = str(model.get("endpoints") or f"/api/v1/images/models/{model.get('id')}/endpoints")
    url = endpoints_url(base_url, path)
    if url is None:
        print(
            f"nanobanana: not following {shorten(printable(path), 80)!r} for "
            f"{shorten(printable(str(model.get('id'))), 60)}: it leads away from {base_url}.",
            file=sys.stderr,
        )
        return []
    response = http.get(url)
    if response.status_code != 200:
        return []
    endpoints = (response.json().get("data") or {}).get("endpoints") or []
    return [line for endpoint in endpoints for line in endpoint.get("pricing") or []]


def endpoints_url(base_url: str, path: str) -> httpx.URL | None:
    """Where a model's ``endpoints`` path points, or None when that is not below
    ``base_url`` on the same scheme, host and port (another host, ``..``, a full URL)."""
    base = httpx.URL(base_url.rstrip("/") + "/")
    try:
        url = base.join(path.removeprefix("/api/v1").lstrip("/"))
    except httpx.InvalidURL:
        return None
    same_origin = (url.scheme, url.host, url.port) == (base.scheme, base.host, base.port)
    if not same_origin or not url.path.startswith(base.path) or url.userinfo:
        return None
    return url


def _per_image(lines: list[Any]) -> str:
    """The output-image price lines, cheapest first: ``$0.0400/image (1K)``."""
    shown = []
    for line in lines:
        if not isinstance(line, dict) or line.get("billable") != "output_image":
            continue
        variant = f" ({line['variant']})" if line.get("variant") else ""
        try:
            shown.append(f"${float(line['cost_usd']):.4f}/{line.get('unit', 'image')}{variant}")
        except (KeyError, TypeError, ValueError):
            continue
    return ", ".join(sorted(set(shown))) or "-"


def image_api_table(models: list[dict[str, Any]]) -> str:
    """One line per Image API model: id, outputs, streaming, most images per request, price."""
    rows = [("model (Image API)", "outputs", "streams", "n up to", "output image price")]
    for model in sorted(models, key=lambda m: str(m.get("id"))):
        parameters = model.get("supported_parameters") or {}
        count = parameters.get("n")
        n: dict[str, Any] = count if isinstance(count, dict) else {}
        outputs = "+".join((model.get("architecture") or {}).get("output_modalities") or [])
        rows.append(
            (
                str(model.get("id")),
                outputs,
                "yes" if model.get("supports_streaming") else "no",
                str(n.get("max", "-")),
                _per_image(model.get("pricing_lines") or []),
            )
        )
    return _table(rows)


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
    return _table(rows)


def _table(rows: Sequence[tuple[str, ...]]) -> str:
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )
