"""The images a tool call edits (``image_ids``): counted and sized before any byte is read.

The agent model writes ``image_ids``, so anyone who can steer an agent can fill them:
a thousand copies of one large handle must not read it a thousand times, and a call
whose sources are over the caps must be refused before the budget is charged and
before any bytes are read. So a call's sources are, in this order:

1. deduplicated, keeping the first of each (the model sees each image once anyway);
2. counted: at most ``MAX_REFERENCE_IMAGES`` (the most one request may carry);
3. sized from their stored records (``bytes``), not their bytes: each at most
   ``MAX_IMAGE_BYTES``, together at most ``MAX_REQUEST_MEDIA_BYTES`` where they
   travel as bytes (a store that signs URLs sends most of them as URLs instead);
4. then the budget is checked (``Ledger.reserve``), and only then is each read.

A handle the store lost (a restart with an in-memory store) is restored from the
thread's own history at step 3, where its bytes are already in memory (see
``thread_images``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.tools import ToolException

from langchain_nanobanana._agent.thread_images import ThreadHistory
from langchain_nanobanana._catalog.models import MAX_REFERENCE_IMAGES
from langchain_nanobanana._content.media import MAX_IMAGE_BYTES, MAX_REQUEST_MEDIA_BYTES
from langchain_nanobanana._content.urls import fetchable_by_openrouter
from langchain_nanobanana.images import GeneratedImage
from langchain_nanobanana.stores import ImageStore, UnknownImageError

_MIB = 1024 * 1024


def _is_url(reference: str) -> bool:
    return reference.startswith("https://")


@dataclass(frozen=True)
class Sources:
    """A call's source images: handles and https URLs, each once, in order."""

    references: list[str]

    @classmethod
    def of(cls, image_ids: Sequence[str] | None) -> Sources:
        """The sources asked for, each once; a ToolException when there are too many."""
        references = list(dict.fromkeys(image_ids or []))
        if len(references) > MAX_REFERENCE_IMAGES:
            raise ToolException(
                f"That call names {len(references)} different images; one call can edit or "
                f"combine at most {MAX_REFERENCE_IMAGES}. Pass fewer image_ids."
            )
        return cls(references)

    @property
    def handles(self) -> list[str]:
        """The sources that are stored images (not URLs)."""
        return [reference for reference in self.references if not _is_url(reference)]

    def check_sizes(self, records: Sequence[dict[str, Any]], as_bytes: bool) -> None:
        """Refuse, from the records alone, sources over the caps. ``as_bytes``: whether
        they travel in the request (a store that gives no URLs)."""
        sizes = [_size(record) for record in records]
        for handle, size in zip(self.handles, sizes, strict=True):
            if size > MAX_IMAGE_BYTES:
                raise ToolException(
                    f"Image {handle} is {size / _MIB:.1f} MB; OpenRouter takes images up to "
                    f"{MAX_IMAGE_BYTES // _MIB} MB. Edit a smaller image."
                )
        total = sum(sizes)
        if as_bytes and total > MAX_REQUEST_MEDIA_BYTES:
            raise ToolException(
                f"Those {len(sizes)} images are {total / _MIB:.0f} MB together, over the "
                f"{MAX_REQUEST_MEDIA_BYTES // _MIB} MB one request may carry. Pass fewer image_ids."
            )


def _size(record: dict[str, Any]) -> int:
    """The byte count a record gives (0 when an older record lacks it: the request's own
    check still applies once the bytes are read)."""
    size = record.get("bytes")
    return size if isinstance(size, int) and not isinstance(size, bool) and size > 0 else 0


def records(
    images: ImageStore, handles: Sequence[str], history: ThreadHistory | None = None
) -> list[dict[str, Any]]:
    """Each handle's record, no bytes. A handle the store lost but the thread's history
    holds is stored again from there first; any other unknown handle is the agent's
    error, in words that tell a gone image from one that never was."""
    history = history or ThreadHistory()
    found = []
    for handle in handles:
        try:
            found.append(images.metadata(handle))
        except UnknownImageError as error:
            kept = history.image(handle)
            if kept is None:
                raise history.missing(error) from None
            try:
                images.restore(handle, kept.data, kept.mime_type, origin="thread history")
            except ValueError:  # no image the store keeps (HTML labelled PNG in a checkpoint)
                raise history.missing(error) from None
            found.append(images.metadata(handle))
    return found


async def arecords(
    images: ImageStore, handles: Sequence[str], history: ThreadHistory | None = None
) -> list[dict[str, Any]]:
    history = history or ThreadHistory()
    found = []
    for handle in handles:
        try:
            found.append(await images.ametadata(handle))
        except UnknownImageError as error:
            kept = history.image(handle)
            if kept is None:
                raise history.missing(error) from None
            try:
                await images.arestore(handle, kept.data, kept.mime_type, origin="thread history")
            except ValueError:
                raise history.missing(error) from None
            found.append(await images.ametadata(handle))
    return found


def read(reference: str, images: ImageStore) -> GeneratedImage | str:
    """An https URL as is; a handle as a URL OpenRouter can fetch where the store signs
    one (no megabytes of base64 in the request), else as its stored image. Anything
    else, another scope's handle included, is the agent's error and nothing is sent."""
    if _is_url(reference):
        return reference
    try:
        url = images.url(reference) if images.gives_urls else None
        return url if url and fetchable_by_openrouter(url) else images.get(reference)
    except UnknownImageError as error:
        raise ToolException(str(error)) from None


async def aread(reference: str, images: ImageStore) -> GeneratedImage | str:
    if _is_url(reference):
        return reference
    try:
        url = await images.aurl(reference) if images.gives_urls else None
        return url if url and fetchable_by_openrouter(url) else await images.aget(reference)
    except UnknownImageError as error:
        raise ToolException(str(error)) from None
