"""NanoBananaImageTool against the emulator: handles in, handles out, base64 never in content."""

from __future__ import annotations

import asyncio
import base64
import gc
import hashlib
import io
import json
import tracemalloc
import uuid
from typing import Any

import pytest
from langchain_core.messages import HumanMessage, ToolMessage
from langchain_tests.unit_tests import ToolsUnitTests
from PIL import Image

from langchain_nanobanana import ChatNanoBanana, NanoBananaImageTool
from langchain_nanobanana.errors import OpenRouterAuthenticationError
from langchain_nanobanana.images import GeneratedImage, images_from
from langchain_nanobanana.scopes import DEFAULT_SCOPE, scope_token
from langchain_nanobanana.stores import HANDLE_PATTERN, DirectoryByteStore
from langchain_nanobanana.testing import FakeOpenRouter, Outcome, describe_image
from tests.support.pictures import picture


def _call(args: dict[str, Any], call_id: str | None = None) -> dict[str, Any]:
    """A tool call with its own id (the same id twice is one call, answered once)."""
    call_id = call_id or f"call_{uuid.uuid4().hex[:12]}"
    return {"type": "tool_call", "id": call_id, "name": "generate_image", "args": args}


def _run(tool: NanoBananaImageTool, **args: Any) -> ToolMessage:
    message = tool.invoke(_call(args))
    assert isinstance(message, ToolMessage)
    return message


def _handle_in(message: ToolMessage) -> str:
    """The new image's handle: the last one the sentence names."""
    assert isinstance(message.content, str)
    return str(HANDLE_PATTERN.findall(message.content)[-1])


@pytest.fixture
def tool(fake: FakeOpenRouter) -> NanoBananaImageTool:
    return NanoBananaImageTool(llm=fake.chat_model())


def test_generate_returns_a_short_sentence_and_the_image_as_artifact(
    fake: FakeOpenRouter, tool: NanoBananaImageTool
) -> None:
    message = _run(tool, prompt="a nano banana dish", aspect_ratio="16:9")

    handle = _handle_in(message)
    assert isinstance(message.content, str)
    assert len(message.content) < 300
    assert "1344x768" in message.content
    assert "base64" not in message.content and "iVBOR" not in message.content
    (block,) = message.artifact
    assert block["id"] == handle
    assert block["mime_type"] == "image/png"
    assert tool.images.get(handle).data == base64.b64decode(block["base64"])
    assert fake.requests[-1].body["image_config"] == {"aspect_ratio": "16:9"}
    assert message.status == "success"


def test_model_words_are_quoted_in_the_sentence(
    fake: FakeOpenRouter, tool: NanoBananaImageTool
) -> None:
    message = _run(tool, prompt="a banana")
    assert fake.reply_text in str(message.content)


def test_edit_by_handle_sends_the_stored_bytes_as_a_user_image(
    fake: FakeOpenRouter, tool: NanoBananaImageTool
) -> None:
    first = _handle_in(_run(tool, prompt="a yellow banana"))
    original = tool.images.get(first).data

    edited = _run(tool, prompt="make it blue", image_ids=[first])

    second = _handle_in(edited)
    assert second != first
    user = fake.requests[-1].body["messages"][-1]
    assert user["role"] == "user"
    assert user["content"][0] == {"type": "text", "text": "make it blue"}
    assert user["content"][1]["image_url"]["url"].endswith(base64.b64encode(original).decode())
    assert (
        describe_image(tool.images.get(second).data)["sources"]
        == hashlib.sha256(original).hexdigest()
    )
    assert tool.images.metadata(second)["sources"] == [first]
    assert str(edited.content).startswith(f"Edited {first} into image {second}")


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_an_edit_reads_its_source_from_the_store_once(fake: FakeOpenRouter, mode: str) -> None:
    """A store that gives no URLs is not asked for one: the source's record is read (its
    size is checked before anything is paid), then its bytes, once."""
    from langchain_core.stores import InMemoryByteStore

    class CountingStore(InMemoryByteStore):
        def __init__(self) -> None:
            super().__init__()
            self.reads: list[list[str]] = []

        def mget(self, keys: Any) -> Any:  # amget reads through it too
            self.reads.append(list(keys))
            return super().mget(keys)

    store = CountingStore()
    tool = NanoBananaImageTool(llm=fake.chat_model(), store=store, artifact_mode="url")
    first = _handle_in(_run(tool, prompt="a banana"))
    store.reads.clear()

    call = _call({"prompt": "make it blue", "image_ids": [first]})
    edited = tool.invoke(call) if mode == "sync" else asyncio.run(tool.ainvoke(call))

    assert _handle_in(edited) != first
    key = f"{scope_token(DEFAULT_SCOPE)}.{first}"
    assert [keys for keys in store.reads if any(first in key for key in keys)] == [
        [f"{key}.meta.json"],
        [key, f"{key}.meta.json"],
    ]
    assert "url" not in edited.artifact[0], "a byte store gives no URL"


def test_https_urls_pass_through_as_image_urls(
    fake: FakeOpenRouter, tool: NanoBananaImageTool
) -> None:
    _run(tool, prompt="restyle", image_ids=["https://example.com/cat.png"])
    part = fake.requests[-1].body["messages"][-1]["content"][1]
    assert part == {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}


def test_unknown_handle_is_an_error_message_and_costs_nothing(
    fake: FakeOpenRouter, tool: NanoBananaImageTool
) -> None:
    message = _run(tool, prompt="edit", image_ids=["img_00000000"])
    assert message.status == "error"
    assert "img_00000000" in str(message.content)
    assert fake.requests == []


def test_no_image_answer_says_why(fake: FakeOpenRouter, tool: NanoBananaImageTool) -> None:
    fake.enqueue(Outcome.no_image(native_finish_reason="IMAGE_SAFETY", text="I can't draw that."))
    message = _run(tool, prompt="something")
    assert message.status == "error"
    assert "IMAGE_SAFETY" in str(message.content)
    assert "I can't draw that." in str(message.content)
    assert "Rephrase" in str(message.content)


def test_a_rate_limit_that_outlasts_the_deadline_is_an_error_message(
    fake: FakeOpenRouter,
) -> None:
    tool = NanoBananaImageTool(llm=fake.chat_model(deadline=5))
    fake.enqueue(Outcome.http_error(429, headers={"Retry-After": "30"}))
    message = _run(tool, prompt="a banana")
    assert message.status == "error"
    assert "rate-limiting" in str(message.content)
    assert len(fake.requests) == 1


def test_refused_prompt_is_an_error_message_with_the_reasons(
    fake: FakeOpenRouter, tool: NanoBananaImageTool
) -> None:
    fake.enqueue(Outcome.http_error(403, metadata={"reasons": ["violence"]}))
    message = _run(tool, prompt="something")
    assert message.status == "error"
    assert "violence" in str(message.content)


def test_a_broken_setup_still_raises(fake: FakeOpenRouter, tool: NanoBananaImageTool) -> None:
    fake.enqueue(Outcome.http_error(401))
    with pytest.raises(OpenRouterAuthenticationError):
        tool.invoke(_call({"prompt": "a banana"}))


def test_reference_mode_keeps_bytes_out_of_the_artifact(fake: FakeOpenRouter) -> None:
    tool = NanoBananaImageTool(llm=fake.chat_model(), artifact_mode="reference")
    message = _run(tool, prompt="a banana")
    handle = _handle_in(message)
    assert message.artifact == [
        {
            "type": "image",
            "file_id": handle,
            "id": handle,
            "mime_type": "image/png",
            "extras": {"width": 1024, "height": 1024, "bytes": len(tool.images.get(handle).data)},
        }
    ]
    assert len(json.dumps(message.artifact)) < 250


def test_show_image_to_model_adds_a_small_picture(fake: FakeOpenRouter) -> None:
    tool = NanoBananaImageTool(llm=fake.chat_model(), show_image_to_model=True)
    message = _run(tool, prompt="a banana")
    text, picture = message.content
    assert isinstance(text, dict) and HANDLE_PATTERN.search(text["text"])
    assert isinstance(picture, dict) and picture["type"] == "image"
    assert Image.open(io.BytesIO(base64.b64decode(picture["base64"]))).size == (384, 384)


def test_async_generate_and_edit(fake: FakeOpenRouter, tool: NanoBananaImageTool) -> None:
    async def run() -> tuple[ToolMessage, ToolMessage]:
        first = await tool.ainvoke(_call({"prompt": "a banana"}))
        second = await tool.ainvoke(
            _call({"prompt": "make it blue", "image_ids": [_handle_in(first)]}, "c2")
        )
        return first, second

    first, second = asyncio.run(run())
    assert _handle_in(first) != _handle_in(second)
    assert images_from(second)[0].data == tool.images.get(_handle_in(second)).data


def test_register_attachments_swaps_photos_for_handles(tool: NanoBananaImageTool) -> None:
    photo = picture("green", (64, 48))
    message = HumanMessage(
        [
            {"type": "text", "text": "make my photo blue"},
            GeneratedImage(photo, "image/png").to_block(),
        ]
    )

    registered = tool.register_attachments(message)

    (handle,) = registered.additional_kwargs["nanobanana_handles"]
    assert registered.content == [
        {"type": "text", "text": "make my photo blue"},
        {"type": "text", "text": f"[attached image {handle} (64x48 PNG)]"},
    ]
    assert tool.images.get(handle).data == photo
    assert message.content[1]["base64"]  # type: ignore[index]  # the input is untouched


def test_directory_store_keeps_images_on_disk(fake: FakeOpenRouter, tmp_path: Any) -> None:
    tool = NanoBananaImageTool(llm=fake.chat_model(), store=DirectoryByteStore(tmp_path))
    handle = _handle_in(_run(tool, prompt="a banana"))
    (picture,) = tmp_path.glob(f"*.{handle}")  # under the scope's prefix
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert picture.name == f"{scope_token(DEFAULT_SCOPE)}.{handle}"


def test_aspect_ratios_are_enumerated_for_the_agent_model() -> None:
    tool = NanoBananaImageTool(
        llm=ChatNanoBanana(api_key="k", model="google/gemini-3.1-flash-image")
    )
    schema = tool.tool_call_schema.model_json_schema()  # type: ignore[union-attr]
    ratios = schema["properties"]["aspect_ratio"]["anyOf"][0]["enum"]
    assert "8:1" in ratios and "16:9" in ratios
    default = NanoBananaImageTool(llm=ChatNanoBanana(api_key="k"))
    default_schema = default.tool_call_schema.model_json_schema()  # type: ignore[union-attr]
    assert "8:1" not in default_schema["properties"]["aspect_ratio"]["anyOf"][0]["enum"]


class TestImageToolStandard(ToolsUnitTests):
    @property
    def tool_constructor(self) -> type[NanoBananaImageTool]:
        return NanoBananaImageTool

    @property
    def tool_constructor_params(self) -> dict[str, Any]:
        return {"llm": ChatNanoBanana(api_key="sk-or-unit")}

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return {"prompt": "a nano banana dish", "image_ids": [], "aspect_ratio": "1:1"}


def test_a_locally_refused_request_is_an_error_message(fake: FakeOpenRouter) -> None:
    tool = NanoBananaImageTool(llm=fake.chat_model(model="google/gemini-3.1-flash-image"))
    tool.llm = fake.chat_model()  # the schema allows 8:1, the model in use does not
    message = _run(tool, prompt="a banana", aspect_ratio="8:1")
    assert message.status == "error"
    assert "aspect_ratio='8:1' is not supported" in str(message.content)
    assert fake.requests == []


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_nothing_of_an_edit_outlives_the_call(tmp_path: Any, mode: str) -> None:
    """With reference artifacts the tool keeps nothing of the source or the new image once
    the call has returned: both are in the store (on disk here), and only there."""
    fake = FakeOpenRouter(noise=True)  # photo-sized: megabytes of base64 each way
    tool = NanoBananaImageTool(
        llm=fake.chat_model(), store=DirectoryByteStore(tmp_path), artifact_mode="reference"
    )
    source = _handle_in(_run(tool, prompt="a banana"))
    args = {"prompt": "make it blue", "image_ids": [source]}
    _run(tool, **args)  # the emulator draws this answer's picture now, and keeps it
    fake.requests.clear()
    gc.collect()
    tracemalloc.start()
    try:
        call = _call(args)
        message = tool.invoke(call) if mode == "sync" else asyncio.run(tool.ainvoke(call))
        made = _handle_in(message)
        del message
        fake.requests.clear()  # the emulator's record of the request, with its image
        gc.collect()
        kept, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    sizes = [tool.images.metadata(handle)["bytes"] for handle in (source, made)]
    assert min(sizes) > 1_000_000
    assert kept < sum(sizes) // 50, f"{kept} bytes outlived the call"
