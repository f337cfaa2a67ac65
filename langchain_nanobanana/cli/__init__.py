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
import os
import sys
import threading
from collections.abc import Callable, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from langchain_core.messages import AIMessage

from langchain_nanobanana._catalog.models import MAX_IMAGES_PER_CALL
from langchain_nanobanana._content.image_formats import ConversionError, converted, extension_for
from langchain_nanobanana._content.text import printable
from langchain_nanobanana.cli._batch import batch_parser, run_batch
from langchain_nanobanana.cli._command import (
    EXIT_API,
    EXIT_BROKEN_PIPE,
    EXIT_CODES_HELP,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    CommandError,
    answer_images,
    base_url_from_environment,
    call_options,
    chat_model,
    generation_flags,
    input_message,
)
from langchain_nanobanana.cli._image_files import OutputError, OutputPlan, write_whole
from langchain_nanobanana.cli._image_records import ImageShare, image_shares
from langchain_nanobanana.cli._progress_line import Progress
from langchain_nanobanana.errors import CallInterrupted, OpenRouterError
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
    parser.add_argument("--version", action="version", version=f"nanobanana {_version()}")
    parser.add_argument(
        "prompt", help='what to draw, or how to change the input image(s); "-": stdin'
    )
    parser.add_argument(
        "-o",
        "--output",
        help="file (its extension picks the format: .png, .jpg, .webp, .gif) or existing "
        "folder; several images are FILE-1, FILE-2, ... (in a folder, named from the prompt)",
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
        help="how many images (1-10), each with its own record (cost, tokens, generation id)",
    )
    parser.add_argument("--force", action="store_true", help="overwrite an existing output file")
    return parser


def _version() -> str:
    try:
        return version("langchain-nanobanana")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "(not installed)"


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
    try:
        data, mime_type = converted(data, mime_type, plan.mime_type)
    except ConversionError as exc:
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
    count = args.n or 1
    try:
        plan = OutputPlan.check(args.output, force=args.force).numbered(count, force=args.force)
    except OutputError as exc:
        raise CommandError(str(exc), EXIT_USAGE) from None
    message = input_message(prompt, args.image)
    llm = chat_model(offline=args.offline, model=args.model, endpoint=args.endpoint)
    try:
        with Progress(sys.stderr, f"Generating with {args.model}"):
            # Options go per call, not to the constructor: a bad value then fails
            # with the model's own one-line ValueError.
            answer = llm.invoke([message], **call_options(args))
    except CallInterrupted as interrupted:
        return _interrupted(interrupted.partial_message, count, plan, prompt, as_json=args.json)
    except OpenRouterError as exc:
        raise CommandError(str(exc), EXIT_API) from None
    except ValueError as exc:
        raise CommandError(str(exc), EXIT_USAGE) from None
    results = _save_all(answer, plan, prompt)
    for result in results:
        print(json.dumps(result) if args.json else _summary(result))
    if len(results) > 1 and not args.json:
        print(_total(results))
    for error in answer.response_metadata.get("errors", []):
        print(f"nanobanana: one request failed: {printable(error['message'])}", file=sys.stderr)
    return EXIT_OK


def _save_all(answer: AIMessage, plan: OutputPlan, prompt: str) -> list[dict[str, Any]]:
    """Each image of ``answer`` written, with its own record."""
    results = []
    model = answer.response_metadata.get("model_name")
    for number, share in enumerate(image_shares(answer, answer_images(answer)), start=1):
        path, mime_type = save_image(share.image, plan, prompt, number)
        results.append(_result(share, path, mime_type, model))
    return results


def _interrupted(
    arrived: AIMessage | None, count: int, plan: OutputPlan, prompt: str, *, as_json: bool
) -> int:
    """Ctrl-C during a call for several images: the images that had come are kept."""
    if arrived is None:
        print(
            f"nanobanana: interrupted before any of the {count} images arrived; "
            "the requests were cancelled and nothing was saved.",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    results = _save_all(arrived, plan, prompt)
    for result in results:
        print(json.dumps(result) if as_json else _summary(result))
    spent = sum(result["cost_usd"] or 0.0 for result in results)
    names = ", ".join(result["path"] for result in results)
    print(
        f"nanobanana: interrupted; kept the {len(results)} of {count} images that had arrived "
        f"({names}; ${spent:.4f}); the other requests were cancelled.",
        file=sys.stderr,
    )
    return EXIT_INTERRUPTED


def _result(share: ImageShare, path: Path, mime_type: str, model: str | None) -> dict[str, Any]:
    width, height = share.image.size or (None, None)
    return {
        "path": str(path),
        "mime_type": mime_type,
        "width": width,
        "height": height,
        "input_tokens": share.input_tokens,
        "output_tokens": share.output_tokens,
        "cost_usd": share.cost_usd,
        "model": model,
        "generation_id": share.generation_id,
        "text": share.text,
    }


def _summary(result: dict[str, Any]) -> str:
    size = f"{result['width']}x{result['height']}" if result["width"] else "unknown size"
    return (
        f"Saved {result['path']} ({size}, {result['output_tokens']} output tokens, "
        f"{_dollars(result['cost_usd'])})"
    )


def _total(results: list[dict[str, Any]]) -> str:
    tokens = [result["output_tokens"] for result in results]
    costs = [result["cost_usd"] for result in results]
    output = sum(tokens) if None not in tokens else "unknown"
    cost = sum(costs) if None not in costs else None
    return f"Total: {len(results)} images, {output} output tokens, {_dollars(cost)}"


def _dollars(cost: float | None) -> str:
    return f"${cost:.4f}" if isinstance(cost, float) else "cost unknown"


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

        fake = FakeOpenRouter()
        client, base_url = fake.client(), fake.base_url
    else:
        base_url = base_url_from_environment()
    try:
        models = fetch_image_models(base_url, client)
        image_api = fetch_image_api_models(base_url, client)
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
    parser.add_argument(
        "--port", type=_port, default=_SERVE_PORT, help="0 picks a free port (up to 65535)"
    )
    parser.add_argument("--offline", action="store_true", help="accepted; serve is always offline")
    add_fault_flags(parser)
    parser.add_argument(
        "--max-concurrent",
        type=int,
        metavar="K",
        help="play a busy account: serve K requests at once, answer 429 (Retry-After: 1) beyond",
    )
    parser.add_argument(
        "--replay",
        metavar="DIR",
        help="answer model calls with the recordings in DIR (what record_to / NANOBANANA_RECORD "
        "wrote), in order",
    )
    args = parser.parse_args(argv)
    if args.max_concurrent is not None and args.max_concurrent < 1:
        raise CommandError("--max-concurrent must be at least 1.", EXIT_USAGE)
    options = {"latency": args.latency, "max_concurrent": args.max_concurrent}
    try:
        fake = (
            FakeOpenRouter.replay(args.replay, **options)
            if args.replay
            else FakeOpenRouter(**options)
        )
    except (OSError, ValueError) as exc:
        raise CommandError(f"Cannot replay {args.replay}: {exc}", EXIT_USAGE) from None
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


def _port(value: str) -> int:
    if not value.isdigit() or int(value) > _HIGHEST_PORT:
        raise argparse.ArgumentTypeError(f"use a port number from 0 to {_HIGHEST_PORT}")
    return int(value)


_HIGHEST_PORT = 65535

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
        code = command(rest)
        sys.stdout.flush()  # a reader that went away is found here, not at exit
        return code
    except CommandError as exc:
        print(f"nanobanana: {printable(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("nanobanana: interrupted; nothing half-written was left behind.", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # `nanobanana models --json | head`: the reader has all it wanted. Later writes
        # (the interpreter's last flush) go nowhere instead of raising again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
