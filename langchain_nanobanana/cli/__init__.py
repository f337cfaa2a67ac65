"""The ``nanobanana`` command: make or edit images from the shell.

    nanobanana "a nano banana dish in a fancy restaurant" -o banana.png
    nanobanana "make it blue" -i banana.png -o blue.jpg
    nanobanana --offline "a test picture"      # built-in emulator: no key, no network
    nanobanana batch prompts.txt -o posters/   # one image per line, resumable
    nanobanana models                          # image-capable models and their prices
    nanobanana serve                           # the emulator on 127.0.0.1, for your own code
    nanobanana mcp                             # the image tool for MCP hosts (stdio; --http)

Expected failures print one sentence on stderr and exit non-zero, no traceback
(the codes are in ``EXIT_CODES_HELP``). Subcommands are recognised wherever the
flags stand: ``nanobanana --offline models`` lists models.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from langchain_core.messages import AIMessage

from langchain_nanobanana._catalog.models import MAX_IMAGES_PER_CALL
from langchain_nanobanana._content.text import printable
from langchain_nanobanana.cli._batch import batch_parser, run_batch
from langchain_nanobanana.cli._command import (
    EXIT_API,
    EXIT_CODES_HELP,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    CommandError,
    answer_images,
    call_options,
    chat_model,
    generation_flags,
    input_message,
)
from langchain_nanobanana.cli._image_files import (
    OutputError,
    OutputPlan,
    converted,
    extension_for,
    pillow_installed,
    write_whole,
)
from langchain_nanobanana.cli._progress_line import Progress
from langchain_nanobanana.errors import OpenRouterError
from langchain_nanobanana.images import GeneratedImage

_SERVE_PORT = 8790

_EPILOG = f"""\
commands:
  nanobanana PROMPT [options]        make or edit one image (PROMPT "-" reads it from stdin)
  nanobanana batch PROMPTS -o DIR    one image per line of a text or JSONL file
  nanobanana models                  image-capable models and their prices
  nanobanana serve                   the offline emulator on 127.0.0.1, for your own code
  nanobanana mcp                     the image tool as an MCP server (stdio, or --http)
  (to draw the word "models" itself: nanobanana -- models)

environment:
  OPENROUTER_API_KEY   your OpenRouter key (not needed with --offline)
  OPENROUTER_BASE_URL  the API root (default https://openrouter.ai/api/v1)

{EXIT_CODES_HELP}
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nanobanana",
        description="Create or edit an image with Gemini (Nano Banana) via OpenRouter.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[generation_flags()],
    )
    parser.add_argument(
        "prompt", help='what to draw, or how to change the input image(s); "-": stdin'
    )
    parser.add_argument(
        "-o",
        "--output",
        help="file (its extension picks the format: .png, .jpg, .webp) or existing folder",
    )
    parser.add_argument(
        "-i",
        "--image",
        type=Path,
        action="append",
        default=[],
        help="input image to edit or combine (repeatable)",
    )
    parser.add_argument(
        "-n",
        type=_image_count,
        help="how many images (1-10); -o FILE then writes FILE-1, FILE-2, ...",
    )
    parser.add_argument("--force", action="store_true", help="overwrite an existing output file")
    return parser


def _image_count(value: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= MAX_IMAGES_PER_CALL:
        raise argparse.ArgumentTypeError(f"use a whole number from 1 to {MAX_IMAGES_PER_CALL}")
    return int(value)


def _prompt(given: str) -> str:
    prompt = sys.stdin.read() if given == "-" else given
    if not prompt.strip():
        raise CommandError("The prompt is empty: say what to draw.", EXIT_USAGE)
    return prompt.strip()


def save_image(
    image: GeneratedImage, plan: OutputPlan, prompt: str, number: int = 1
) -> tuple[Path, str]:
    """Write ``image`` where ``plan`` says, converted to the format its name asks for.

    Returns the path and the format written. An answer in another format than the
    file's extension, with no Pillow to convert it, is kept under its own extension
    (said on stderr): it was paid for.
    """
    data, mime_type = image.data, image.mime_type
    path = plan.path_for(prompt, mime_type, number)
    if plan.mime_type is not None and plan.mime_type != mime_type:
        try:
            if not pillow_installed():
                raise OSError("Pillow is not installed")
            data, mime_type = converted(data, mime_type, plan.mime_type)
        except OSError as exc:
            path = path.with_suffix(extension_for(mime_type))
            print(
                f"nanobanana: the model answered {mime_type} and it could not be converted "
                f"({exc}); saved as {path}.",
                file=sys.stderr,
            )
    try:
        write_whole(path, data)
    except OSError as exc:
        raise CommandError(f"Cannot write {path}: {exc.strerror or exc}.", EXIT_API) from None
    return path, mime_type


def _generate(argv: Sequence[str]) -> int:
    args = _parser().parse_args(argv)
    prompt = _prompt(args.prompt)
    try:
        plan = OutputPlan.check(args.output, force=args.force).numbered(
            args.n or 1, force=args.force
        )
    except OutputError as exc:
        raise CommandError(str(exc), EXIT_USAGE) from None
    message = input_message(prompt, args.image)
    llm = chat_model(offline=args.offline, model=args.model, endpoint=args.endpoint)
    try:
        with Progress(sys.stderr, f"Generating with {args.model}"):
            # Options go per call, not to the constructor: a bad value then fails
            # with the model's own one-line ValueError.
            answer = llm.invoke([message], **call_options(args))
    except OpenRouterError as exc:
        raise CommandError(str(exc), EXIT_API) from None
    except ValueError as exc:
        raise CommandError(str(exc), EXIT_USAGE) from None
    results = []
    for number, image in enumerate(answer_images(answer), start=1):
        path, mime_type = save_image(image, plan, prompt, number)
        results.append(_result(answer, path, mime_type, image.size))
    for result in results:
        print(json.dumps(result) if args.json else _summary(result))
    for error in answer.response_metadata.get("errors", []):
        print(f"nanobanana: one request failed: {printable(error['message'])}", file=sys.stderr)
    return EXIT_OK


def _result(
    answer: AIMessage, path: Path, mime_type: str, size: tuple[int, int] | None
) -> dict[str, Any]:
    width, height = size or (None, None)
    usage: dict[str, Any] = dict(answer.usage_metadata or {})
    return {
        "path": str(path),
        "mime_type": mime_type,
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
    cost = f"${result['cost_usd']:.4f}" if isinstance(result["cost_usd"], float) else "cost unknown"
    return f"Saved {result['path']} ({size}, {result['output_tokens']} output tokens, {cost})"


def _models(argv: Sequence[str]) -> int:
    import httpx

    from langchain_nanobanana.cli._model_list import (
        fetch_image_api_models,
        fetch_image_models,
        image_api_table,
        models_table,
    )

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
        image_api = fetch_image_api_models(client)
    except (httpx.HTTPError, ValueError) as exc:
        raise CommandError(f"could not list models: {exc}", EXIT_API) from None
    if args.json:
        print(json.dumps({"chat": models, "images": image_api}, indent=2))
        return EXIT_OK
    # Model ids and names are the server's text: printed without control sequences.
    print(printable(models_table(models)))
    print()
    print(printable(image_api_table(image_api)))
    return EXIT_OK


def _serve(argv: Sequence[str]) -> int:
    from langchain_nanobanana.cli._serve_faults import add_fault_flags
    from langchain_nanobanana.testing import FAKE_API_KEY, FakeOpenRouter

    parser = argparse.ArgumentParser(
        prog="nanobanana serve",
        description="Run the offline emulator on 127.0.0.1 and print the variables that point "
        "ChatNanoBanana (and any OpenAI-compatible client) at it. Ctrl-C stops it.",
    )
    parser.add_argument("--port", type=int, default=_SERVE_PORT, help="0 picks a free port")
    parser.add_argument("--offline", action="store_true", help="accepted; serve is always offline")
    add_fault_flags(parser)
    parser.add_argument(
        "--max-concurrent",
        type=int,
        metavar="K",
        help="play a busy account: serve K requests at once, answer 429 (Retry-After: 1) beyond",
    )
    args = parser.parse_args(argv)
    if args.max_concurrent is not None and args.max_concurrent < 1:
        raise CommandError("--max-concurrent must be at least 1.", EXIT_USAGE)
    fake = FakeOpenRouter(latency=args.latency, max_concurrent=args.max_concurrent)
    fake.enqueue(*args.fault)
    with contextlib.ExitStack() as stack:
        try:
            base_url = stack.enter_context(fake.serve(args.port))
        except OSError as exc:
            raise CommandError(
                f"Cannot listen on 127.0.0.1:{args.port}: {exc.strerror}; "
                "pass --port 0 for any free port.",
                EXIT_USAGE,
            ) from None
        print(f"export OPENROUTER_BASE_URL={base_url}")
        print(f"export OPENROUTER_API_KEY={FAKE_API_KEY}", flush=True)
        print("nanobanana: emulator serving; run the lines above in your shell.", file=sys.stderr)
        threading.Event().wait()  # until Ctrl-C or a signal ends the process
    return EXIT_OK


def _mcp(argv: Sequence[str]) -> int:
    from langchain_nanobanana.cli._mcp import run_mcp  # the MCP SDK only when asked for

    return run_mcp(argv)


_SUBCOMMANDS: dict[str, Callable[[Sequence[str]], int]] = {
    "models": _models,
    "batch": run_batch,
    "serve": _serve,
    "mcp": _mcp,
}


def _split_subcommand(arguments: list[str]) -> tuple[Callable[[Sequence[str]], int], list[str]]:
    """The subcommand named by the first positional argument, wherever the flags stand.

    Flags that take a value are skipped with their value, so ``--model models`` is
    not the ``models`` subcommand; after ``--`` everything is the prompt.
    """
    takes_value = {
        option
        for parser in (_parser(), batch_parser())
        for action in parser._actions
        if action.nargs != 0
        for option in action.option_strings
    }
    position = 0
    while position < len(arguments):
        argument = arguments[position]
        if argument == "--":
            break
        if argument.startswith("-") and argument != "-":
            position += 2 if argument in takes_value else 1
            continue
        if argument in _SUBCOMMANDS:
            return _SUBCOMMANDS[argument], arguments[:position] + arguments[position + 1 :]
        break
    return _generate, arguments


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    try:
        command, rest = _split_subcommand(arguments)
        return command(rest)
    except CommandError as exc:
        print(f"nanobanana: {printable(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("nanobanana: interrupted; nothing half-written was left behind.", file=sys.stderr)
        return EXIT_INTERRUPTED
