"""Where the command writes an image, in which format, and how (never half a file).

Everything that can be checked about an output path is checked before any request,
so a typo in a folder name costs nothing; the file itself appears whole or not at all.

One naming rule, with or without ``-o``: a single image is ``NAME.ext``; several are
``NAME-1.ext``, ``NAME-2.ext``, ... ``NAME`` is the file ``-o`` names, or the prompt's
first words in a folder, where a name already taken moves on to the next free number
(nothing is overwritten there); a named file that exists needs ``--force``.
"""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass, replace
from pathlib import Path

from langchain_nanobanana._content.image_formats import (
    PILLOW_HINT,
    extension_for,
    format_named_by,
    pillow_installed,
)

_SLUG_WORDS = 6


class OutputError(ValueError):
    """An output path that cannot be written; says what to do instead."""


def slug(prompt: str) -> str:
    """A file name from a prompt: its first words, lower case, hyphenated."""
    words = re.findall(r"[a-z0-9]+", prompt.lower())[:_SLUG_WORDS]
    return "-".join(words) or "image"


@dataclass(frozen=True)
class OutputPlan:
    """A checked destination: a file named by the user, or a folder to name one in."""

    folder: Path
    file: Path | None
    """The named file, or None to name one from the prompt inside ``folder``."""
    mime_type: str | None
    """The format the file's extension asks for; None keeps the model's own."""
    count: int = 1
    """How many images: several are each written under the name with its number."""

    @classmethod
    def check(cls, given: str | None, *, force: bool) -> OutputPlan:
        """The plan for ``-o given``, or OutputError when it could not be written.

        ``given`` is the text as typed: a trailing slash (which ``Path`` would drop)
        says "a folder", so a missing one is an error rather than a file of that name.
        """
        if given is None:
            return cls._folder(Path())
        requested = Path(given)
        if requested.is_dir():
            return cls._folder(requested)
        if given.endswith(("/", os.sep)):
            raise OutputError(f"Folder {given} does not exist; create it first.")
        if requested.exists() and not force:
            raise OutputError(f"{requested} exists; pass --force to overwrite it.")
        parent = requested.parent
        if not parent.is_dir():
            raise OutputError(f"Folder {parent} does not exist; create it first.")
        try:
            mime_type = format_named_by(requested)
        except ValueError as exc:
            raise OutputError(str(exc)) from None
        if mime_type not in (None, "image/png") and not pillow_installed():
            raise OutputError(
                f"Writing {requested.suffix} needs Pillow to convert the model's PNG: "
                f"{PILLOW_HINT}, or name the file .png."
            )
        cls._check_writable(parent)
        return cls(parent, requested, mime_type)

    @classmethod
    def _folder(cls, folder: Path) -> OutputPlan:
        cls._check_writable(folder)
        return cls(folder, None, None)

    @staticmethod
    def _check_writable(folder: Path) -> None:
        """Create (and remove) a file there: permission bits say nothing to root, and
        nothing about a folder such as /proc that takes no new files at all."""
        probe = folder / f".nanobanana-{secrets.token_hex(4)}.probe"
        try:
            descriptor = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError as exc:
            reason = (exc.strerror or str(exc)).lower()
            raise OutputError(f"Cannot write into {folder}: {reason}.") from None
        os.close(descriptor)
        probe.unlink(missing_ok=True)

    def numbered(self, count: int, *, force: bool) -> OutputPlan:
        """The plan for ``count`` images: several are ``NAME-1``, ``NAME-2``, ...; a named
        file's numbered names are each checked now, before anything is sent."""
        if count == 1:
            return self
        plan = replace(self, count=count)
        if self.file is not None:
            for number in range(1, count + 1):
                path = plan.path_for("", "", number)
                if path.exists() and not force:
                    raise OutputError(f"{path} exists; pass --force to overwrite it.")
        return plan

    def path_for(self, prompt: str, mime_type: str, number: int = 1) -> Path:
        """Where image ``number`` (from 1) goes: see the module's naming rule."""
        if self.file is not None:
            if self.count == 1:
                return self.file
            return self.file.with_name(f"{self.file.stem}-{number}{self.file.suffix}")
        # Images are written one by one, so each takes the first free name in turn.
        name, extension = slug(prompt), extension_for(mime_type)
        counter = 1 if self.count > 1 else 0
        candidate = self.folder / _numbered(name, counter, extension)
        while candidate.exists():
            counter += 1
            candidate = self.folder / _numbered(name, counter, extension)
        return candidate


def _numbered(name: str, number: int, extension: str) -> str:
    return f"{name}-{number}{extension}" if number else f"{name}{extension}"


def write_whole(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file, so an interrupted write leaves
    nothing behind (and an existing file is replaced only by a complete one)."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.partial")
    # os.open rather than mkstemp: the file gets the usual permissions (umask), not 0600.
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
