"""Where the image tool keeps pictures, and the short handles agents use to name them.

An agent never sees image bytes: it sees ``img_3fa2c9d1``. ``ImageStore`` maps
handles to bytes (and a little metadata) on top of any langchain-core
``BaseStore[str, bytes]``: in memory by default, a folder with
``DirectoryByteStore``, or Redis and the like through their own ByteStores.
"""

from __future__ import annotations

import errno
import json
import os
import re
import secrets
import stat
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from langchain_core.stores import BaseStore, InMemoryByteStore

from langchain_nanobanana._dimensions import image_dimensions
from langchain_nanobanana._media import sniff_mime_type
from langchain_nanobanana.images import GeneratedImage

_HANDLE_HEX_DIGITS = 8
HANDLE_PATTERN = re.compile(rf"img_[0-9a-f]{{{_HANDLE_HEX_DIGITS}}}")
"""What a handle looks like; the store layer is the one place that decides it."""
HANDLE_EXAMPLE = "img_1a2b3c4d"
"""A handle-shaped example, for sentences that tell an agent what handles look like."""
_META_SUFFIX = ".meta.json"
_KEY_PATTERN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_NO_FOLLOW = getattr(os, "O_NOFOLLOW", 0)


class UnknownImageError(KeyError):
    """A handle that names no stored image."""

    def __init__(self, handle: str) -> None:
        super().__init__(handle)
        self.handle = handle

    def __str__(self) -> str:
        return (
            f"No image has the handle {self.handle!r}. Use a handle returned by an earlier "
            "generate_image call or given with an attached image (they look like "
            f"{HANDLE_EXAMPLE}), or an https:// URL."
        )


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
            path = self._path(key)
            handle, temporary = tempfile.mkstemp(dir=self.root, prefix=".tmp-")
            try:
                with os.fdopen(handle, "wb") as file:
                    file.write(value)
                os.replace(temporary, path)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise

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


class ImageStore:
    """Handles to images over a ``BaseStore[str, bytes]``.

    Each image gets a new handle (``HANDLE_PATTERN``) when stored; its bytes
    sit under the handle and a small JSON record (mime type, pixel size, the
    prompt that made it) under ``<handle>.meta.json``.
    """

    def __init__(self, store: BaseStore[str, bytes] | None = None) -> None:
        self.store: BaseStore[str, bytes] = store if store is not None else InMemoryByteStore()

    def _new_handle(self) -> str:
        while True:
            handle = f"img_{secrets.token_hex(_HANDLE_HEX_DIGITS // 2)}"
            if self.store.mget([handle]) == [None]:
                return handle

    def put(self, data: bytes, mime_type: str | None = None, **metadata: Any) -> str:
        """Store an image and return its new handle."""
        handle = self._new_handle()
        record = self._record(data, mime_type, metadata)
        # Metadata first: an image is visible only once its bytes are, and then whole.
        self.store.mset([(handle + _META_SUFFIX, record), (handle, data)])
        return handle

    async def aput(self, data: bytes, mime_type: str | None = None, **metadata: Any) -> str:
        handle = self._new_handle()
        record = self._record(data, mime_type, metadata)
        await self.store.amset([(handle + _META_SUFFIX, record), (handle, data)])
        return handle

    @staticmethod
    def _record(data: bytes, mime_type: str | None, metadata: dict[str, Any]) -> bytes:
        size = image_dimensions(data)
        record = {
            "mime_type": mime_type or sniff_mime_type(data[:16]) or "application/octet-stream",
            "width": size[0] if size else None,
            "height": size[1] if size else None,
            **metadata,
        }
        return json.dumps(record).encode()

    def get(self, handle: str) -> GeneratedImage:
        """The image stored under ``handle``; UnknownImageError when there is none."""
        return self._image(handle, self.store.mget(self._keys(handle)))

    async def aget(self, handle: str) -> GeneratedImage:
        return self._image(handle, await self.store.amget(self._keys(handle)))

    @staticmethod
    def _keys(handle: str) -> list[str]:
        """The image's two keys; a string that is no handle is refused before any lookup."""
        if not HANDLE_PATTERN.fullmatch(handle):
            raise UnknownImageError(handle)
        return [handle, handle + _META_SUFFIX]

    @staticmethod
    def _image(handle: str, values: list[bytes | None]) -> GeneratedImage:
        data, record = values
        if data is None:
            raise UnknownImageError(handle)
        if record is None:  # stored by something other than ImageStore.put
            return GeneratedImage.from_bytes(data, handle)
        return GeneratedImage(data, _read_record(handle, record)["mime_type"], handle)

    def metadata(self, handle: str) -> dict[str, Any]:
        """What was recorded with the image (mime type, size, prompt, sources)."""
        (record,) = self.store.mget(self._keys(handle)[1:])
        if record is None:
            raise UnknownImageError(handle)
        return _read_record(handle, record)


def _read_record(handle: str, record: bytes) -> dict[str, Any]:
    """A metadata record; a damaged one makes its image unknown rather than crash
    whoever asked (an agent's tool call, a middleware)."""
    try:
        value = json.loads(record)
    except (ValueError, RecursionError):
        raise UnknownImageError(handle) from None
    if not isinstance(value, dict) or not isinstance(value.get("mime_type"), str):
        raise UnknownImageError(handle)
    return value
