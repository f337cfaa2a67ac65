"""Images lent by their bytes go to the request as data URLs; base64 decodes in place."""

from __future__ import annotations

import base64
import binascii
import tracemalloc

import pytest
from langchain_core.messages import HumanMessage

from langchain_nanobanana._content.lent_images import LentImage, lend, lent
from langchain_nanobanana._content.media import MAX_IMAGE_BYTES, DataUrl, decode_base64
from langchain_nanobanana._content.to_openrouter import (
    check_media_size,
    to_content_part,
    to_openrouter_messages,
)
from tests.support.pictures import picture

PNG = picture("green", (6, 4))
BLOCK = {"type": "image", "file_id": "img_1", "mime_type": "image/png", "id": "img_1"}


def test_a_lent_image_goes_as_a_data_url_of_its_bytes() -> None:
    with lend({"img_1": LentImage(PNG, "image/png")}):
        part = to_content_part(BLOCK)

    url = part["image_url"]["url"]
    assert isinstance(url, DataUrl) and url.payload is PNG, "the bytes themselves, no copy"
    assert url == f"data:image/png;base64,{base64.b64encode(PNG).decode()}"


def test_a_file_id_is_refused_outside_the_lending() -> None:
    with lend({"img_1": LentImage(PNG, "image/png")}):
        assert lent("img_1") is not None
    assert lent("img_1") is None
    with pytest.raises(ValueError, match="no file ids"):
        to_openrouter_messages([HumanMessage([BLOCK])])


def test_lent_bytes_are_checked_like_base64_ones() -> None:
    svg = LentImage(b"<svg onload=alert(1)>", "image/png")
    with lend({"img_1": svg}), pytest.raises(ValueError, match="image/png, are no image type"):
        to_content_part(BLOCK)
    huge = LentImage(PNG + bytes(MAX_IMAGE_BYTES), "image/png")
    with lend({"img_1": huge}), pytest.raises(ValueError, match="refuses images over 30 MB"):
        to_content_part(BLOCK)


def test_lent_bytes_count_towards_the_request_cap() -> None:
    two = [dict(BLOCK), {**BLOCK, "file_id": "img_2", "id": "img_2"}, dict(BLOCK)]
    big = LentImage(PNG + bytes(25 * 1024 * 1024), "image/png")
    with lend({"img_1": big, "img_2": big}), pytest.raises(ValueError, match="together"):
        check_media_size([HumanMessage(two)])


def test_base64_decodes_without_a_copy_of_the_text() -> None:
    data = bytes(range(256)) * 32_768  # 8 MB
    text = base64.b64encode(data).decode()
    tracemalloc.start()
    try:
        decoded = decode_base64(text)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert decoded == data
    # The decoded bytes only (base64.b64decode first copies the text to bytes: 1.75x).
    assert peak < 1.05 * len(data)


@pytest.mark.parametrize("text", ["not base64!", "QUJ", "QU=D", "QUJDé", "QUJD\nQUJD"])
def test_base64_that_is_not_strict_is_refused(text: str) -> None:
    with pytest.raises((binascii.Error, ValueError)):
        decode_base64(text)
