"""The interface every image store implements, whatever holds the bytes.

``ImageStore`` (handles, scopes, expiry) sits on one ``ImageBackend``; a new
kind of storage is one subclass. A backend keeps, per scope:

- images: the bytes and a small JSON record (mime type, pixel size, provenance)
  under a handle, written create-only where the storage can refuse an existing key;
- notes: small JSON documents under a kind and a key (the image tool's answered
  calls and spending), so several workers share them.

Forgetting a scope removes its images and notes, except what it spent: note kinds
that start with ``SPENT_KINDS`` stay (``kept_by_forget``), so a user who asks to be
forgotten does not get a fresh budget. Those notes hold no ids, prompts or handles
(counts, amounts and order only), and every backend keeps them under a digest of the
scope, never its readable name.

Every method has a sync and an async form. The async tool and middleware paths
call only the async ones, so a store's network I/O never blocks the event loop.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from langchain_nanobanana.scopes import Scope

SPENT_KINDS = "spending"
"""The prefix of the note kinds that record what a scope spent."""


def kept_by_forget(kind: str) -> bool:
    """Whether ``forget`` keeps notes of this kind (what a scope spent)."""
    return kind.startswith(SPENT_KINDS)


class HandleTakenError(Exception):
    """A create-only write found the handle already there (the caller mints another)."""


@dataclass(frozen=True)
class StoredImage:
    """An image as a backend holds it: the bytes and their record. A backend that finds
    no readable record for the bytes returns no image at all."""

    data: bytes = field(repr=False)
    record: dict[str, Any]
    encoded: str | None = field(default=None, repr=False)
    """The bytes as base64 where the storage holds them so (LangGraph's JSON values):
    a request or a block built from the image then need not encode them again."""


class ImageBackend(ABC):
    """Images and notes by scope; see the module docstring."""

    # ---------------------------------------------------------------- images

    @abstractmethod
    def create(
        self, scope: Scope, handle: str, data: bytes, record: dict[str, Any], ttl: timedelta | None
    ) -> None:
        """Store a new image; HandleTakenError where the storage can tell the handle exists."""

    @abstractmethod
    async def acreate(
        self, scope: Scope, handle: str, data: bytes, record: dict[str, Any], ttl: timedelta | None
    ) -> None: ...

    @abstractmethod
    def read(self, scope: Scope, handle: str) -> StoredImage | None:
        """The image, or None when this scope has no such handle."""

    @abstractmethod
    async def aread(self, scope: Scope, handle: str) -> StoredImage | None: ...

    @abstractmethod
    def read_record(self, scope: Scope, handle: str) -> dict[str, Any] | None:
        """The image's record without its bytes, or None."""

    @abstractmethod
    async def aread_record(self, scope: Scope, handle: str) -> dict[str, Any] | None: ...

    @abstractmethod
    def delete(self, scope: Scope, handle: str) -> None:
        """Remove the image (bytes and record); nothing happens for an unknown handle."""

    @abstractmethod
    async def adelete(self, scope: Scope, handle: str) -> None: ...

    @property
    def gives_urls(self) -> bool:
        """Whether ``url`` can return a URL at all: callers skip the lookup when not."""
        return False

    def url(self, scope: Scope, handle: str) -> str | None:
        """A fresh URL a browser can load the image from, or None (the default)."""
        return None

    async def aurl(self, scope: Scope, handle: str) -> str | None:
        return None

    def create_image(
        self, scope: Scope, handle: str, image: StoredImage, ttl: timedelta | None
    ) -> None:
        """``create`` for an image that may come with its base64 text (``image.encoded``,
        the text it arrived as). A backend that keeps base64 (LangGraph's JSON values)
        stores that text rather than encode the bytes again; by default the bytes go to
        ``create``."""
        self.create(scope, handle, image.data, image.record, ttl)

    async def acreate_image(
        self, scope: Scope, handle: str, image: StoredImage, ttl: timedelta | None
    ) -> None:
        await self.acreate(scope, handle, image.data, image.record, ttl)

    # ----------------------------------------------------------------- notes

    @abstractmethod
    def write_note(
        self, scope: Scope, kind: str, key: str, value: dict[str, Any], ttl: timedelta | None
    ) -> None:
        """Store (or replace) a small JSON document."""

    @abstractmethod
    async def awrite_note(
        self, scope: Scope, kind: str, key: str, value: dict[str, Any], ttl: timedelta | None
    ) -> None: ...

    @abstractmethod
    def read_note(self, scope: Scope, kind: str, key: str) -> dict[str, Any] | None: ...

    @abstractmethod
    async def aread_note(self, scope: Scope, kind: str, key: str) -> dict[str, Any] | None: ...

    @abstractmethod
    def list_notes(self, scope: Scope, kind: str) -> list[dict[str, Any]]:
        """Every note of one kind in the scope."""

    @abstractmethod
    async def alist_notes(self, scope: Scope, kind: str) -> list[dict[str, Any]]: ...

    @abstractmethod
    def delete_note(self, scope: Scope, kind: str, key: str) -> None: ...

    @abstractmethod
    async def adelete_note(self, scope: Scope, kind: str, key: str) -> None: ...

    # ---------------------------------------------------------------- forget

    @abstractmethod
    def forget(self, scope: Scope) -> int:
        """Remove every image and note of the scope, except the notes ``kept_by_forget``;
        returns how many images went."""

    @abstractmethod
    async def aforget(self, scope: Scope) -> int: ...


# ------------------------------------------------------- shared by flat backends
# Byte stores and buckets keep records and notes as JSON bytes, under a digest of
# each note's key.


def note_digest(key: str) -> str:
    """A fixed-length, path-safe name for a note key (keys come from outside: call ids)."""
    return hashlib.blake2b(key.encode(), digest_size=16).hexdigest()


def encoded_json(value: dict[str, Any]) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def decoded_json(value: bytes | None) -> dict[str, Any] | None:
    """A stored JSON document; a damaged one reads as missing rather than crash the caller."""
    if value is None:
        return None
    try:
        decoded = json.loads(value)
    except (ValueError, RecursionError):
        return None
    return decoded if isinstance(decoded, dict) else None


def decoded_all(values: list[bytes | None]) -> list[dict[str, Any]]:
    return [note for note in map(decoded_json, values) if note is not None]
