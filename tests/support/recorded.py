"""Where the recordings of live OpenRouter traffic live, and how to read one.

The shared set sits beside the checkout (``../shared/recorded``, where CI puts it too);
recordings found since are in ``tests/recorded``. Under CI (``CI=true``) a missing
shared folder fails the test that needs it; elsewhere it is skipped.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support import REPOSITORY

SHARED = REPOSITORY.parent / "shared" / "recorded"
OWN = REPOSITORY / "tests" / "recorded"


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def require_shared() -> Path:
    """The shared folder; a missing one fails the test under CI and skips it elsewhere."""
    if SHARED.is_dir():
        return SHARED
    reason = f"the shared recordings are missing: {SHARED} (CI puts ../shared beside the clone)"
    if in_ci():
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


@dataclass(frozen=True)
class Recording:
    """One fixture: its name, folder, meta and response file."""

    name: str
    folder: Path
    meta: dict[str, Any]
    response: Path

    @property
    def streamed(self) -> bool:
        return self.response.suffix == ".sse"


def recordings(folder: Path) -> list[Recording]:
    """Every fixture in ``folder`` (none when it is missing), in name order."""
    found = []
    for meta in sorted(folder.glob("*.meta.json")) if folder.is_dir() else []:
        name = meta.name.removesuffix(".meta.json")
        (response,) = [
            p for p in folder.glob(f"{name}.response.*") if p.suffix in (".json", ".sse")
        ]
        found.append(Recording(name, folder, json.loads(meta.read_text()), response))
    return found


def isolated(recording: Recording, into: Path) -> Path:
    """A folder holding ``recording`` alone, to replay it by itself."""
    for path in recording.folder.glob(f"{recording.name}.*"):
        (into / path.name).write_bytes(path.read_bytes())
    return into


def sse_payloads(raw: bytes) -> tuple[list[bytes], list[bytes]]:
    """(comment lines, data payloads) of an SSE body; any other kind of line fails."""
    comments, data = [], []
    for line in raw.split(b"\n"):
        if line.startswith(b":"):
            comments.append(line)
        elif line.startswith(b"data: "):
            data.append(line[len(b"data: ") :])
        else:
            assert line == b"", f"only data lines and comments: {line[:80]!r}"
    return comments, data
