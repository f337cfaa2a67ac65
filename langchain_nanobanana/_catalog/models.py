"""What we know about OpenRouter's image models: ratios, sizes, pixels, tokens, prices.

One table serves two readers: the chat model validates aspect ratio and image size
locally (before any money is spent), and the offline emulator answers with images of
the right pixel size and a cost computed from the same prices. Every fact says where it
comes from (``ModelSpec.sources``): ``recorded`` (live traffic: a recording or a body a
user got live), ``documented`` (OpenRouter's docs, OpenAPI file or model list) or
``approximate`` (our best guess). Only recorded or documented facts are refused
locally; for the rest the request is sent and the server's answer becomes the error.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from langchain_nanobanana._catalog.retired import RETIRED_PREVIEWS

DEFAULT_MODEL = "google/gemini-2.5-flash-image"

BASE_ASPECT_RATIOS: tuple[str, ...] = (
    "1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9",
)  # fmt: skip
EXTREME_ASPECT_RATIOS: tuple[str, ...] = ("1:4", "4:1", "1:8", "8:1")

ALL_ASPECT_RATIOS: tuple[str, ...] = BASE_ASPECT_RATIOS + EXTREME_ASPECT_RATIOS
ALL_IMAGE_SIZES: tuple[str, ...] = ("0.5K", "1K", "2K", "4K")

# The Image API's own vocabulary (POST /images), beside the chat endpoint's.
ALL_QUALITIES: tuple[str, ...] = ("auto", "low", "medium", "high")
ALL_BACKGROUNDS: tuple[str, ...] = ("auto", "transparent", "opaque")
MAX_IMAGES_PER_CALL = 10
"""The Image API's upper bound for ``n``; also the bound of a chat fan-out."""
MAX_REFERENCE_IMAGES = 16
"""Input images one Image API request may carry."""
IMAGE_API_RESOLUTIONS = {"0.5K": "512", "1K": "1K", "2K": "2K", "4K": "4K"}
"""``image_size`` as the chat endpoint spells it -> ``resolution`` on the Image API."""

PER_MILLION = 1_000_000

# Pixel sizes at "1K" for gemini-2.5-flash-image (recorded).
_FLASH_25_PIXELS: dict[str, tuple[int, int]] = {
    "1:1": (1024, 1024),
    "2:3": (832, 1248),
    "3:2": (1248, 832),
    "3:4": (864, 1184),
    "4:3": (1184, 864),
    "4:5": (896, 1152),
    "5:4": (1152, 896),
    "9:16": (768, 1344),
    "16:9": (1344, 768),
    "21:9": (1536, 672),
}

# Pixel sizes at "1K" for the Gemini 3 family. 1:1 and 16:9 are recorded; the
# other ratios follow Google's published table for Gemini 3 Pro Image, and the
# extreme ratios of 3.1 Flash Image are approximate (same pixel budget).
_GEMINI_3_PIXELS: dict[str, tuple[int, int]] = {
    "1:1": (1024, 1024),
    "2:3": (848, 1264),
    "3:2": (1264, 848),
    "3:4": (896, 1200),
    "4:3": (1200, 896),
    "4:5": (928, 1152),
    "5:4": (1152, 928),
    "9:16": (768, 1376),
    "16:9": (1376, 768),
    "21:9": (1584, 672),
    "1:4": (512, 2048),
    "4:1": (2048, 512),
    "1:8": (352, 2816),
    "8:1": (2816, 352),
}

_SIZE_SCALE = {"0.5K": 0.5, "1K": 1.0, "2K": 2.0, "4K": 4.0}

Provenance = Literal["recorded", "documented", "approximate"]
"""Where a fact comes from, strongest first: live traffic, OpenRouter's own word, a guess."""

Fact = Literal[
    "output_modalities", "aspect_ratios", "image_sizes", "prices", "context_length",
    "image_tokens", "pixels", "supported_parameters", "endpoints", "images_per_request",
    "qualities", "output_formats", "backgrounds", "image_streaming",
]  # fmt: skip
"""The facts of a ``ModelSpec`` that carry a provenance."""

VERIFIED: frozenset[Provenance] = frozenset({"recorded", "documented"})
"""Provenances strong enough to refuse a request locally on."""


@dataclass(frozen=True)
class Prices:
    """USD per token, as OpenRouter bills them."""

    prompt: float
    text_output: float
    image_output: float


@dataclass(frozen=True)
class ModelSpec:
    """One image model as OpenRouter lists it."""

    id: str
    name: str
    output_modalities: tuple[str, ...]
    aspect_ratios: tuple[str, ...]
    image_sizes: tuple[str, ...]
    prices: Prices
    context_length: int
    image_tokens_by_size: dict[str, int]
    pixels_1k: dict[str, tuple[int, int]] = field(repr=False)
    input_modalities: tuple[str, ...] = ("text", "image")
    supported_parameters: tuple[str, ...] = (
        "max_tokens",
        "temperature",
        "top_p",
        "seed",
        "response_format",
        "structured_outputs",
        "stop",
    )
    """Chat-endpoint parameters OpenRouter's model list gives (``tools`` among them for
    models that call tools)."""

    endpoints: tuple[str, ...] = ("chat", "images")
    """Where OpenRouter serves the model: ``chat`` (chat/completions), ``images``, or both."""
    images_per_request: int = 1
    """Images one Image API request can return (single-image providers reject n > 1)."""
    qualities: tuple[str, ...] = ()
    output_formats: tuple[str, ...] = ("png",)
    backgrounds: tuple[str, ...] = ()
    image_streaming: bool = False
    """Whether the Image API streams this model natively (partial images)."""
    sources: Mapping[str, Provenance] = field(default_factory=dict, repr=False)
    """Each fact's provenance, by ``Fact`` name; a fact not named is ``approximate``."""

    def provenance(self, fact: Fact) -> Provenance:
        return self.sources.get(fact, "approximate")

    def verified(self, fact: Fact) -> bool:
        """Whether ``fact`` is recorded or documented: only then is a request refused on it."""
        return self.provenance(fact) in VERIFIED

    @property
    def image_only(self) -> bool:
        """True for models that answer 404 when asked for ``["image", "text"]``."""
        return "text" not in self.output_modalities

    @property
    def calls_tools(self) -> bool:
        """Whether OpenRouter lists ``tools`` among the model's parameters."""
        return "tools" in self.supported_parameters

    def pixel_size(
        self, aspect_ratio: str | None = None, image_size: str | None = None
    ) -> tuple[int, int]:
        """Width and height of an image this model returns."""
        width, height = self.pixels_1k[aspect_ratio or "1:1"]
        scale = _SIZE_SCALE[image_size or "1K"]
        return round(width * scale), round(height * scale)

    def image_tokens(self, image_size: str | None = None) -> int:
        """Output tokens billed per generated image."""
        return self.image_tokens_by_size[image_size or "1K"]

    def image_price(self, image_size: str | None = None) -> float:
        """USD at list price for one generated image: its tokens at the image-output rate.
        The one price formula: estimates, budgets, the emulator's costs and listings read it."""
        return self.image_tokens(image_size) * self.prices.image_output


def allowed_values(
    spec: ModelSpec | None, fact: Fact, values: tuple[str, ...], everything: tuple[str, ...]
) -> tuple[str, ...]:
    """What a request may ask for: the model's own ``values`` where that list is recorded or
    documented, else ``everything`` OpenRouter documents for any model (send, and let the
    server say no)."""
    return values if spec is not None and spec.verified(fact) else everything


# Where the Gemini facts come from. Chat answers, image tokens and pixel sizes at 1:1 and
# 3:2 are recorded (cassettes of live traffic; a quoted live answer on /images); ratios,
# sizes and prices are OpenRouter's model list and docs. Nothing recorded or documented
# says which Image API options (quality, formats, background, n > 1) Gemini takes there.
_GEMINI_SOURCES: dict[str, Provenance] = {
    "output_modalities": "recorded",
    "aspect_ratios": "documented",
    "image_sizes": "documented",
    "prices": "documented",
    "context_length": "documented",
    "image_tokens": "recorded",
    "pixels": "recorded",
    "supported_parameters": "documented",
    "endpoints": "recorded",
    "image_streaming": "documented",
}

KNOWN_MODELS: dict[str, ModelSpec] = {
    spec.id: spec
    for spec in (
        ModelSpec(
            id="google/gemini-2.5-flash-image",
            name="Google: Gemini 2.5 Flash Image (Nano Banana)",
            output_modalities=("image", "text"),
            aspect_ratios=BASE_ASPECT_RATIOS,
            image_sizes=("1K",),
            prices=Prices(0.30 / PER_MILLION, 2.50 / PER_MILLION, 30.0 / PER_MILLION),
            context_length=32_768,
            image_tokens_by_size={"1K": 1290},
            pixels_1k=_FLASH_25_PIXELS,
            sources=_GEMINI_SOURCES,
        ),
        ModelSpec(
            id="google/gemini-3-pro-image",
            name="Google: Nano Banana Pro (Gemini 3 Pro Image)",
            output_modalities=("image", "text"),
            aspect_ratios=BASE_ASPECT_RATIOS,
            image_sizes=("1K", "2K", "4K"),
            prices=Prices(2.0 / PER_MILLION, 12.0 / PER_MILLION, 120.0 / PER_MILLION),
            context_length=65_536,
            image_tokens_by_size={"1K": 1120, "2K": 1120, "4K": 2000},
            pixels_1k=_GEMINI_3_PIXELS,
            # Pixels: 1:1 and 16:9 at 1K recorded, the rest Google's published table.
            sources={**_GEMINI_SOURCES, "image_tokens": "documented", "pixels": "documented"},
        ),
        ModelSpec(
            id="google/gemini-3.1-flash-image",
            name="Google: Nano Banana 2 (Gemini 3.1 Flash Image)",
            output_modalities=("image", "text"),
            aspect_ratios=ALL_ASPECT_RATIOS,
            image_sizes=("0.5K", "1K", "2K", "4K"),
            prices=Prices(0.50 / PER_MILLION, 3.0 / PER_MILLION, 60.0 / PER_MILLION),
            context_length=65_536,
            image_tokens_by_size={"0.5K": 560, "1K": 1120, "2K": 1680, "4K": 2520},
            pixels_1k=_GEMINI_3_PIXELS,
            sources={**_GEMINI_SOURCES, "image_tokens": "documented", "pixels": "approximate"},
        ),
        # The Lite prices, token counts, ratios and sizes follow the 3.1 Flash pattern
        # (approximate); that it refuses tools is recorded (404 "No endpoints found that
        # support tool use").
        ModelSpec(
            id="google/gemini-3.1-flash-lite-image",
            name="Google: Nano Banana 2 Lite (Gemini 3.1 Flash Lite Image)",
            output_modalities=("image", "text"),
            aspect_ratios=ALL_ASPECT_RATIOS,
            image_sizes=("0.5K", "1K"),
            prices=Prices(0.25 / PER_MILLION, 1.5 / PER_MILLION, 30.0 / PER_MILLION),
            context_length=32_768,
            image_tokens_by_size={"0.5K": 560, "1K": 1120},
            pixels_1k=_GEMINI_3_PIXELS,
            sources={"supported_parameters": "recorded", "endpoints": "documented"},
        ),
        ModelSpec(
            id="black-forest-labs/flux.2-pro",
            name="Black Forest Labs: FLUX.2 Pro",
            output_modalities=("image",),
            aspect_ratios=BASE_ASPECT_RATIOS,
            image_sizes=("1K",),
            prices=Prices(0.0, 0.0, 30.0 / PER_MILLION),
            context_length=46_864,
            image_tokens_by_size={"1K": 1290},
            pixels_1k=_FLASH_25_PIXELS,
            supported_parameters=("seed",),
            # That it answers 404 to ["image", "text"] is documented; the rest is a guess.
            sources={"output_modalities": "documented"},
        ),
        # On chat completions it answers with reasoning_details (openai-responses-v1),
        # native_finish_reason "completed" and, given tools, tool calls (recorded). Its
        # text prices are the recorded ones; its image facts are approximate.
        ModelSpec(
            id="openai/gpt-5-image-mini",
            name="OpenAI: GPT-5 Image Mini",
            output_modalities=("image", "text"),
            aspect_ratios=("1:1", "2:3", "3:2"),
            image_sizes=("1K",),
            prices=Prices(2.5 / PER_MILLION, 2.0 / PER_MILLION, 8.0 / PER_MILLION),
            context_length=400_000,
            image_tokens_by_size={"1K": 1056},
            pixels_1k={"1:1": (1024, 1024), "2:3": (1024, 1536), "3:2": (1536, 1024)},
            supported_parameters=(
                "max_tokens",
                "seed",
                "response_format",
                "structured_outputs",
                "tools",
                "tool_choice",
            ),
            endpoints=("chat",),
            sources={
                "output_modalities": "recorded",
                "supported_parameters": "recorded",
                "endpoints": "recorded",
            },
        ),
        # Served on the Image API only; several images per request, with quality,
        # formats, transparent backgrounds and partial-image streaming (documented:
        # the streaming guide's example is this model). Approximate prices (per output
        # image token).
        ModelSpec(
            id="openai/gpt-image-1",
            name="OpenAI: GPT Image 1",
            output_modalities=("image",),
            aspect_ratios=("1:1", "2:3", "3:2"),
            image_sizes=("1K",),
            prices=Prices(5.0 / PER_MILLION, 0.0, 40.0 / PER_MILLION),
            context_length=32_000,
            image_tokens_by_size={"1K": 1056},
            pixels_1k={"1:1": (1024, 1024), "2:3": (1024, 1536), "3:2": (1536, 1024)},
            supported_parameters=(),
            endpoints=("images",),
            images_per_request=MAX_IMAGES_PER_CALL,
            qualities=ALL_QUALITIES,
            output_formats=("png", "jpeg", "webp"),
            backgrounds=ALL_BACKGROUNDS,
            image_streaming=True,
            sources={
                "output_modalities": "documented",
                "images_per_request": "documented",
                "qualities": "documented",
                "output_formats": "documented",
                "backgrounds": "documented",
                "image_streaming": "documented",
            },
        ),
    )
}


def find_model(model_id: str) -> ModelSpec | None:
    """The spec for ``model_id`` (a retired preview's is its release's), or None for a
    model we know nothing about."""
    return KNOWN_MODELS.get(RETIRED_PREVIEWS.get(model_id, model_id))
