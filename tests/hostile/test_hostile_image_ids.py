"""``image_ids`` written by a hostile agent: repeated, too many, too large.

The agent model writes ``image_ids``. They are deduplicated, counted and sized from the
stored records before any image bytes are read, and the budget is checked before the
bytes too: a thousand copies of one handle read it once, and a call over the caps or
over the budget reads none.
"""

from __future__ import annotations

import asyncio
import json
import os
import tracemalloc
from collections.abc import Sequence
from typing import Any

import pytest
from langchain_core.messages import ToolMessage
from langchain_core.runnables import RunnableConfig
from langchain_core.stores import InMemoryByteStore

from langchain_nanobanana import NanoBananaImageTool
from langchain_nanobanana._agent.ledger import Budget
from langchain_nanobanana._catalog.models import MAX_REFERENCE_IMAGES
from langchain_nanobanana.testing import FakeOpenRouter
from langchain_nanobanana.testing._png import encode_png
from tests.support.pictures import picture

ALICE: RunnableConfig = {"configurable": {"user_id": "alice"}}
MIB = 1024 * 1024


class _CountingStore(InMemoryByteStore):
    """Counts the image bytes read (records are small; bytes are what costs memory)."""

    def __init__(self) -> None:
        super().__init__()
        self.image_reads = 0

    def mget(self, keys: Sequence[str]) -> list[bytes | None]:
        self.image_reads += sum(".img_" in key and not key.endswith(".json") for key in keys)
        return super().mget(keys)


def _call(**args: Any) -> dict[str, Any]:
    return {"type": "tool_call", "id": "edit", "name": "generate_image", "args": args}


def _run(tool: NanoBananaImageTool, call: dict[str, Any], mode: str) -> ToolMessage:
    return tool.invoke(call, ALICE) if mode == "sync" else asyncio.run(tool.ainvoke(call, ALICE))


def _noisy_png(megabytes: float) -> bytes:
    width = 1024
    height = int(megabytes * MIB / (3 * width))
    rows = b"".join(b"\0" + os.urandom(3 * width) for _ in range(height))
    return encode_png(width, height, rows)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_thousand_copies_of_one_handle_read_it_once(fake: FakeOpenRouter, mode: str) -> None:
    store = _CountingStore()
    tool = NanoBananaImageTool(llm=fake.chat_model(), store=store)
    photo = _noisy_png(1.6)
    handle = tool.images_for(ALICE).put(photo)
    store.image_reads = 0

    tracemalloc.start()
    try:
        edited = _run(tool, _call(prompt="edit", image_ids=[handle] * 1000), mode)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert edited.status == "success"
    assert store.image_reads == 1
    sent = json.dumps(fake.requests[-1].body)
    assert sent.count("data:image/png;base64,") == 1, "the model sees the image once"
    assert str(edited.content).count(handle) == 1
    assert peak < 40 * MIB, f"peak {peak / MIB:.0f} MB (it was gigabytes)"


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_spent_budget_is_checked_before_any_bytes_are_read(
    fake: FakeOpenRouter, mode: str
) -> None:
    store = _CountingStore()
    tool = NanoBananaImageTool(llm=fake.chat_model(), store=store, max_images=1)
    handle = tool.images_for(ALICE).put(picture())
    assert _run(tool, {**_call(prompt="a"), "id": "first"}, mode).status == "success"
    store.image_reads = 0

    refused = _run(tool, _call(prompt="edit", image_ids=[handle] * 300), mode)

    assert refused.status == "error"
    assert "is spent" in str(refused.content)
    assert store.image_reads == 0
    assert len(fake.requests) == 1


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_more_distinct_images_than_one_request_carries_is_refused_unread(
    fake: FakeOpenRouter, mode: str
) -> None:
    store = _CountingStore()
    tool = NanoBananaImageTool(llm=fake.chat_model(), store=store, max_images=5)
    images = tool.images_for(ALICE)
    handles = [images.put(picture(size=(8 + n, 8))) for n in range(MAX_REFERENCE_IMAGES + 1)]
    store.image_reads = 0

    refused = _run(tool, _call(prompt="edit", image_ids=handles), mode)

    assert refused.status == "error"
    assert f"at most {MAX_REFERENCE_IMAGES}" in str(refused.content)
    assert store.image_reads == 0
    assert fake.requests == []


def _claimed(tool: NanoBananaImageTool, claimed_bytes: int) -> str:
    """An image whose record says it is ``claimed_bytes`` long (its bytes are small:
    the check must come from the record, since reading the bytes is what it prevents)."""
    images = tool.images_for(ALICE)
    handle = images.put(picture())
    record = {**images.metadata(handle), "bytes": claimed_bytes}
    images.backend.delete(images.scope, handle)
    images.backend.create(images.scope, handle, picture(), record, None)
    return handle


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_sources_over_the_size_caps_are_refused_from_their_records(
    fake: FakeOpenRouter, mode: str
) -> None:
    store = _CountingStore()
    tool = NanoBananaImageTool(llm=fake.chat_model(), store=store, max_images=5)
    huge = _claimed(tool, 31 * MIB)
    three = [_claimed(tool, 25 * MIB) for _ in range(3)]
    store.image_reads = 0

    one_too_large = _run(tool, _call(prompt="edit", image_ids=[huge]), mode)
    too_many_together = _run(tool, _call(prompt="edit", image_ids=three), mode)

    assert "31.0 MB" in str(one_too_large.content)
    assert "75 MB together" in str(too_many_together.content)
    assert store.image_reads == 0
    assert fake.requests == []
    assert tool.images_for(ALICE).list_notes(Budget(key=tool.name).kind(None)) == []


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_an_unknown_handle_among_repeated_ones_reads_nothing(
    fake: FakeOpenRouter, mode: str
) -> None:
    store = _CountingStore()
    tool = NanoBananaImageTool(llm=fake.chat_model(), store=store)
    handle = tool.images_for(ALICE).put(picture())
    store.image_reads = 0
    unknown = "img_" + "0" * 32

    refused = _run(tool, _call(prompt="edit", image_ids=[handle] * 50 + [unknown]), mode)

    assert refused.status == "error"
    assert unknown in str(refused.content)
    assert store.image_reads == 0
