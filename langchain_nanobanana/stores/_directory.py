"""A ``BaseStore[str, bytes]`` on a folder, with a create-only write.

Any langchain-core byte store can hold the image tool's pictures; this one needs
no server, suits one machine or a shared volume, and can refuse to overwrite a
key, which is how a new handle is claimed without a check-then-set race.
"""

from __future__ import annotations

import errno
import os
import re
import stat
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from langchain_core.runnables.config import run_in_executor
from langchain_core.stores import BaseStore

_KEY_PATTERN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_NO_FOLLOW = getattr(os, "O_NOFOLLOW", 0)


class DirectoryByteStore(BaseStore[str, bytes]):
    """A ``BaseStore[str, bytes]`` on a folder: one file per key, written atomically.

    Keys are plain file names (letters, digits, ``_ . -``, no leading dot), so no
    key can reach outside the folder. A write goes to a temporary file that is
    renamed into place, so a reader never sees half an image, even with
    concurrent writers or a crash mid-write.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        if not _KEY_PATTERN.fullmatch(key) or ".." in key:
            raise ValueError(f"Invalid store key {key!r}: use letters, digits, '_', '.', '-'.")
        return self.root / key

    def mget(self, keys: Sequence[str]) -> list[bytes | None]:
        return [self._read(self._path(key)) for key in keys]

    @staticmethod
    def _read(path: Path) -> bytes | None:
        """A regular file's bytes; None for a missing file, and for a symlink or
        anything else planted in the folder: a store never reads outside it."""
        try:
            handle = os.open(path, os.O_RDONLY | _NO_FOLLOW)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as error:
            if error.errno == errno.ELOOP:  # the name is a symlink
                return None
            raise
        with os.fdopen(handle, "rb") as file:
            if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
                return None
            return file.read()

    def mset(self, key_value_pairs: Sequence[tuple[str, bytes]]) -> None:
        for key, value in key_value_pairs:
            self._write(self._path(key), value, replace=True)

    def create(self, key: str, value: bytes) -> None:
        """Write ``value`` under a key that must not exist yet; FileExistsError if it does.

        The file is linked into place whole, so two writers of one key cannot
        both succeed, and no reader sees half of it.
        """
        self._write(self._path(key), value, replace=False)

    async def acreate(self, key: str, value: bytes) -> None:
        await run_in_executor(None, self.create, key, value)

    def _write(self, path: Path, value: bytes, *, replace: bool) -> None:
        handle, temporary = tempfile.mkstemp(dir=self.root, prefix=".tmp-")
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(value)
            if replace:
                os.replace(temporary, path)
            else:
                os.link(temporary, path)  # fails when the name exists: create-only
        finally:
            Path(temporary).unlink(missing_ok=True)

    def mdelete(self, keys: Sequence[str]) -> None:
        for key in keys:
            self._path(key).unlink(missing_ok=True)

    def yield_keys(self, *, prefix: str | None = None) -> Iterator[str]:
        for path in sorted(self.root.iterdir()):
            name = path.name
            if name.startswith(".tmp-") or (prefix is not None and not name.startswith(prefix)):
                continue
            if not path.is_symlink() and path.is_file():
                yield name
