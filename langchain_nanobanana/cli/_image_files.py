"""Where the command writes an image, in which format, and how (never half a file).

Everything that can be checked about an output path is checked before any request,
so a typo in a folder name costs nothing; the file itself appears whole or not at all.
"""

from __future__ import annotations

import io
import os
import re
import secrets
from dataclasses import dataclass, replace
from pathlib import Path

FORMATS = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp"}
_PILLOW_NAMES = {"image/png": "PNG", "image/jpeg": "JPEG", "image/webp": "WEBP"}
_EXTENSIONS = {
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/webp": ".webp",
    "image/gif": ".gif",
}
_SLUG_WORDS = 6


class OutputError(ValueError):
    """An output path that cannot be written; says what to do instead."""


def slug(prompt: str) -> str:
    """A file name from a prompt: its first words, lower case, hyphenated."""
    words = re.findall(r"[a-z0-9]+", prompt.lower())[:_SLUG_WORDS]
    return "-".join(words) or "image"


def extension_for(mime_type: str) -> str:
    return _EXTENSIONS.get(mime_type, ".bin")


def pillow_installed() -> bool:
    try:
        import PIL.Image  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass(frozen=True)
class OutputPlan:
    """A checked destination: a file named by the user, or a folder to name one in."""

    folder: Path
    file: Path | None
    """The named file, or None to name one from the prompt inside ``folder``."""
    mime_type: str | None
    """The format the file's extension asks for; None keeps the model's own."""
    numbered_files: bool = False
    """Several images to a named file: each under the name with its number."""

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
        mime_type = None
        if requested.suffix:
            mime_type = FORMATS.get(requested.suffix.lower())
            if mime_type is None:
                raise OutputError(
                    f"Cannot write an image as {requested.suffix!r}; "
                    "name the file .png, .jpg or .webp."
                )
            if mime_type != "image/png" and not pillow_installed():
                raise OutputError(
                    f"Writing {requested.suffix} needs Pillow to convert the model's PNG: "
                    "pip install 'langchain-nanobanana[pillow]', or name the file .png."
                )
        cls._check_writable(parent)
        return cls(parent, requested, mime_type)

    @classmethod
    def _folder(cls, folder: Path) -> OutputPlan:
        cls._check_writable(folder)
        return cls(folder, None, None)

    @staticmethod
    def _check_writable(folder: Path) -> None:
        if not os.access(folder, os.W_OK | os.X_OK):
            raise OutputError(f"Cannot write into {folder}: permission denied.")

    def numbered(self, count: int, *, force: bool) -> OutputPlan:
        """The plan for ``count`` images: a named file becomes ``name-1``, ``name-2``, ...,
        each checked now, before anything is sent."""
        if self.file is None or count == 1:
            return self
        plan = replace(self, numbered_files=True)
        for number in range(1, count + 1):
            path = plan.path_for("", "", number)
            if path.exists() and not force:
                raise OutputError(f"{path} exists; pass --force to overwrite it.")
        return plan

    def path_for(self, prompt: str, mime_type: str, number: int = 1) -> Path:
        """The named file, or a new name from the prompt that takes no existing file."""
        if self.file is not None:
            if not self.numbered_files and number == 1:
                return self.file
            return self.file.with_name(f"{self.file.stem}-{number}{self.file.suffix}")
        extension = extension_for(mime_type)
        candidate = self.folder / f"{slug(prompt)}{extension}"
        counter = 1
        while candidate.exists():
            candidate = self.folder / f"{slug(prompt)}-{counter}{extension}"
            counter += 1
        return candidate


def converted(data: bytes, mime_type: str, wanted: str | None) -> tuple[bytes, str]:
    """``data`` in the ``wanted`` format (Pillow converts), or as it is when that is the same."""
    if wanted is None or wanted == mime_type:
        return data, mime_type
    from PIL import Image

    with Image.open(io.BytesIO(data)) as picture:
        # JPEG has no alpha channel; a transparent PNG becomes opaque.
        image = picture.convert("RGB") if wanted == "image/jpeg" else picture.copy()
    buffer = io.BytesIO()
    image.save(buffer, format=_PILLOW_NAMES[wanted])
    return buffer.getvalue(), wanted


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
