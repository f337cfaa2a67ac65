"""One parser for every image-block form: the request, images_from and attachments agree."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from langchain_core.messages import HumanMessage

from langchain_nanobanana._agent.attachments import HANDLES_KEY, register, with_pictures
from langchain_nanobanana._content.image_blocks import (
    ImageReference,
    UnusableImageBlockError,
    read_image_block,
)
from langchain_nanobanana._content.to_openrouter import to_content_part
from langchain_nanobanana.images import images_from
from langchain_nanobanana.stores import HANDLE_PATTERN, ImageStore
from tests.support.pictures import photo_in_every_block_form, picture

PHOTO = picture("orange", (12, 8), "JPEG")
ENCODED = base64.b64encode(PHOTO).decode()
DATA_URL = f"data:image/jpeg;base64,{ENCODED}"


FORMS = photo_in_every_block_form(PHOTO)


@pytest.mark.parametrize("form", list(FORMS))
def test_every_form_reads_as_the_same_inline_image(form: str) -> None:
    reference = read_image_block(FORMS[form])
    assert reference == ImageReference(base64=ENCODED, mime_type="image/jpeg")


@pytest.mark.parametrize("form", list(FORMS))
def test_every_form_gives_the_same_bytes_to_images_from_and_the_request(form: str) -> None:
    (image,) = images_from([FORMS[form]])
    assert image.data == PHOTO
    assert image.mime_type == "image/jpeg"
    assert to_content_part(FORMS[form]) == {"type": "image_url", "image_url": {"url": DATA_URL}}


@pytest.mark.parametrize("form", list(FORMS))
def test_every_form_is_registered_as_an_attachment_and_shown_again(form: str) -> None:
    images = ImageStore()
    message = HumanMessage([{"type": "text", "text": "my photo"}, FORMS[form]])

    registered = register(message, images)

    (handle,) = registered.additional_kwargs[HANDLES_KEY]
    assert HANDLE_PATTERN.fullmatch(handle)
    assert ENCODED[:40] not in repr(registered.content)
    assert registered.content[1] == {
        "type": "text",
        "text": f"[attached image {handle} (12x8 JPEG)]",
    }
    assert images.get(handle).data == PHOTO
    (shown,) = images_from(with_pictures(registered, images))
    assert shown.data == PHOTO


def test_urls_file_ids_and_details_are_read_but_hold_no_bytes() -> None:
    remote = {"type": "image", "url": "https://example.com/a.png", "mime_type": "image/png"}
    assert read_image_block(remote) == ImageReference(
        url="https://example.com/a.png", mime_type="image/png"
    )
    assert read_image_block(
        {"type": "image_url", "image_url": {"url": "https://x/a.png", "detail": "low"}}
    ) == ImageReference(url="https://x/a.png", detail="low")
    assert read_image_block({"type": "image", "file_id": "file-1"}) == ImageReference(
        file_id="file-1"
    )
    assert images_from([remote, {"type": "image", "file_id": "file-1"}]) == []


@pytest.mark.parametrize(
    ("block", "why"),
    [
        ({"type": "image"}, "no 'base64', 'url' or 'source'"),
        ({"type": "image", "source": {"type": "file"}}, "neither base64 data nor a url"),
        ({"type": "image_url", "image_url": 42}, "must be a URL string"),
    ],
)
def test_image_blocks_with_nothing_usable_say_why(block: dict[str, Any], why: str) -> None:
    with pytest.raises(UnusableImageBlockError, match=why):
        read_image_block(block)
    with pytest.raises(ValueError, match=why):
        to_content_part(block)
    assert images_from([block]) == []


def test_other_blocks_are_not_image_blocks() -> None:
    for block in ({"type": "text", "text": "hi"}, "plain", {"type": "file", "base64": "JVBE"}):
        assert read_image_block(block) is None
