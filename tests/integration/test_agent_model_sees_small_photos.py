"""A photo the user attaches reaches the agent model as a small copy on every turn,
while the image model edits the whole photo from the store."""

from __future__ import annotations

import asyncio
import base64
import io
import json
from typing import Any

import pytest
from langchain.agents import create_agent
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from PIL import Image

from langchain_nanobanana import NanoBananaImageTool, images_from
from langchain_nanobanana.middleware import AttachedImagesMiddleware
from langchain_nanobanana.stores import HANDLE_PATTERN
from langchain_nanobanana.testing import FakeOpenRouter, ScriptedAgentModel
from tests.support.pictures import without_pillow


def _camera_photo() -> bytes:
    """A JPEG as large as a phone's: 5 MB and more of detail that does not compress."""
    noise = Image.effect_noise((2600, 1950), 90).convert("RGB")
    buffer = io.BytesIO()
    noise.save(buffer, format="JPEG", quality=100, subsampling=0)
    photo = buffer.getvalue()
    assert len(photo) >= 5_000_000
    return photo


@pytest.fixture(scope="module")
def photo() -> bytes:
    return _camera_photo()


def _characters(messages: list[BaseMessage]) -> int:
    """What the agent model's request holds, as the JSON text a provider is sent."""
    return len(json.dumps([message.content for message in messages]))


def _handle(messages: list[BaseMessage]) -> str:
    return HANDLE_PATTERN.findall(str(messages[0].content))[0]


def _edit_then_answer() -> ScriptedAgentModel:
    def edit(messages: list[BaseMessage]) -> AIMessage:
        args = {"prompt": "add a hat", "image_ids": [_handle(messages)]}
        return AIMessage("", tool_calls=[{"name": "generate_image", "args": args, "id": "c1"}])

    return ScriptedAgentModel(turns=[edit, lambda messages: AIMessage("done")])


def _request(photo: bytes) -> dict[str, Any]:
    image = {"type": "image", "base64": base64.b64encode(photo).decode(), "mime_type": "image/jpeg"}
    return {"messages": [HumanMessage([{"type": "text", "text": "a hat, please"}, image])]}


@pytest.mark.parametrize("sync", [True, False])
def test_a_5_mb_photo_reaches_the_agent_model_small_and_the_image_model_whole(
    photo: bytes, fake: FakeOpenRouter, sync: bool
) -> None:
    tool = NanoBananaImageTool(llm=fake.chat_model())
    agent_model = _edit_then_answer()
    agent = create_agent(agent_model, tools=[tool], middleware=[AttachedImagesMiddleware(tool)])

    if sync:
        agent.invoke(_request(photo))
    else:
        asyncio.run(agent.ainvoke(_request(photo)))

    for seen in agent_model.seen:  # both turns: the photo is shown again on each
        assert _characters(seen) < 300_000
        (shown,) = images_from(seen[0])
        assert shown.mime_type == "image/jpeg"
        assert max(shown.size or (0, 0)) <= 1024
        assert shown.size is not None and shown.size[0] / shown.size[1] == pytest.approx(
            4 / 3, abs=0.01
        )
    stored = tool.images.get(_handle(agent_model.seen[0]))
    assert stored.data == photo, "the store keeps the whole photo"
    edited = fake.requests[-1].body["messages"][-1]["content"][1]["image_url"]["url"]
    assert base64.b64decode(edited.split(",", 1)[1]) == photo, "and the edit uses it"


def test_a_small_photo_is_shown_as_it_is(fake: FakeOpenRouter) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (320, 240), "teal").save(buffer, format="JPEG")
    small = buffer.getvalue()
    tool = NanoBananaImageTool(llm=fake.chat_model())
    agent_model = _edit_then_answer()
    agent = create_agent(agent_model, tools=[tool], middleware=[AttachedImagesMiddleware(tool)])

    agent.invoke(_request(small))

    assert [image.data for image in images_from(agent_model.seen[0][0])] == [small]


def test_without_pillow_a_photo_over_the_bound_is_its_line_only(
    photo: bytes, fake: FakeOpenRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    tool = NanoBananaImageTool(llm=fake.chat_model())
    agent_model = _edit_then_answer()
    agent = create_agent(agent_model, tools=[tool], middleware=[AttachedImagesMiddleware(tool)])
    without_pillow(monkeypatch)

    agent.invoke(_request(photo))

    first = agent_model.seen[0][0]
    assert images_from(first) == []
    assert [block["text"] for block in first.content if isinstance(block, dict)] == [
        "a hat, please",
        f"[attached image {_handle(agent_model.seen[0])} (2600x1950 JPEG)]",
    ]
    assert tool.images.get(_handle(agent_model.seen[0])).data == photo


def test_the_bound_is_the_apps_to_choose(photo: bytes, fake: FakeOpenRouter) -> None:
    tool = NanoBananaImageTool(llm=fake.chat_model())
    whole = _edit_then_answer()
    middleware = AttachedImagesMiddleware(tool, attachment_long_side=None)
    create_agent(whole, tools=[tool], middleware=[middleware]).invoke(_request(photo))
    assert [image.data for image in images_from(whole.seen[0][0])] == [photo]

    tiny = _edit_then_answer()
    middleware = AttachedImagesMiddleware(tool, attachment_long_side=200, attachment_max_bytes=9000)
    create_agent(tiny, tools=[tool], middleware=[middleware]).invoke(_request(photo))
    (shown,) = images_from(tiny.seen[0][0])
    assert max(shown.size or (0, 0)) <= 200
    assert len(shown.data) <= 9000

    with pytest.raises(ValueError, match="attachment_long_side"):
        AttachedImagesMiddleware(tool, attachment_long_side=0)
