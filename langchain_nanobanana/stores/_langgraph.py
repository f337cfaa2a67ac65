"""Images in LangGraph's own store (``PostgresStore``, LangGraph Platform's store, ...).

Namespaces start with ``"nanobanana"`` and hold the scope as one label, so a
deployment's store browser shows whose images they are:

- ``("nanobanana", "user/alice", "records")``: one small JSON record per handle;
- ``("nanobanana", "user/alice", "images")``: the bytes per handle, as base64
  (the store's values are JSON documents);
- ``("nanobanana", "user/alice", "notes", <kind>)``: the tool's notes;
- ``("nanobanana_spent", <scope token>, <kind>)``: what the scope spent (the
  budgets' notes). Apart from the scope's own namespaces, under a digest of the
  scope: ``forget`` keeps them with no user id in sight, and a store rule that
  gives users their own ``("nanobanana", "user/<id>", ...)`` namespaces (LangGraph
  Platform's store API) does not let them rewrite what they spent.

LangGraph's store has no create-only put, so handles rely on their 128 random
bits. Items get the store's own TTL when it supports one. Nothing here is
embedded for semantic search (``index=False``).

LangGraph is an optional dependency; this module is imported only for a store
that is one of LangGraph's.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import timedelta
from typing import Any

from langgraph.store.base import BaseStore, GetOp, Item, PutOp

from langchain_nanobanana._content.media import decode_base64
from langchain_nanobanana.scopes import Scope, scope_token
from langchain_nanobanana.stores._backend import ImageBackend, StoredImage, kept_by_forget

ROOT = "nanobanana"
"""The first label of every namespace the images use."""
SPENT_ROOT = "nanobanana_spent"
"""The first label of the namespaces that keep what scopes spent (under their digest)."""
_PAGE = 20  # image items are megabytes each: page through them in small steps
_NOTES_PAGE = 1000
"""Notes are small: one page holds a budget's whole ledger, read in one statement (a
consistent snapshot on PostgresStore), unless it has more entries than this."""
_NAMESPACES_PAGE = 1000


def scope_label(scope: Scope) -> str:
    """The scope as one namespace label: parts joined by "/", with the characters
    LangGraph forbids in labels (".") and our own separators escaped."""
    return "/".join(
        part.replace("%", "%25").replace("/", "%2F").replace(".", "%2E") for part in scope
    )


class LangGraphStoreBackend(ImageBackend):
    """An ``ImageBackend`` over a LangGraph ``BaseStore``; see the module docstring."""

    def __init__(self, store: BaseStore) -> None:
        self.store = store

    @staticmethod
    def _namespace(scope: Scope, *rest: str) -> tuple[str, ...]:
        return (ROOT, scope_label(scope), *rest)

    def _notes(self, scope: Scope, kind: str) -> tuple[str, ...]:
        if kept_by_forget(kind):
            return (SPENT_ROOT, scope_token(scope), kind)
        return self._namespace(scope, "notes", kind)

    def _minutes(self, ttl: timedelta | None) -> float | None:
        """The TTL as LangGraph counts it (minutes), or None for "never expires".

        It is always given explicitly, None included: left out, a store configured
        with a default TTL would apply it, and a budget's spending would expire with
        it. A store without TTL support takes None and refuses anything else.
        """
        if ttl is None or not self.store.supports_ttl:
            return None
        return ttl.total_seconds() / 60

    # -------------------------------------------------------------- images

    def _created(
        self, scope: Scope, handle: str, image: StoredImage, ttl: timedelta | None
    ) -> list[PutOp]:
        # One batch, so one transaction where the store has them: the image appears whole.
        minutes = self._minutes(ttl)
        # The text the image arrived as, where it came so (an answer's): not a second encoding.
        encoded = image.encoded or base64.b64encode(image.data).decode("ascii")
        return [
            PutOp(
                self._namespace(scope, "records"), handle, image.record, index=False, ttl=minutes
            ),
            PutOp(
                self._namespace(scope, "images"),
                handle,
                {"base64": encoded},
                index=False,
                ttl=minutes,
            ),
        ]

    def create(
        self, scope: Scope, handle: str, data: bytes, record: dict[str, Any], ttl: timedelta | None
    ) -> None:
        self.create_image(scope, handle, StoredImage(data, record), ttl)

    async def acreate(
        self, scope: Scope, handle: str, data: bytes, record: dict[str, Any], ttl: timedelta | None
    ) -> None:
        await self.acreate_image(scope, handle, StoredImage(data, record), ttl)

    def create_image(
        self, scope: Scope, handle: str, image: StoredImage, ttl: timedelta | None
    ) -> None:
        self.store.batch(self._created(scope, handle, image, ttl))

    async def acreate_image(
        self, scope: Scope, handle: str, image: StoredImage, ttl: timedelta | None
    ) -> None:
        await self.store.abatch(self._created(scope, handle, image, ttl))

    def _reads(self, scope: Scope, handle: str) -> list[GetOp]:
        # One batch for both items: one round trip to the store.
        return [
            GetOp(self._namespace(scope, "images"), handle),
            GetOp(self._namespace(scope, "records"), handle),
        ]

    def read(self, scope: Scope, handle: str) -> StoredImage | None:
        return _stored(self.store.batch(self._reads(scope, handle)))

    async def aread(self, scope: Scope, handle: str) -> StoredImage | None:
        return _stored(await self.store.abatch(self._reads(scope, handle)))

    def read_record(self, scope: Scope, handle: str) -> dict[str, Any] | None:
        item = self.store.get(self._namespace(scope, "records"), handle)
        return None if item is None else dict(item.value)

    async def aread_record(self, scope: Scope, handle: str) -> dict[str, Any] | None:
        item = await self.store.aget(self._namespace(scope, "records"), handle)
        return None if item is None else dict(item.value)

    def _deleted(self, scope: Scope, handle: str) -> list[PutOp]:
        return [
            PutOp(self._namespace(scope, "images"), handle, None),
            PutOp(self._namespace(scope, "records"), handle, None),
        ]

    def delete(self, scope: Scope, handle: str) -> None:
        self.store.batch(self._deleted(scope, handle))

    async def adelete(self, scope: Scope, handle: str) -> None:
        await self.store.abatch(self._deleted(scope, handle))

    # --------------------------------------------------------------- notes

    def write_note(
        self, scope: Scope, kind: str, key: str, value: dict[str, Any], ttl: timedelta | None
    ) -> None:
        namespace = self._notes(scope, kind)
        self.store.put(namespace, key, value, index=False, ttl=self._minutes(ttl))

    async def awrite_note(
        self, scope: Scope, kind: str, key: str, value: dict[str, Any], ttl: timedelta | None
    ) -> None:
        namespace = self._notes(scope, kind)
        await self.store.aput(namespace, key, value, index=False, ttl=self._minutes(ttl))

    def read_note(self, scope: Scope, kind: str, key: str) -> dict[str, Any] | None:
        item = self.store.get(self._notes(scope, kind), key)
        return None if item is None else dict(item.value)

    async def aread_note(self, scope: Scope, kind: str, key: str) -> dict[str, Any] | None:
        item = await self.store.aget(self._notes(scope, kind), key)
        return None if item is None else dict(item.value)

    def list_notes(self, scope: Scope, kind: str) -> list[dict[str, Any]]:
        namespace = self._notes(scope, kind)
        return [dict(item.value) for item in self._each(namespace, _NOTES_PAGE)]

    async def alist_notes(self, scope: Scope, kind: str) -> list[dict[str, Any]]:
        namespace = self._notes(scope, kind)
        return [dict(item.value) async for item in self._aeach(namespace, _NOTES_PAGE)]

    def delete_note(self, scope: Scope, kind: str, key: str) -> None:
        self.store.delete(self._notes(scope, kind), key)

    async def adelete_note(self, scope: Scope, kind: str, key: str) -> None:
        await self.store.adelete(self._notes(scope, kind), key)

    # -------------------------------------------------------------- forget

    def _each(self, namespace: tuple[str, ...], page_size: int = _PAGE) -> Iterator[Item]:
        """Every item exactly in ``namespace``, a page at a time (image values are
        megabytes): search matches a prefix, and pages by offset."""
        seen = 0
        while page := self.store.search(namespace, limit=page_size, offset=seen):
            seen += len(page)
            yield from (item for item in page if _in(item, namespace))
            if len(page) < page_size:
                return

    async def _aeach(
        self, namespace: tuple[str, ...], page_size: int = _PAGE
    ) -> AsyncIterator[Item]:
        seen = 0
        while page := await self.store.asearch(namespace, limit=page_size, offset=seen):
            seen += len(page)
            for item in page:
                if _in(item, namespace):
                    yield item
            if len(page) < page_size:
                return

    def _own(self, scope: Scope, namespaces: list[tuple[str, ...]]) -> list[tuple[str, ...]]:
        """Only this scope's namespaces, whatever the store's prefix matching does."""
        return [n for n in namespaces if n[:2] == self._namespace(scope)]

    def _namespaces(self, scope: Scope) -> list[tuple[str, ...]]:
        """Every namespace of the scope, a page at a time: all listed before any goes
        (a namespace whose items are deleted vanishes, which would shift the pages)."""
        listed: list[tuple[str, ...]] = []
        while True:
            page = self.store.list_namespaces(
                prefix=self._namespace(scope), limit=_NAMESPACES_PAGE, offset=len(listed)
            )
            listed += page
            if len(page) < _NAMESPACES_PAGE:
                return self._own(scope, listed)

    async def _anamespaces(self, scope: Scope) -> list[tuple[str, ...]]:
        listed: list[tuple[str, ...]] = []
        while True:
            page = await self.store.alist_namespaces(
                prefix=self._namespace(scope), limit=_NAMESPACES_PAGE, offset=len(listed)
            )
            listed += page
            if len(page) < _NAMESPACES_PAGE:
                return self._own(scope, listed)

    def forget(self, scope: Scope) -> int:
        records = 0
        for group in _groups(self._namespaces(scope)):
            while gone := self._forget_page(group):
                records += _records_among(gone)
        return records

    async def aforget(self, scope: Scope) -> int:
        records = 0
        for group in _groups(await self._anamespaces(scope)):
            while gone := await self._aforget_page(group):
                records += _records_among(gone)
        return records

    def _forget_page(self, group: tuple[str, ...]) -> list[Item]:
        """Delete the items one search of the group finds, and return them.

        Searches page by offset over items that may share a timestamp (written in one
        batch), so pages can overlap and skip: forgetting deletes the first page of
        the group's own items until there is none (another scope's items, which a
        store that matches prefixes by string may return, are skipped over)."""
        skipped, size = 0, _page_for(group)
        while page := self.store.search(group, limit=size, offset=skipped):
            own: list[Item] = [item for item in page if _in(item, group, within=True)]
            if own:
                self.store.batch(_deletions(own))
                return own
            skipped += len(page)
        return []

    async def _aforget_page(self, group: tuple[str, ...]) -> list[Item]:
        skipped, size = 0, _page_for(group)
        while page := await self.store.asearch(group, limit=size, offset=skipped):
            own: list[Item] = [item for item in page if _in(item, group, within=True)]
            if own:
                await self.store.abatch(_deletions(own))
                return own
            skipped += len(page)
        return []


def _in(item: Item, namespace: tuple[str, ...], within: bool = False) -> bool:
    """Whether the item is in ``namespace`` (or below it), whatever the store's prefix
    matching (some match by string: "user/a" then also finds "user/ab")."""
    found = tuple(item.namespace)
    return found[: len(namespace)] == namespace if within else found == namespace


def _groups(namespaces: list[tuple[str, ...]]) -> list[tuple[str, ...]]:
    """The scope's namespaces by their third label (records, images, notes): one paged
    search per group finds every item, however many kinds of notes there are."""
    return sorted({namespace[:3] for namespace in namespaces})


def _page_for(group: tuple[str, ...]) -> int:
    return _PAGE if group[-1] == "images" else _NOTES_PAGE


def _records_among(items: list[Item]) -> int:
    return sum(1 for item in items if tuple(item.namespace)[2:] == ("records",))


def _deletions(items: Sequence[Item]) -> list[PutOp]:
    """Deleting these items, as one batch (one round trip)."""
    return [PutOp(tuple(item.namespace), item.key, None) for item in items]


def _stored(results: list[Any]) -> StoredImage | None:
    """The image with its record (the results of ``_reads``); without either (gone,
    damaged) it is unknown."""
    image, record = results
    if not isinstance(image, Item) or not isinstance(record, Item):
        return None
    encoded = image.value.get("base64")
    if not isinstance(encoded, str):
        return None
    try:
        data = decode_base64(encoded)
    except (binascii.Error, ValueError):
        return None
    return StoredImage(data, dict(record.value), encoded)
