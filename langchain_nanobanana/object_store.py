"""Images in a bucket: S3, Google Cloud Storage, Azure Blob Storage, a folder, memory.

``ObjectImageStore`` is an ``ImageBackend`` on any store from `obstore`_, an
optional dependency (``pip install "langchain-nanobanana[obstore]"``)::

    from obstore.store import S3Store
    from langchain_nanobanana.object_store import ObjectImageStore
    from langchain_nanobanana.stores import ImageStore

    images = ImageStore(ObjectImageStore(S3Store("my-bucket", region="eu-west-1")))

Every object of a scope lives under ``{prefix}/{scope token}/`` (the token is
``scopes.scope_token``: a digest, so no user id appears in the bucket):

- ``{handle}``: the image's bytes, with its mime type as the object's
  Content-Type where the store keeps attributes (not ``LocalStore``);
- ``{handle}.json``: the image's record (mime type, pixel size, provenance);
- ``notes/{kind}/{digest of the key}.json``: the image tool's notes.

A new image claims its handle by creating the record with a create-only write
(``If-None-Match: *`` on S3), then writes the bytes; deleting goes the other way.
Bytes without a readable record are unknown (see ``_stored``). Forgetting a
scope deletes everything under its folder but what it spent (``kept_by_forget``).

Expiry: buckets drop objects by lifecycle rules, not one object at a time, so
``ttl`` is not sent to the store. ``ImageStore`` records ``expires_at`` in each
record and treats an image read after it as gone; to reclaim the space, add a
lifecycle rule that deletes objects under ``{prefix}/`` some days old (S3
Lifecycle expiration, GCS Object Lifecycle Management, Azure lifecycle
management policies).

.. _obstore: https://developmentseed.org/obstore/
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from langchain_nanobanana._content.urls import checked_public_url
from langchain_nanobanana.scopes import Scope, scope_token
from langchain_nanobanana.stores._backend import (
    SPENT_KINDS,
    HandleTakenError,
    ImageBackend,
    StoredImage,
    decoded_all,
    decoded_json,
    encoded_json,
    note_digest,
)

try:
    import obstore
    from obstore.exceptions import AlreadyExistsError
    from obstore.store import AzureStore, GCSStore, HTTPStore, LocalStore, MemoryStore, S3Store

    _SIGNING = (S3Store, GCSStore, AzureStore)
    _STORES = (*_SIGNING, HTTPStore, LocalStore, MemoryStore)
except ImportError as error:  # the optional extra is not installed
    _obstore_missing: ImportError | None = error
else:
    _obstore_missing = None

if TYPE_CHECKING:
    from obstore.store import ObjectStore

_RECORD_SUFFIX = ".json"
_NOTES = "notes"


class ObjectImageStore(ImageBackend):
    """An ``ImageBackend`` on an obstore store; see the module docstring.

    Args:
        store: any obstore store: ``S3Store``, ``GCSStore``, ``AzureStore``,
            ``LocalStore``, ``MemoryStore``, ``HTTPStore``.
        prefix: the folder every object goes under (``""`` for the store's root).
        url_expires_in: how long a signed URL from ``ImageStore.url`` stays valid.
        public_url: where the objects can be loaded from without signing, such as
            a CDN in front of the bucket: a base URL (the object's path is appended)
            or a function of the object's path. When given it is used instead of a
            signed URL; without it, S3, GCS and Azure stores sign a URL for every
            call and other stores give none. It must be an http(s) URL with a host
            and no query, fragment or credentials (a query is what traces leave out
            of a URL, as a signature); a function's URLs are checked as they come.
    """

    def __init__(
        self,
        store: ObjectStore,
        *,
        prefix: str = "nanobanana",
        url_expires_in: timedelta = timedelta(hours=1),
        public_url: str | Callable[[str], str] | None = None,
    ) -> None:
        if _obstore_missing is not None:
            raise ImportError(
                'ObjectImageStore needs obstore: pip install "langchain-nanobanana[obstore]"'
            ) from _obstore_missing
        if not isinstance(store, _STORES):
            raise TypeError(
                f"ObjectImageStore got a {type(store).__name__}: pass an obstore store "
                "(S3Store, GCSStore, AzureStore, LocalStore, MemoryStore, HTTPStore)."
            )
        if url_expires_in <= timedelta(0):
            raise ValueError(f"url_expires_in must be positive, got {url_expires_in}.")
        self.store = store
        self.prefix = prefix.strip("/")
        self.url_expires_in = url_expires_in
        if isinstance(public_url, str):
            checked_public_url(public_url)
        elif public_url is not None and not callable(public_url):
            raise TypeError("public_url must be a base URL or a function of the object's path.")
        self.public_url = public_url
        # Cleared the first time the store says it keeps no attributes (LocalStore).
        self._attributes = True

    # ----------------------------------------------------------------- paths

    def _scope_path(self, scope: Scope) -> str:
        token = scope_token(scope)
        return f"{self.prefix}/{token}" if self.prefix else token

    def _image_path(self, scope: Scope, handle: str) -> str:
        return f"{self._scope_path(scope)}/{handle}"

    def _notes_path(self, scope: Scope, kind: str) -> str:
        if not kind or "/" in kind:
            raise ValueError(f"A note kind is one non-empty path segment, got {kind!r}.")
        return f"{self._scope_path(scope)}/{_NOTES}/{kind}"

    def _note_path(self, scope: Scope, kind: str, key: str) -> str:
        return f"{self._notes_path(scope, kind)}/{note_digest(key)}{_RECORD_SUFFIX}"

    def _is_record(self, scope: Scope, path: str) -> bool:
        """A record sits directly in the scope's folder (notes are one level down)."""
        name = path.removeprefix(self._scope_path(scope) + "/")
        return "/" not in name and name.endswith(_RECORD_SUFFIX)

    def _attributes_for(self, record: dict[str, Any]) -> dict[str, str] | None:
        mime_type = record.get("mime_type")
        if not self._attributes or not isinstance(mime_type, str):
            return None
        return {"Content-Type": mime_type}

    # ---------------------------------------------------------------- images

    def create(
        self, scope: Scope, handle: str, data: bytes, record: dict[str, Any], ttl: timedelta | None
    ) -> None:
        path = self._image_path(scope, handle)
        try:
            obstore.put(self.store, path + _RECORD_SUFFIX, encoded_json(record), mode="create")
        except AlreadyExistsError:
            raise HandleTakenError(handle) from None
        attributes = self._attributes_for(record)
        try:
            try:
                obstore.put(self.store, path, data, attributes=attributes, mode="create")
            except NotImplementedError:
                if attributes is None:
                    raise
                self._attributes = False
                obstore.put(self.store, path, data, mode="create")
        except AlreadyExistsError:
            # Bytes nobody recorded hold the name: leave them, give the name back.
            self._delete_quietly([path + _RECORD_SUFFIX])
            raise HandleTakenError(handle) from None

    async def acreate(
        self, scope: Scope, handle: str, data: bytes, record: dict[str, Any], ttl: timedelta | None
    ) -> None:
        path = self._image_path(scope, handle)
        try:
            await obstore.put_async(
                self.store, path + _RECORD_SUFFIX, encoded_json(record), mode="create"
            )
        except AlreadyExistsError:
            raise HandleTakenError(handle) from None
        attributes = self._attributes_for(record)
        try:
            try:
                await obstore.put_async(
                    self.store, path, data, attributes=attributes, mode="create"
                )
            except NotImplementedError:
                if attributes is None:
                    raise
                self._attributes = False
                await obstore.put_async(self.store, path, data, mode="create")
        except AlreadyExistsError:
            await self._adelete_quietly([path + _RECORD_SUFFIX])
            raise HandleTakenError(handle) from None

    def read(self, scope: Scope, handle: str) -> StoredImage | None:
        """The image; None without a readable record (see ``_stored``)."""
        path = self._image_path(scope, handle)
        record = decoded_json(self._get(path + _RECORD_SUFFIX))
        return None if record is None else _stored(self._get(path), record)

    async def aread(self, scope: Scope, handle: str) -> StoredImage | None:
        path = self._image_path(scope, handle)
        record, data = await asyncio.gather(self._aget(path + _RECORD_SUFFIX), self._aget(path))
        return _stored(data, decoded_json(record))

    def read_record(self, scope: Scope, handle: str) -> dict[str, Any] | None:
        return decoded_json(self._get(self._image_path(scope, handle) + _RECORD_SUFFIX))

    async def aread_record(self, scope: Scope, handle: str) -> dict[str, Any] | None:
        return decoded_json(await self._aget(self._image_path(scope, handle) + _RECORD_SUFFIX))

    def delete(self, scope: Scope, handle: str) -> None:
        # The bytes first: bytes left without their record would read as someone else's.
        path = self._image_path(scope, handle)
        self._delete_quietly([path])
        self._delete_quietly([path + _RECORD_SUFFIX])

    async def adelete(self, scope: Scope, handle: str) -> None:
        path = self._image_path(scope, handle)
        await self._adelete_quietly([path])
        await self._adelete_quietly([path + _RECORD_SUFFIX])

    @property
    def gives_urls(self) -> bool:
        return self.public_url is not None or isinstance(self.store, _SIGNING)

    def url(self, scope: Scope, handle: str) -> str | None:
        """The public URL when one was configured, else a newly signed one, else None."""
        path = self._image_path(scope, handle)
        if self.public_url is not None:
            return self._public(path)
        if isinstance(self.store, _SIGNING):
            return obstore.sign(self.store, "GET", path, self.url_expires_in)
        return None

    async def aurl(self, scope: Scope, handle: str) -> str | None:
        path = self._image_path(scope, handle)
        if self.public_url is not None:
            return self._public(path)
        if isinstance(self.store, _SIGNING):
            return await obstore.sign_async(self.store, "GET", path, self.url_expires_in)
        return None

    def _public(self, path: str) -> str:
        if callable(self.public_url):
            return checked_public_url(self.public_url(path))
        return f"{str(self.public_url).rstrip('/')}/{quote(path)}"

    # ----------------------------------------------------------------- notes

    def write_note(
        self, scope: Scope, kind: str, key: str, value: dict[str, Any], ttl: timedelta | None
    ) -> None:
        obstore.put(self.store, self._note_path(scope, kind, key), encoded_json(value))

    async def awrite_note(
        self, scope: Scope, kind: str, key: str, value: dict[str, Any], ttl: timedelta | None
    ) -> None:
        await obstore.put_async(self.store, self._note_path(scope, kind, key), encoded_json(value))

    def read_note(self, scope: Scope, kind: str, key: str) -> dict[str, Any] | None:
        return decoded_json(self._get(self._note_path(scope, kind, key)))

    async def aread_note(self, scope: Scope, kind: str, key: str) -> dict[str, Any] | None:
        return decoded_json(await self._aget(self._note_path(scope, kind, key)))

    def list_notes(self, scope: Scope, kind: str) -> list[dict[str, Any]]:
        paths = self._list(self._notes_path(scope, kind))
        return decoded_all([self._get(path) for path in paths])

    async def alist_notes(self, scope: Scope, kind: str) -> list[dict[str, Any]]:
        paths = await self._alist(self._notes_path(scope, kind))
        return decoded_all(await asyncio.gather(*map(self._aget, paths)))

    def delete_note(self, scope: Scope, kind: str, key: str) -> None:
        self._delete_quietly([self._note_path(scope, kind, key)])

    async def adelete_note(self, scope: Scope, kind: str, key: str) -> None:
        await self._adelete_quietly([self._note_path(scope, kind, key)])

    # ---------------------------------------------------------------- forget

    def forget(self, scope: Scope) -> int:
        """Delete every object under the scope's folder; returns how many images went.

        A ``LocalStore`` keeps the emptied folders unless it was made with
        ``automatic_cleanup=True``.
        """
        records, others = self._split(scope, self._list(self._scope_path(scope)))
        self._delete_quietly(others)  # bytes before records, as in delete
        self._delete_quietly(records)
        return len(records)

    async def aforget(self, scope: Scope) -> int:
        records, others = self._split(scope, await self._alist(self._scope_path(scope)))
        await self._adelete_quietly(others)
        await self._adelete_quietly(records)
        return len(records)

    def _split(self, scope: Scope, paths: list[str]) -> tuple[list[str], list[str]]:
        """The records and the other objects forgetting removes (not what it spent)."""
        spent = f"{self._scope_path(scope)}/{_NOTES}/{SPENT_KINDS}"
        paths = [path for path in paths if not path.startswith(spent)]
        records = [path for path in paths if self._is_record(scope, path)]
        chosen = set(records)
        return records, [path for path in paths if path not in chosen]

    # -------------------------------------------------------------- obstore

    def _get(self, path: str) -> bytes | None:
        try:
            return bytes(obstore.get(self.store, path).bytes())
        except FileNotFoundError:  # obstore's "not found", for every store
            return None

    async def _aget(self, path: str) -> bytes | None:
        try:
            result = await obstore.get_async(self.store, path)
            return bytes(await result.bytes_async())
        except FileNotFoundError:
            return None

    def _list(self, prefix: str) -> list[str]:
        return [meta["path"] for meta in obstore.list(self.store, prefix).collect()]

    async def _alist(self, prefix: str) -> list[str]:
        # obstore.list only builds the stream; collect_async does the requests.
        return [meta["path"] for meta in await obstore.list(self.store, prefix).collect_async()]

    def _delete_quietly(self, paths: Sequence[str]) -> None:
        """Delete; a path already gone is no error (folders, GCS and Azure report one)."""
        if not paths:
            return
        try:
            obstore.delete(self.store, paths)
        except FileNotFoundError:
            for path in paths:
                with contextlib.suppress(FileNotFoundError):
                    obstore.delete(self.store, path)

    async def _adelete_quietly(self, paths: Sequence[str]) -> None:
        if not paths:
            return
        try:
            await obstore.delete_async(self.store, paths)
        except FileNotFoundError:
            for path in paths:
                with contextlib.suppress(FileNotFoundError):
                    await obstore.delete_async(self.store, path)


def _stored(data: bytes | None, record: dict[str, Any] | None) -> StoredImage | None:
    """Bytes with their record, or None: unlike a byte store's, bytes without a
    record are unknown. A lifecycle rule deletes a bucket's objects one by one in
    no set order, and the record is what holds ``expires_at``, so bytes whose record
    went first must not read as a live image."""
    if data is None or record is None:
        return None
    return StoredImage(data, record)


__all__ = ["ObjectImageStore"]
