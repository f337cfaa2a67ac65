"""Where the image tool keeps pictures, the handles agents use to name them, and whose they are.

An agent never sees image bytes: it sees a handle such as
``img_3fa2c9d1e0b74a5f9c1d2e3f4a5b6c7d`` (128 random bits). ``ImageStore`` is the
images of one scope (a user, a thread; see ``scopes``) on one backend:

- any langchain-core ``BaseStore[str, bytes]``: in memory by default, a folder
  with ``DirectoryByteStore``, Redis and the like through their own byte stores;
- LangGraph's store (``PostgresStore``, the store LangGraph Platform gives a
  deployment), under namespaces that start with ``("nanobanana", ...)``;
- a bucket, with ``object_store.ObjectImageStore`` (S3, GCS, Azure, ...);
- any other ``ImageBackend``.

A handle is only looked up in its own scope: another scope's handle, an expired
one and one that never existed all raise the same ``UnknownImageError``.
"""

from __future__ import annotations

import re
import secrets
import time
from datetime import timedelta
from typing import Any

from langchain_core.stores import BaseStore, InMemoryByteStore

from langchain_nanobanana._content.dimensions import image_dimensions
from langchain_nanobanana._content.media import ACCEPTED_IMAGE_TYPES, sniff_mime_type
from langchain_nanobanana.images import GeneratedImage
from langchain_nanobanana.scopes import DEFAULT_SCOPE, Scope, checked_scope
from langchain_nanobanana.stores._backend import HandleTakenError, ImageBackend, StoredImage
from langchain_nanobanana.stores._byte_store import ByteStoreBackend
from langchain_nanobanana.stores._directory import DirectoryByteStore

_HANDLE_BYTES = 16
HANDLE_PATTERN = re.compile(rf"img_[0-9a-f]{{{2 * _HANDLE_BYTES}}}")
"""What a handle looks like; the store layer is the one place that decides it."""
HANDLE_EXAMPLE = "img_1a2b3c4d5e6f708192a3b4c5d6e7f809"
"""A handle-shaped example, for sentences that tell an agent what handles look like."""
_MINT_ATTEMPTS = 4
_EXPIRES_AT = "expires_at"
_NOTE_KIND = re.compile(r"[a-z0-9_-]{1,40}")


class UnknownImageError(KeyError):
    """A handle that names no image this run may see (never stored, gone, or someone else's)."""

    def __init__(self, handle: str) -> None:
        super().__init__(handle)
        self.handle = handle

    def __str__(self) -> str:
        # Shortened: an agent that pasted image data as an id must not get it back in full.
        named = repr(self.handle) if len(self.handle) <= 60 else repr(self.handle[:40] + "...")
        return (
            f"No image has the handle {named}. Image data is not accepted here. "
            "Use a handle returned by an earlier "
            "generate_image call or given with an attached image (they look like "
            f"{HANDLE_EXAMPLE}), or an https:// URL."
        )


def as_backend(store: Any) -> ImageBackend:
    """The backend for what an app passed as ``store=`` (None: a new in-memory one)."""
    if store is None:
        return ByteStoreBackend(InMemoryByteStore())
    if isinstance(store, ImageBackend):
        return store
    if isinstance(store, BaseStore):
        return ByteStoreBackend(store)
    if _is_langgraph_store(store):
        from langchain_nanobanana.stores._langgraph import LangGraphStoreBackend

        return LangGraphStoreBackend(store)
    raise TypeError(
        f"store= got a {type(store).__name__}: pass a langchain-core BaseStore[str, bytes] "
        "(InMemoryByteStore, DirectoryByteStore, a Redis byte store), a LangGraph store "
        "(PostgresStore, InMemoryStore), or an ObjectImageStore."
    )


def _is_langgraph_store(store: Any) -> bool:
    try:
        from langgraph.store.base import BaseStore as LangGraphStore
    except ImportError:  # without langgraph installed, nothing is one of its stores
        return False
    return isinstance(store, LangGraphStore)


class ImageStore:
    """The images of one scope, by handle; see the module docstring.

    ``ttl`` makes new images expire: the backend drops them itself where it can
    (LangGraph's store with a TTL config), and every read after the time treats
    them as gone whatever the backend.
    """

    def __init__(
        self, store: Any = None, *, scope: Scope = DEFAULT_SCOPE, ttl: timedelta | None = None
    ) -> None:
        self.backend = as_backend(store)
        self.scope = checked_scope(scope)
        self.ttl = ttl

    # ----------------------------------------------------------------- write

    def put(self, data: bytes, mime_type: str | None = None, **metadata: Any) -> str:
        """Store an image and return its new handle.

        ``mime_type`` is what the caller believes; the bytes decide. ValueError for
        bytes that are not PNG, JPEG, WebP or GIF."""
        return self._create(StoredImage(data, self._record(data, mime_type, metadata)))

    async def aput(self, data: bytes, mime_type: str | None = None, **metadata: Any) -> str:
        return await self._acreate(StoredImage(data, self._record(data, mime_type, metadata)))

    def put_image(self, image: GeneratedImage, **metadata: Any) -> str:
        """``put`` for an image with the base64 text it arrived as: a store that keeps
        base64 (LangGraph's) keeps that text rather than encode the bytes a second time."""
        return self._create(self._stored(image, metadata))

    async def aput_image(self, image: GeneratedImage, **metadata: Any) -> str:
        return await self._acreate(self._stored(image, metadata))

    def _stored(self, image: GeneratedImage, metadata: dict[str, Any]) -> StoredImage:
        record = self._record(image.data, image.mime_type, metadata)
        return StoredImage(image.data, record, image.encoded)

    def _create(self, image: StoredImage) -> str:
        for _ in range(_MINT_ATTEMPTS):
            handle = new_handle()
            try:
                self.backend.create_image(self.scope, handle, image, self.ttl)
            except HandleTakenError:
                continue
            return handle
        raise RuntimeError("The store refused every new handle: it reports each one as taken.")

    async def _acreate(self, image: StoredImage) -> str:
        for _ in range(_MINT_ATTEMPTS):
            handle = new_handle()
            try:
                await self.backend.acreate_image(self.scope, handle, image, self.ttl)
            except HandleTakenError:
                continue
            return handle
        raise RuntimeError("The store refused every new handle: it reports each one as taken.")

    def restore(
        self, handle: str, data: bytes, mime_type: str | None = None, **metadata: Any
    ) -> None:
        """Store an image again under the handle it had, its bytes found elsewhere (a
        thread's own history, say, after an in-memory store was lost). Create-only where
        the store can refuse an existing key: an image already there is kept. The same
        checks as ``put``; ``ttl`` counts from now."""
        _check(handle)
        record = self._record(data, mime_type, metadata)
        try:
            self.backend.create(self.scope, handle, data, record, self.ttl)
        except HandleTakenError:
            return  # restored by another worker meanwhile

    async def arestore(
        self, handle: str, data: bytes, mime_type: str | None = None, **metadata: Any
    ) -> None:
        _check(handle)
        record = self._record(data, mime_type, metadata)
        try:
            await self.backend.acreate(self.scope, handle, data, record, self.ttl)
        except HandleTakenError:
            return

    def _record(
        self, data: bytes, mime_type: str | None, metadata: dict[str, Any]
    ) -> dict[str, Any]:
        # The bytes decide the type, whatever was declared: a store whose objects are
        # served (a bucket, a CDN) must never serve HTML or SVG labelled as an image.
        kind = sniff_mime_type(data[:16])
        if kind not in ACCEPTED_IMAGE_TYPES:
            raise ValueError(
                f"Only PNG, JPEG, WebP and GIF images are stored; these bytes are "
                f"{kind or 'no image type we know'}."
            )
        size = image_dimensions(data)
        record = {
            "mime_type": kind,
            "width": size[0] if size else None,
            "height": size[1] if size else None,
            "bytes": len(data),
            "created_at": time.time(),
            **metadata,
        }
        if self.ttl is not None:
            record[_EXPIRES_AT] = record["created_at"] + self.ttl.total_seconds()
        return record

    # ------------------------------------------------------------------ read

    def get(self, handle: str) -> GeneratedImage:
        """The image stored under ``handle``; UnknownImageError when there is none."""
        _check(handle)
        return _image(handle, self.backend.read(self.scope, handle))

    async def aget(self, handle: str) -> GeneratedImage:
        _check(handle)
        return _image(handle, await self.backend.aread(self.scope, handle))

    def find(self, handle: str) -> GeneratedImage | None:
        """The image, or None where ``get`` would raise UnknownImageError."""
        try:
            return self.get(handle)
        except UnknownImageError:
            return None

    async def afind(self, handle: str) -> GeneratedImage | None:
        try:
            return await self.aget(handle)
        except UnknownImageError:
            return None

    def metadata(self, handle: str) -> dict[str, Any]:
        """What was recorded with the image (mime type, size, prompt, sources)."""
        _check(handle)
        return _live_record(handle, self.backend.read_record(self.scope, handle))

    async def ametadata(self, handle: str) -> dict[str, Any]:
        _check(handle)
        return _live_record(handle, await self.backend.aread_record(self.scope, handle))

    @property
    def gives_urls(self) -> bool:
        """Whether ``url`` can give a URL on this store (a bucket that signs, a CDN)."""
        return self.backend.gives_urls

    def url(self, handle: str) -> str | None:
        """A URL a browser can load the image from: the store's public URL where it has
        one, else a freshly signed one where it signs them (never kept); else None.
        UnknownImageError, as ``get``, for a handle this scope does not have."""
        self.metadata(handle)  # only a live image of this scope gets a URL
        return self.backend.url(self.scope, handle)

    async def aurl(self, handle: str) -> str | None:
        await self.ametadata(handle)
        return await self.backend.aurl(self.scope, handle)

    # ----------------------------------------------------------------- notes
    # Small JSON documents beside the images, in the same scope (the tool's answered
    # calls and spending), so that every worker on the store sees the same ones.

    def write_note(
        self, kind: str, key: str, value: dict[str, Any], *, ttl: timedelta | None = None
    ) -> None:
        self.backend.write_note(self.scope, _kind(kind), key, value, ttl)

    async def awrite_note(
        self, kind: str, key: str, value: dict[str, Any], *, ttl: timedelta | None = None
    ) -> None:
        await self.backend.awrite_note(self.scope, _kind(kind), key, value, ttl)

    def read_note(self, kind: str, key: str) -> dict[str, Any] | None:
        return self.backend.read_note(self.scope, _kind(kind), key)

    async def aread_note(self, kind: str, key: str) -> dict[str, Any] | None:
        return await self.backend.aread_note(self.scope, _kind(kind), key)

    def list_notes(self, kind: str) -> list[dict[str, Any]]:
        return self.backend.list_notes(self.scope, _kind(kind))

    async def alist_notes(self, kind: str) -> list[dict[str, Any]]:
        return await self.backend.alist_notes(self.scope, _kind(kind))

    def delete_note(self, kind: str, key: str) -> None:
        self.backend.delete_note(self.scope, _kind(kind), key)

    async def adelete_note(self, kind: str, key: str) -> None:
        await self.backend.adelete_note(self.scope, _kind(kind), key)

    # ---------------------------------------------------------------- forget

    def delete(self, handle: str) -> None:
        """Remove one image; an unknown handle is not an error."""
        if HANDLE_PATTERN.fullmatch(handle):
            self.backend.delete(self.scope, handle)

    async def adelete(self, handle: str) -> None:
        if HANDLE_PATTERN.fullmatch(handle):
            await self.backend.adelete(self.scope, handle)

    def forget(self) -> int:
        """Remove every image and note of this scope (a user asked to be forgotten)."""
        return self.backend.forget(self.scope)

    async def aforget(self) -> int:
        return await self.backend.aforget(self.scope)


def _kind(kind: str) -> str:
    """A note kind is one plain word, so no kind's keys can fall under another's prefix."""
    if not isinstance(kind, str) or not _NOTE_KIND.fullmatch(kind):
        raise ValueError(f"A note kind is one word of a-z, 0-9, '_' or '-', not {kind!r}.")
    return kind


def new_handle() -> str:
    return f"img_{secrets.token_hex(_HANDLE_BYTES)}"


def _check(handle: str) -> None:
    """A string that is no handle is refused before any lookup."""
    if not isinstance(handle, str) or not HANDLE_PATTERN.fullmatch(handle):
        raise UnknownImageError(str(handle))


def _expired(record: dict[str, Any]) -> bool:
    expires = record.get(_EXPIRES_AT)
    return isinstance(expires, (int, float)) and expires <= time.time()


def _image(handle: str, stored: StoredImage | None) -> GeneratedImage:
    if stored is None or _expired(stored.record):
        raise UnknownImageError(handle)
    mime_type = stored.record.get("mime_type")
    if not isinstance(mime_type, str):  # a damaged record: unknown rather than a crash
        raise UnknownImageError(handle)
    return GeneratedImage(stored.data, mime_type, handle, encoded=stored.encoded)


def _live_record(handle: str, record: dict[str, Any] | None) -> dict[str, Any]:
    if record is None or _expired(record) or not isinstance(record.get("mime_type"), str):
        raise UnknownImageError(handle)
    return record


__all__ = [
    "HANDLE_EXAMPLE",
    "HANDLE_PATTERN",
    "DirectoryByteStore",
    "ImageBackend",
    "ImageStore",
    "StoredImage",
    "UnknownImageError",
]
