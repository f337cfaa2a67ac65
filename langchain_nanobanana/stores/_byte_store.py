"""Images on any langchain-core ``BaseStore[str, bytes]`` (memory, a folder, Redis, ...).

Byte stores are flat, so every key starts with the scope's token
(``scopes.scope_token``): ``<token>.<handle>`` holds the bytes,
``<token>.<handle>.meta.json`` the record, ``<token>.note.<kind>.<digest>.json``
a note. Forgetting a scope is deleting the keys under its token, except what it
spent (``kept_by_forget``).

Byte stores have no create-only write in their interface, so a handle is
claimed by creating its record only where the store offers it
(``DirectoryByteStore.create``); elsewhere the 128 random bits of a handle are
what keeps two images apart, and nothing is checked first (a check before a
write is a race, not a guard). Byte stores do not expire keys: ``ImageStore``
records an expiry time and treats a later read as a miss.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from langchain_core.stores import BaseStore

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
from langchain_nanobanana.stores._directory import DirectoryByteStore

_RECORD_SUFFIX = ".meta.json"


class ByteStoreBackend(ImageBackend):
    """An ``ImageBackend`` over a ``BaseStore[str, bytes]``; see the module docstring."""

    def __init__(self, store: BaseStore[str, bytes]) -> None:
        self.store = store

    # ---------------------------------------------------------------- keys

    @staticmethod
    def _image_key(scope: Scope, handle: str) -> str:
        return f"{scope_token(scope)}.{handle}"

    @staticmethod
    def _note_prefix(scope: Scope, kind: str) -> str:
        return f"{scope_token(scope)}.note.{kind}."

    def _note_key(self, scope: Scope, kind: str, key: str) -> str:
        return f"{self._note_prefix(scope, kind)}{note_digest(key)}.json"

    # -------------------------------------------------------------- images

    def create(
        self, scope: Scope, handle: str, data: bytes, record: dict[str, Any], ttl: timedelta | None
    ) -> None:
        key = self._image_key(scope, handle)
        encoded = encoded_json(record)
        if isinstance(self.store, DirectoryByteStore):
            try:
                self.store.create(key + _RECORD_SUFFIX, encoded)
            except FileExistsError:
                raise HandleTakenError(handle) from None
            self.store.mset([(key, data)])
            return
        # The record first: an image is visible once its bytes are, and then whole.
        self.store.mset([(key + _RECORD_SUFFIX, encoded), (key, data)])

    async def acreate(
        self, scope: Scope, handle: str, data: bytes, record: dict[str, Any], ttl: timedelta | None
    ) -> None:
        key = self._image_key(scope, handle)
        encoded = encoded_json(record)
        if isinstance(self.store, DirectoryByteStore):
            try:
                await self.store.acreate(key + _RECORD_SUFFIX, encoded)
            except FileExistsError:
                raise HandleTakenError(handle) from None
            await self.store.amset([(key, data)])
            return
        await self.store.amset([(key + _RECORD_SUFFIX, encoded), (key, data)])

    def read(self, scope: Scope, handle: str) -> StoredImage | None:
        key = self._image_key(scope, handle)
        return _stored(*self.store.mget([key, key + _RECORD_SUFFIX]))

    async def aread(self, scope: Scope, handle: str) -> StoredImage | None:
        key = self._image_key(scope, handle)
        return _stored(*await self.store.amget([key, key + _RECORD_SUFFIX]))

    def read_record(self, scope: Scope, handle: str) -> dict[str, Any] | None:
        (record,) = self.store.mget([self._image_key(scope, handle) + _RECORD_SUFFIX])
        return decoded_json(record)

    async def aread_record(self, scope: Scope, handle: str) -> dict[str, Any] | None:
        (record,) = await self.store.amget([self._image_key(scope, handle) + _RECORD_SUFFIX])
        return decoded_json(record)

    def delete(self, scope: Scope, handle: str) -> None:
        key = self._image_key(scope, handle)
        self.store.mdelete([key, key + _RECORD_SUFFIX])

    async def adelete(self, scope: Scope, handle: str) -> None:
        key = self._image_key(scope, handle)
        await self.store.amdelete([key, key + _RECORD_SUFFIX])

    # --------------------------------------------------------------- notes

    def write_note(
        self, scope: Scope, kind: str, key: str, value: dict[str, Any], ttl: timedelta | None
    ) -> None:
        self.store.mset([(self._note_key(scope, kind, key), encoded_json(value))])

    async def awrite_note(
        self, scope: Scope, kind: str, key: str, value: dict[str, Any], ttl: timedelta | None
    ) -> None:
        await self.store.amset([(self._note_key(scope, kind, key), encoded_json(value))])

    def read_note(self, scope: Scope, kind: str, key: str) -> dict[str, Any] | None:
        (value,) = self.store.mget([self._note_key(scope, kind, key)])
        return decoded_json(value)

    async def aread_note(self, scope: Scope, kind: str, key: str) -> dict[str, Any] | None:
        (value,) = await self.store.amget([self._note_key(scope, kind, key)])
        return decoded_json(value)

    def list_notes(self, scope: Scope, kind: str) -> list[dict[str, Any]]:
        keys = list(self.store.yield_keys(prefix=self._note_prefix(scope, kind)))
        return decoded_all(self.store.mget(keys)) if keys else []

    async def alist_notes(self, scope: Scope, kind: str) -> list[dict[str, Any]]:
        keys = [key async for key in self.store.ayield_keys(prefix=self._note_prefix(scope, kind))]
        return decoded_all(await self.store.amget(keys)) if keys else []

    def delete_note(self, scope: Scope, kind: str, key: str) -> None:
        self.store.mdelete([self._note_key(scope, kind, key)])

    async def adelete_note(self, scope: Scope, kind: str, key: str) -> None:
        await self.store.amdelete([self._note_key(scope, kind, key)])

    # -------------------------------------------------------------- forget

    def forget(self, scope: Scope) -> int:
        keys = _forgotten(scope, self.store.yield_keys(prefix=scope_token(scope) + "."))
        self.store.mdelete(keys)
        return sum(key.endswith(_RECORD_SUFFIX) for key in keys)

    async def aforget(self, scope: Scope) -> int:
        listed = [key async for key in self.store.ayield_keys(prefix=scope_token(scope) + ".")]
        keys = _forgotten(scope, listed)
        await self.store.amdelete(keys)
        return sum(key.endswith(_RECORD_SUFFIX) for key in keys)


def _forgotten(scope: Scope, keys: Iterable[str]) -> list[str]:
    """The scope's keys that forgetting removes: all but what it spent."""
    spent = f"{scope_token(scope)}.note.{SPENT_KINDS}"
    return [key for key in keys if not key.startswith(spent)]


def _stored(data: bytes | None, record: bytes | None) -> StoredImage | None:
    """Bytes with their record; without a readable record (gone, damaged) the image is
    unknown, as on every backend: the record holds its type and its expiry."""
    decoded = decoded_json(record)
    return None if data is None or decoded is None else StoredImage(data, decoded)
