"""Image handles and stores: bytes in, same bytes out, nothing outside the folder."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest
from langchain_core.messages import HumanMessage

from langchain_nanobanana.images import GeneratedImage, images_from
from langchain_nanobanana.stores import (
    HANDLE_EXAMPLE,
    HANDLE_PATTERN,
    DirectoryByteStore,
    ImageStore,
    UnknownImageError,
)
from tests.support.pictures import picture


@pytest.fixture(params=["memory", "directory"])
def images(request: pytest.FixtureRequest, tmp_path: Path) -> ImageStore:
    return ImageStore(DirectoryByteStore(tmp_path) if request.param == "directory" else None)


def test_put_returns_a_new_handle_and_get_returns_the_same_bytes(images: ImageStore) -> None:
    data = picture("purple", (40, 30))
    first, second = images.put(data), images.put(data)

    assert HANDLE_PATTERN.fullmatch(first)
    assert first != second
    image = images.get(first)
    assert image == GeneratedImage(data, "image/png", first)
    assert image.size == (40, 30)


def test_metadata_records_mime_size_and_what_was_passed(images: ImageStore) -> None:
    data = picture("purple", (8, 6))
    before = time.time()
    handle = images.put(data, prompt="a banana", sources=["img_00000000"])
    record = images.metadata(handle)
    assert before <= record.pop("created_at") <= time.time()
    assert record == {
        "mime_type": "image/png",
        "width": 8,
        "height": 6,
        "bytes": len(data),
        "prompt": "a banana",
        "sources": ["img_00000000"],
    }


@pytest.mark.parametrize("handle", ["img_deadbeef", "../etc/passwd", "img_1234", ""])
def test_unknown_or_malformed_handles_raise_a_helpful_error(
    images: ImageStore, handle: str
) -> None:
    with pytest.raises(UnknownImageError, match=HANDLE_EXAMPLE):
        images.get(handle)


def test_async_put_and_get(images: ImageStore) -> None:
    data = picture("green", (40, 30))

    async def round_trip() -> GeneratedImage:
        return await images.aget(await images.aput(data))

    assert asyncio.run(round_trip()).data == data


@pytest.mark.parametrize("key", ["../outside", "/etc/passwd", ".hidden", "a/b", "..", "x" * 200])
def test_directory_store_refuses_keys_that_could_escape(tmp_path: Path, key: str) -> None:
    store = DirectoryByteStore(tmp_path / "images")
    with pytest.raises(ValueError, match="Invalid store key"):
        store.mset([(key, b"x")])
    with pytest.raises(ValueError, match="Invalid store key"):
        store.mget([key])
    assert not (tmp_path / "outside").exists()


def test_directory_store_round_trip_listing_and_delete(tmp_path: Path) -> None:
    store = DirectoryByteStore(tmp_path)
    store.mset([("a", b"1"), ("b", b"22")])
    assert store.mget(["a", "b", "c"]) == [b"1", b"22", None]
    assert list(store.yield_keys()) == ["a", "b"]
    assert list(store.yield_keys(prefix="b")) == ["b"]
    store.mdelete(["a", "missing"])
    assert list(store.yield_keys()) == ["b"]


def test_concurrent_writers_never_leave_a_half_written_image(tmp_path: Path) -> None:
    store = DirectoryByteStore(tmp_path)
    payloads = [bytes([n]) * 2_000_000 for n in range(8)]
    seen: list[bytes | None] = []

    def write(payload: bytes) -> None:
        for _ in range(5):
            store.mset([("shared", payload)])

    def read() -> None:
        for _ in range(50):
            seen.extend(store.mget(["shared"]))

    threads = [threading.Thread(target=write, args=(p,)) for p in payloads]
    threads.append(threading.Thread(target=read))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert all(value is None or value in payloads for value in seen)
    assert store.mget(["shared"])[0] in payloads
    assert [p.name for p in tmp_path.iterdir()] == ["shared"], "no temporary files left behind"


def test_images_from_reads_blocks_messages_and_data_urls() -> None:
    data = picture("purple", (40, 30))
    image = GeneratedImage(data, "image/png", "img_0000abcd")
    blocks = [
        {"type": "text", "text": "hi"},
        image.to_block(),
        {"type": "image", "url": "https://x/y.png"},
    ]

    assert images_from(blocks) == [image]
    assert images_from(HumanMessage(blocks)) == [image]  # type: ignore[arg-type]
    assert images_from({"type": "image_url", "image_url": image.data_url}) == [
        GeneratedImage(data, "image/png", None)
    ]


def test_generated_image_save_and_notebook_display(tmp_path: Path) -> None:
    image = GeneratedImage(picture("purple", (40, 30)), "image/png", "img_0000abcd")

    assert image.save(tmp_path).name == "img_0000abcd.png"
    assert (tmp_path / "img_0000abcd.png").read_bytes() == image.data
    assert image.save(tmp_path / "x.png").read_bytes() == image.data
    assert image._repr_mimebundle_()["image/png"] == image.data
    assert image.data_url.startswith("data:image/png;base64,iVBOR")


def test_an_image_that_arrived_as_base64_is_not_encoded_again() -> None:
    text = GeneratedImage(picture("purple", (40, 30)), "image/png").base64
    block = {"type": "image", "base64": text, "mime_type": "image/png", "id": "gen-1-0"}

    (image,) = images_from([block])

    assert image.to_block()["base64"] is text
    assert image.with_id("img_0000abcd").to_block() == {**block, "id": "img_0000abcd"}


@pytest.mark.parametrize("kind", ["calls.x", "", "a/b", "Calls", "x" * 41])
def test_a_note_kind_is_one_plain_word(kind: str) -> None:
    with pytest.raises(ValueError, match="A note kind is one word"):
        ImageStore().write_note(kind, "key", {"a": 1})
