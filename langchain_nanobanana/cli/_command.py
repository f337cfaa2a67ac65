"""What the command's subcommands share: exit codes, expected failures, the generation
flags, the input message and the chat model."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from langchain_core.messages import AIMessage, HumanMessage
from pydantic import ValidationError

from langchain_nanobanana._catalog.models import (
    ALL_ASPECT_RATIOS,
    ALL_BACKGROUNDS,
    ALL_IMAGE_SIZES,
    ALL_QUALITIES,
    DEFAULT_MODEL,
)
from langchain_nanobanana._content.media import sniff_mime_type
from langchain_nanobanana._openrouter.no_image import MissingImage
from langchain_nanobanana._transport.connection import DEFAULT_BASE_URL, check_base_url
from langchain_nanobanana.images import GeneratedImage, images_from

if TYPE_CHECKING:
    from langchain_nanobanana.chat_models import ChatNanoBanana

EXIT_OK, EXIT_API, EXIT_USAGE, EXIT_NO_IMAGE, EXIT_MAX_COST = 0, 1, 2, 3, 4
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: the reader of our output went away (`| head`)

EXIT_CODES_HELP = """\
exit codes:
  0    done
  1    OpenRouter refused or failed (for batch: some prompts failed; re-run to retry them)
  2    usage problem: bad option, missing file or folder, no key (nothing was sent)
  3    the answer held no image (the message says why)
  4    batch stopped before --max-cost would be exceeded (it counts what the folder's
       manifest records as spent; raise it to continue)
  130  interrupted (Ctrl-C); images that had arrived are kept, nothing half-written is
       left, and one line says what was done
  141  the reader of the output went away (as in `nanobanana models --json | head`)"""


class CommandError(Exception):
    """An expected failure: its message is printed as is, with its exit code."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def chat_model(*, offline: bool, model: str, **fields: Any) -> ChatNanoBanana:
    """The built-in emulator with ``offline``, else OpenRouter with the key from the environment."""
    if offline:
        from langchain_nanobanana.testing import FakeOpenRouter

        return FakeOpenRouter().chat_model(model=model, **fields)
    if not os.environ.get("OPENROUTER_API_KEY"):
        raise CommandError(
            "No OpenRouter key: set OPENROUTER_API_KEY, "
            "or pass --offline to try the built-in emulator.",
            EXIT_USAGE,
        )
    from langchain_nanobanana.chat_models import ChatNanoBanana

    try:
        return ChatNanoBanana(model_name=model, base_url=base_url_from_environment(), **fields)
    except ValidationError as exc:  # a setting the model refuses: its own sentence
        problems = "; ".join(
            str(error["msg"]).removeprefix("Value error, ") for error in exc.errors()
        )
        raise CommandError(problems, EXIT_USAGE) from None


_BASE_URL_VARIABLES = ("OPENROUTER_BASE_URL", "OPENROUTER_API_BASE")


def base_url_from_environment() -> str:
    """The API root the environment names (the default when it names none), checked:
    a malformed one is a usage error that names the variable, before anything is sent."""
    for name in _BASE_URL_VARIABLES:
        value = os.environ.get(name)
        if value:
            try:
                check_base_url(value, allow_insecure_http=False)
                _ = urlsplit(value).port  # a port past 65535 is refused here, not later
            except ValueError as exc:
                raise CommandError(
                    f"{name} is not a usable API root ({exc}); fix or unset it.", EXIT_USAGE
                ) from None
            return value
    return DEFAULT_BASE_URL


def generation_flags() -> argparse.ArgumentParser:
    """The flags a generating subcommand shares (one image, or a batch of them)."""
    flags = argparse.ArgumentParser(add_help=False)
    flags.add_argument("--model", default=DEFAULT_MODEL, help=f"default {DEFAULT_MODEL}")
    flags.add_argument("--aspect-ratio", choices=ALL_ASPECT_RATIOS)
    flags.add_argument("--image-size", choices=ALL_IMAGE_SIZES)
    flags.add_argument("--seed", type=int)
    flags.add_argument(
        "--modalities",
        type=_modalities,
        help="what to ask for: image,text or image (image-only models the package "
        "knows, such as FLUX, get image by themselves)",
    )
    flags.add_argument(
        "--endpoint",
        choices=("chat", "images"),
        help="OpenRouter endpoint (default: chat, or the Image API for models served only there)",
    )
    flags.add_argument("--quality", choices=ALL_QUALITIES, help="Image API only")
    flags.add_argument(
        "--format",
        dest="output_format",
        choices=("png", "jpeg", "webp"),
        help="the format the model makes (Image API only; -o's extension still decides the file)",
    )
    flags.add_argument("--background", choices=ALL_BACKGROUNDS, help="Image API only")
    flags.add_argument(
        "--offline", action="store_true", help="use the built-in emulator (no key, no network)"
    )
    flags.add_argument("--json", action="store_true", help="print the result as JSON")
    return flags


def _modalities(value: str) -> list[str]:
    chosen = [part.strip() for part in value.split(",") if part.strip()]
    if not chosen or any(part not in ("image", "text") for part in chosen):
        raise argparse.ArgumentTypeError("use image,text or image")
    return chosen


def call_options(args: argparse.Namespace) -> dict[str, Any]:
    """The per-call options the flags set (unset flags leave the model's defaults)."""
    chosen = {
        "aspect_ratio": args.aspect_ratio,
        "image_size": args.image_size,
        "seed": args.seed,
        "modalities": args.modalities,
        "quality": args.quality,
        "output_format": args.output_format,
        "background": args.background,
        "n": getattr(args, "n", None),
    }
    return {name: value for name, value in chosen.items() if value is not None}


def input_message(prompt: str, images: Sequence[Path]) -> HumanMessage:
    """The prompt and its input images, each checked to be a readable image."""
    content: list[dict[str, Any]] = [{"type": "text", "text": prompt}]
    for path in images:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CommandError(
                f"Cannot read input image {path}: {exc.strerror}.", EXIT_USAGE
            ) from None
        image = GeneratedImage.from_bytes(data)
        if not image.mime_type.startswith("image/"):
            raise CommandError(f"{path} is not a PNG, JPEG, WebP or GIF image.", EXIT_USAGE)
        content.append(image.to_block())
    return HumanMessage(content=content)  # type: ignore[arg-type]


def answer_images(message: AIMessage) -> list[GeneratedImage]:
    """The answer's images, or CommandError saying why there is none worth saving."""
    images = images_from(message)
    if not images:
        raise CommandError(MissingImage.of(message).sentence(), EXIT_NO_IMAGE)
    for image in images:
        if sniff_mime_type(image.data[:16]) is None:
            raise CommandError(
                f"The answer's image ({len(image.data)} bytes said to be {image.mime_type}) "
                "is not a PNG, JPEG, WebP or GIF; nothing was saved.",
                EXIT_API,
            )
    return images


def first_image(message: AIMessage) -> GeneratedImage:
    """The answer's first image, checked like every one (see ``answer_images``)."""
    return answer_images(message)[0]
