"""``nanobanana batch``: one image per prompt of a file, concurrent, resumable, within a budget.

The prompts file is plain text (one prompt per line) or JSONL (one object per line:
``prompt`` and optionally ``aspect_ratio``, ``image_size``, ``seed``, ``modalities``,
``model``, ``images``). Every finished prompt appends one line to
``FOLDER/manifest.jsonl``; a prompt whose image is in the manifest (and in the
folder) is not generated, or paid for, again, so re-running the same command
resumes. ``--max-cost`` covers the folder: what its manifest records as spent counts
against it, so re-running never grants the whole budget again (``--fresh-budget``
counts this run alone).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage

from langchain_nanobanana._catalog.models import find_model
from langchain_nanobanana._catalog.names import unknown_names
from langchain_nanobanana._content.image_formats import extension_for
from langchain_nanobanana._content.text import printable, shorten
from langchain_nanobanana._openrouter.options import check_image_config
from langchain_nanobanana._transport.connection import api_key_value
from langchain_nanobanana._transport.shared_limit import SharedLimit, shared_limit
from langchain_nanobanana.cli._command import (
    EXIT_API,
    EXIT_INTERRUPTED,
    EXIT_MAX_COST,
    EXIT_OK,
    EXIT_USAGE,
    CommandError,
    call_options,
    chat_model,
    first_image,
    generation_flags,
    input_message,
)
from langchain_nanobanana.cli._image_files import slug, write_whole
from langchain_nanobanana.cli._progress_line import Progress
from langchain_nanobanana.errors import OpenRouterError

MANIFEST = "manifest.jsonl"
DEFAULT_JOBS = 4
_LINE_OPTIONS = ("aspect_ratio", "image_size", "seed", "modalities", "model")
_LINE_KEYS = frozenset({"prompt", "images", *_LINE_OPTIONS})
_ERROR_CHARS = 300


def batch_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nanobanana batch",
        description="One image per prompt: PROMPTS is a text file (one prompt per line) or "
        "JSONL (per-line prompt, aspect_ratio, image_size, seed, modalities, model, images). "
        f"FOLDER gets the images and {MANIFEST}; re-running the same command resumes.",
        parents=[generation_flags()],
    )
    parser.add_argument("prompts", type=Path, help='the prompts file ("-": stdin)')
    parser.add_argument("-o", "--output", type=Path, required=True, help="folder for the images")
    parser.add_argument(
        "-j",
        "--jobs",
        type=int,
        default=DEFAULT_JOBS,
        help=f"requests at a time, at most (default {DEFAULT_JOBS}); fewer while OpenRouter "
        "answers 429: every call on the key shares one adaptive limit",
    )
    parser.add_argument(
        "--max-cost",
        type=_dollars,
        help=f"USD the folder may cost, counting what its {MANIFEST} records as spent by "
        "earlier runs: no request starts that could take the spend past this",
    )
    parser.add_argument(
        "--fresh-budget",
        action="store_true",
        help=f"--max-cost counts this run's spending only, not what {MANIFEST} records",
    )
    return parser


def _dollars(value: str) -> float:
    try:
        amount = float(value)
    except ValueError:
        amount = math.nan
    if not math.isfinite(amount) or amount < 0:
        raise argparse.ArgumentTypeError("use an amount in US dollars, 0 or more (e.g. 1.50)")
    return amount


@dataclass(frozen=True)
class Prompt:
    """One line of the prompts file, checked, with the key that identifies it across runs."""

    line: int
    text: str
    options: dict[str, Any]
    images: tuple[Path, ...] = ()

    @cached_property
    def key(self) -> str:
        """Same prompt, options and input images: same key, so a re-run skips it."""
        inputs = [hashlib.sha256(path.read_bytes()).hexdigest() for path in self.images]
        identity = json.dumps([self.text, self.options, inputs], sort_keys=True)
        return hashlib.sha256(identity.encode()).hexdigest()[:16]

    def message(self) -> HumanMessage:
        return input_message(self.text, self.images)


def read_prompts(source: str, base: Path, defaults: dict[str, Any]) -> list[Prompt]:
    """Every prompt of the file, each checked before anything is sent (exit 2 otherwise)."""
    prompts = []
    for number, raw in enumerate(source.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("{"):
            prompts.append(_json_prompt(number, line, base, defaults))
        else:
            prompts.append(Prompt(number, line, dict(defaults)))
    if not prompts:
        raise CommandError("The prompts file holds no prompt.", EXIT_USAGE)
    for prompt in prompts:
        _check(prompt)
    return prompts


def _json_prompt(number: int, line: str, base: Path, defaults: dict[str, Any]) -> Prompt:
    where = f"Line {number} of the prompts file"
    try:
        entry = json.loads(line)
    except ValueError:
        raise CommandError(f"{where} is not valid JSON.", EXIT_USAGE) from None
    if not isinstance(entry, dict) or not isinstance(entry.get("prompt"), str):
        raise CommandError(f'{where} needs a "prompt" string.', EXIT_USAGE)
    unknown = set(entry) - _LINE_KEYS
    if unknown:
        raise CommandError(
            f"{where} has unknown key(s): {unknown_names(unknown, _LINE_KEYS)}.", EXIT_USAGE
        )
    images = entry.get("images", [])
    if not isinstance(images, list) or not all(isinstance(path, str) for path in images):
        raise CommandError(f'{where}: "images" must be a list of file paths.', EXIT_USAGE)
    options = {**defaults, **{key: entry[key] for key in _LINE_OPTIONS if key in entry}}
    return Prompt(number, entry["prompt"], options, tuple(base / path for path in images))


def _check(prompt: Prompt) -> None:
    where = f"Line {prompt.line} of the prompts file"
    try:
        check_image_config(
            prompt.options["model"],
            prompt.options.get("aspect_ratio"),
            prompt.options.get("image_size"),
        )
        prompt.message()  # the input images exist and are images
    except ValueError as exc:
        raise CommandError(f"{where}: {exc}", EXIT_USAGE) from None
    except CommandError as exc:
        raise CommandError(f"{where}: {exc}", exc.exit_code) from None


def estimated_cost(options: dict[str, Any]) -> float | None:
    """What one image of this model is likely to cost, from the catalog (None: unknown)."""
    spec = find_model(options["model"])
    if spec is None:
        return None
    return spec.image_price(options.get("image_size"))


@dataclass
class Manifest:
    """What the folder's manifest says of earlier runs."""

    done: set[str] = field(default_factory=set)
    """Keys of prompts whose image the manifest records and the folder holds."""
    spent: float = 0.0
    """Dollars its lines record, made images and failures alike."""
    unreadable: int = 0


def read_manifest(folder: Path) -> Manifest:
    """The folder's manifest; a line cut short when a run was killed mid-write is counted
    as unreadable, and a line whose file is not an image file in the folder marks nothing
    done (a file elsewhere, reached by a path or a link, is no image of this batch)."""
    manifest = Manifest()
    path = folder / MANIFEST
    if not path.exists():
        return manifest
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
            key, file, cost = record["key"], record.get("file"), record.get("cost")
        except (ValueError, AttributeError, TypeError, KeyError):
            manifest.unreadable += 1
            continue
        if isinstance(cost, (int, float)) and math.isfinite(cost) and cost > 0:
            manifest.spent += cost
        if isinstance(key, str) and _inside(folder, file):
            manifest.done.add(key)
    return manifest


def _inside(folder: Path, file: object) -> bool:
    """Whether ``file`` names a file of ``folder`` itself (no path, no link out of it)."""
    if not isinstance(file, str) or not file or Path(file).name != file or file in (".", ".."):
        return False
    target = folder / file
    return target.is_file() and target.resolve().parent == folder.resolve()


@dataclass
class _Run:
    """One run's state: what is queued, done, failed, spent; shared by the workers."""

    folder: Path
    llm: Any
    max_cost: float | None
    jobs: int
    queue: list[Prompt]
    total: int
    already_done: int
    spent_before: float = 0.0
    """What earlier runs spent that counts against ``max_cost`` (0 with --fresh-budget)."""
    done: int = 0
    failed: int = 0
    spent: float = 0.0
    reserved: float = 0.0
    most_seen: float = 0.0
    over_budget: int = 0
    limit: SharedLimit | None = None
    """The key's shared limit, shown on the progress line."""
    rate_limited_before: int = 0

    def status(self, elapsed: float) -> str:
        finished = self.done + self.failed
        remaining = self.total - self.already_done - finished
        eta = f"{elapsed / finished * remaining:.0f}s" if finished else "?"
        line = (
            f"{self.already_done + self.done}/{self.total} images, {self.failed} failed, "
            f"${self.spent:.4f} spent, ETA {eta}"
        )
        if self.limit is None:
            return line
        state = self.limit.state()
        window = self.jobs if state.window is None else min(state.window, self.jobs)
        refused = state.rate_limited - self.rate_limited_before
        return f"{line}, window {window}/{self.jobs}, {refused} 429s"

    def _affordable(self, prompt: Prompt) -> float | None:
        """The amount to reserve for ``prompt``, or None when it could break --max-cost."""
        estimate = estimated_cost(prompt.options)
        reserve = self.most_seen if estimate is None else max(estimate, self.most_seen)
        committed = self.spent_before + self.spent + self.reserved
        if self.max_cost is not None and committed + reserve > self.max_cost:
            return None
        return reserve

    async def worker(self) -> None:
        while self.queue:
            prompt = self.queue.pop(0)
            reserve = self._affordable(prompt)
            if reserve is None:
                self.over_budget += 1 + len(self.queue)
                self.queue.clear()
                return
            self.reserved += reserve
            try:
                await self._one(prompt)
            finally:
                self.reserved -= reserve

    async def _one(self, prompt: Prompt) -> None:
        options = {k: v for k, v in prompt.options.items() if v is not None}
        try:
            answer = await self.llm.ainvoke([prompt.message()], **options)
        except (OpenRouterError, ValueError) as exc:
            self._record(prompt, getattr(exc, "partial_message", None), error=str(exc))
            return
        self._record(prompt, answer)

    def _record(self, prompt: Prompt, answer: AIMessage | None, error: str | None = None) -> None:
        metadata: dict[str, Any] = dict(answer.response_metadata) if answer else {}
        cost = metadata.get("cost") if isinstance(metadata.get("cost"), float) else None
        file_name = None
        if answer is not None and error is None:
            try:
                image = first_image(answer)
            except CommandError as missing:
                error = str(missing)
            else:
                file_name = self._file_name(prompt, extension_for(image.mime_type))
                write_whole(self.folder / file_name, image.data)
                metadata.update(mime_type=image.mime_type, width=image.width, height=image.height)
        if answer is not None and answer.usage_metadata:
            metadata["usage"] = dict(answer.usage_metadata)
        self.spent += cost or 0.0
        self.most_seen = max(self.most_seen, cost or 0.0)
        if file_name:
            self.done += 1
        else:
            self.failed += 1
        record = {
            "key": prompt.key,
            "line": prompt.line,
            "prompt": prompt.text,
            "options": prompt.options,
            "file": file_name,
            "metadata": metadata,
            "cost": cost,
            "finish_reason": metadata.get("native_finish_reason") or metadata.get("finish_reason"),
            "error": shorten(printable(error), _ERROR_CHARS) if error else None,
        }
        with (self.folder / MANIFEST).open("a") as manifest:
            manifest.write(json.dumps(record, default=str) + "\n")

    def _file_name(self, prompt: Prompt, extension: str) -> str:
        name = f"{prompt.line:03d}-{slug(prompt.text)}{extension}"
        if (self.folder / name).exists():  # left by a prompt that has since changed
            name = f"{prompt.line:03d}-{slug(prompt.text)}-{prompt.key[:8]}{extension}"
        return name


def run_batch(argv: Sequence[str]) -> int:
    args = batch_parser().parse_args(argv)
    if args.jobs < 1:
        raise CommandError("-j must be at least 1.", EXIT_USAGE)
    folder: Path = args.output
    if not folder.is_dir():
        if not folder.parent.is_dir():
            raise CommandError(
                f"Folder {folder.parent} does not exist; create it first.", EXIT_USAGE
            )
        folder.mkdir()
    defaults = {"model": args.model, **call_options(args)}
    source, base = _read_source(args.prompts)
    prompts = read_prompts(source, base, defaults)
    manifest = read_manifest(folder)
    if manifest.unreadable:
        print(
            f"nanobanana: {manifest.unreadable} unreadable manifest line(s) ignored.",
            file=sys.stderr,
        )
    queue = [prompt for prompt in prompts if prompt.key not in manifest.done]
    llm = chat_model(offline=args.offline, model=args.model, endpoint=args.endpoint)
    limit = shared_limit(api_key_value(llm.api_key), llm.base_url)
    run = _Run(
        folder=folder,
        llm=llm,
        max_cost=args.max_cost,
        spent_before=0.0 if args.fresh_budget else manifest.spent,
        jobs=args.jobs,
        queue=queue,
        total=len(prompts),
        already_done=len(prompts) - len(queue),
        limit=limit,
        rate_limited_before=limit.state().rate_limited,
    )
    try:
        with Progress(sys.stderr, run.status):
            asyncio.run(_work(run))
    except OSError as exc:  # the folder filled up or went away: the manifest holds what was made
        raise CommandError(
            f"Cannot write into {folder}: {exc.strerror or exc}; re-run to resume.", EXIT_API
        ) from None
    except KeyboardInterrupt:
        # Requests in flight were cancelled with their tasks; each image that had arrived
        # is already in the folder and the manifest.
        left = run.total - run.already_done - run.done
        print(
            f"nanobanana: interrupted; {run.already_done + run.done}/{run.total} images done "
            f"({run.done} this run), {left} left, ${run.spent:.4f} spent this run; "
            "re-run the same command to continue.",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    return _report(run, folder, as_json=args.json)


def _read_source(path: Path) -> tuple[str, Path]:
    if str(path) == "-":
        return sys.stdin.read(), Path.cwd()
    try:
        return path.read_text(), path.parent
    except OSError as exc:
        raise CommandError(
            f"Cannot read prompts file {path}: {exc.strerror}.", EXIT_USAGE
        ) from None
    except UnicodeDecodeError:
        raise CommandError(f"Prompts file {path} is not UTF-8 text.", EXIT_USAGE) from None


async def _work(run: _Run) -> None:
    await asyncio.gather(*(run.worker() for _ in range(run.jobs)))


def _report(run: _Run, folder: Path, *, as_json: bool) -> int:
    summary = {
        "folder": str(folder),
        "images": run.already_done + run.done,
        "made_now": run.done,
        "skipped_as_done": run.already_done,
        "failed": run.failed,
        "not_started_max_cost": run.over_budget,
        "spent_usd": round(run.spent, 6),
        "spent_by_earlier_runs_usd": round(run.spent_before, 6),
        "manifest": str(folder / MANIFEST),
    }
    if as_json:
        print(json.dumps(summary))
    else:
        print(
            f"{summary['images']}/{run.total} images in {folder} ({run.done} made now, "
            f"{run.already_done} already there), {run.failed} failed, ${run.spent:.4f} spent."
        )
    if run.over_budget:
        earlier = (
            f" (${run.spent_before:.4f} of it spent by earlier runs, as {MANIFEST} records); "
            "raise --max-cost to go on, or pass --fresh-budget to count this run alone."
            if run.spent_before
            else "; raise --max-cost to go on."
        )
        print(
            f"nanobanana: stopped at --max-cost ${run.max_cost:.2f}: {run.over_budget} "
            f"prompt(s) not started{earlier}",
            file=sys.stderr,
        )
        return EXIT_MAX_COST
    if run.failed:
        print(
            f"nanobanana: {run.failed} prompt(s) failed (errors in {folder / MANIFEST}); "
            "re-run the same command to retry only those.",
            file=sys.stderr,
        )
        return EXIT_API
    return EXIT_OK
