"""Images lent to a call by their bytes, and named in its messages by ``file_id``.

The image tool edits images it reads from its store as bytes. In an ordinary image
block each would become base64 text (34 MB for a 4K image) that the message,
langchain-core's call frames (which also copy a base64 block into a data URL for
tracing, callbacks or not) and the request would hold for the whole call, beside
the answer being read. Instead the tool lends the bytes for its inner call
(``lend``) and names each image in its message with a ``file_id`` block; the request
mapping finds them here (``lent``) and the body writer encodes them slice by slice as
it sends them. Outside ``lend`` a ``file_id`` is refused as before: OpenRouter has no
file ids.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from types import MappingProxyType


@dataclass(frozen=True)
class LentImage:
    """An image's bytes and the mime type they were stored under."""

    data: bytes = field(repr=False)
    mime_type: str


_LENT: ContextVar[Mapping[str, LentImage]] = ContextVar(
    "nanobanana_lent_images", default=MappingProxyType({})
)


@contextmanager
def lend(images: Mapping[str, LentImage]) -> Iterator[None]:
    """``images`` (by file id) readable by the calls made inside the block, and only there."""
    token = _LENT.set({**_LENT.get(), **images})
    try:
        yield
    finally:
        _LENT.reset(token)


def lent(file_id: str) -> LentImage | None:
    """The image lent under ``file_id`` to the current call, if any."""
    return _LENT.get().get(file_id)
