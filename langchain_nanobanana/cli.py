"""The ``nanobanana`` command: make or edit an image from the shell.

    nanobanana "a nano banana dish in a fancy restaurant" -o banana.png
    nanobanana "make it blue" -i banana.png -o blue.png
    nanobanana --offline "a test picture"      # built-in emulator: no key, no network
    nanobanana models                          # image-capable models and their prices

Expected failures print one sentence on stderr and exit non-zero, no traceback:
2 for usage problems (no key, bad option, file exists), 1 when OpenRouter
refused or failed, 3 when the answer held no image.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
from langchain_core.messages import AIMessage, HumanMessage

from langchain_nanobanana._catalog import ALL_ASPECT_RATIOS, ALL_IMAGE_SIZES, DEFAULT_MODEL
from langchain_nanobanana._model_list import fetch_image_models, models_table
from langchain_nanobanana._no_image import MissingImage
from langchain_nanobanana._progress import Progress
from langchain_nanobanana.errors import OpenRouterError
from langchain_nanobanana.images import GeneratedImage, images_from

EXIT_OK, EXIT_API, EXIT_USAGE, EXIT_NO_IMAGE = 0, 1, 2, 3


class CommandError(Exception):
    """An expected failure: its message is printed as is, with its exit code."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nanobanana",
        description="Create or edit an image with Gemini (Nano Banana) via OpenRouter.",
    )
    parser.add_argument("prompt", help="what to draw, or how to change the input image(s)")
    parser.add_argument(
        "-o", "--output", type=Path, help="file or folder to write (default: a new file here)"
    )
    parser.add_argument(
        "-i",
        "--image",
        type=Path,
        action="append",
        default=[],
        help="input image to edit or combine (repeatable)",
    )
    parser.add_argument("--aspect-ratio", choices=ALL_ASPECT_RATIOS)
    parser.add_argument("--image-size", choices=ALL_IMAGE_SIZES)
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--seed", type=int)
    parser.add_argument(
        "--offline", action="store_true", help="use the built-in emulator (no key, no network)"
    )
    parser.add_argument("--force", action="store_true", help="overwrite an existing output file")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")
    return parser


def _input_message(prompt: str, images: Sequence[Path]) -> HumanMessage:
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


def _slug(prompt: str) -> str:
    words = re.findall(r"[a-z0-9]+", prompt.lower())[:6]
    return "-".join(words) or "image"


def _output_path(requested: Path | None, prompt: str, extension: str, force: bool) -> Path:
    """Where to write: never over an existing file unless --force."""
    if requested is not None and not requested.is_dir():
        if requested.exists() and not force:
            raise CommandError(f"{requested} exists; pass --force to overwrite it.", EXIT_USAGE)
        return requested
    folder = requested or Path.cwd()
    candidate = folder / f"{_slug(prompt)}{extension}"
    counter = 1
    while candidate.exists():
        candidate = folder / f"{_slug(prompt)}-{counter}{extension}"
        counter += 1
    return candidate


def _first_image(message: AIMessage) -> GeneratedImage:
    images = images_from(message)
    if not images:
        raise CommandError(MissingImage.of(message).sentence(), EXIT_NO_IMAGE)
    return images[0]


def _generate(args: argparse.Namespace) -> dict[str, Any]:
    # Passed per call, not to the constructor: a bad value then fails with the
    # model's own one-line ValueError rather than a pydantic validation report.
    chosen = {"aspect_ratio": args.aspect_ratio, "image_size": args.image_size, "seed": args.seed}
    options = {name: value for name, value in chosen.items() if value is not None}
    message = _input_message(args.prompt, args.image)
    if args.offline:
        from langchain_nanobanana.testing import FakeOpenRouter

        llm = FakeOpenRouter().chat_model(model=args.model)
    else:
        if not os.environ.get("OPENROUTER_API_KEY"):
            raise CommandError(
                "No OpenRouter key: set OPENROUTER_API_KEY, "
                "or pass --offline to try the built-in emulator.",
                EXIT_USAGE,
            )
        from langchain_nanobanana.chat_models import ChatNanoBanana

        llm = ChatNanoBanana(model_name=args.model)
    try:
        with Progress(sys.stderr, f"Generating with {args.model}"):
            answer = llm.invoke([message], **options)
    except ValueError as exc:
        raise CommandError(str(exc), EXIT_USAGE) from None
    except OpenRouterError as exc:
        raise CommandError(str(exc), EXIT_API) from None
    image = _first_image(answer)
    path = _output_path(args.output, args.prompt, image.extension, args.force)
    image.save(path)
    width, height = image.size or (None, None)
    usage: dict[str, Any] = dict(answer.usage_metadata or {})
    return {
        "path": str(path),
        "mime_type": image.mime_type,
        "width": width,
        "height": height,
        "input_tokens": usage.get("input_tokens"),
        "output_tokens": usage.get("output_tokens"),
        "cost_usd": answer.response_metadata.get("cost"),
        "model": answer.response_metadata.get("model_name"),
        "generation_id": answer.response_metadata.get("id"),
        "text": answer.text,
    }


def _summary(result: dict[str, Any]) -> str:
    size = f"{result['width']}x{result['height']}" if result["width"] else "unknown size"
    cost = f"${result['cost_usd']:.4f}" if result["cost_usd"] is not None else "cost unknown"
    return f"Saved {result['path']} ({size}, {result['output_tokens']} output tokens, {cost})"


def _models(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="nanobanana models", description="List image-capable models."
    )
    parser.add_argument("--offline", action="store_true", help="list the emulator's models")
    parser.add_argument("--json", action="store_true", help="print OpenRouter's entries as JSON")
    args = parser.parse_args(argv)
    client = None
    if args.offline:
        from langchain_nanobanana.testing import FakeOpenRouter

        client = FakeOpenRouter().client()
    try:
        models = fetch_image_models(client)
    except (httpx.HTTPError, ValueError) as exc:
        print(f"nanobanana: could not list models: {exc}", file=sys.stderr)
        return EXIT_API
    print(json.dumps(models, indent=2) if args.json else models_table(models))
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["models"]:
        return _models(arguments[1:])
    args = _parser().parse_args(arguments)
    try:
        result = _generate(args)
    except CommandError as exc:
        print(f"nanobanana: {exc}", file=sys.stderr)
        return exc.exit_code
    print(json.dumps(result) if args.json else _summary(result))
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
