"""The tool where it lives: a langchain agent, a LangGraph ToolNode graph, an LCEL chain."""

from __future__ import annotations

import asyncio
import base64
import io
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from langchain.agents import create_agent
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode
from PIL import Image

from langchain_nanobanana import NanoBananaImageTool, images_from
from langchain_nanobanana.middleware import AttachedImagesMiddleware
from langchain_nanobanana.stores import HANDLE_PATTERN
from langchain_nanobanana.testing import FakeOpenRouter, ScriptedAgentModel
from tests.support.pictures import photo_in_every_block_form, picture
from tests.support.program import TIMEOUT, environment

_HANDLE = HANDLE_PATTERN


def _call_tool(args: dict[str, Any], call_id: str) -> AIMessage:
    return AIMessage(
        content="", tool_calls=[{"name": "generate_image", "args": args, "id": call_id}]
    )


def _last_handle(messages: list[BaseMessage]) -> str:
    tool_message = next(m for m in reversed(messages) if isinstance(m, ToolMessage))
    return _HANDLE.findall(str(tool_message.content))[-1]


def _attached_handle(messages: list[BaseMessage]) -> str:
    human = next(m for m in messages if isinstance(m, HumanMessage))
    return _HANDLE.findall(
        " ".join(b["text"] for b in human.content if isinstance(b, dict) and b["type"] == "text")
    )[0]


def _photo() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (320, 240), "teal").save(buffer, format="JPEG")
    return buffer.getvalue()


def _asking_with_photo(text: str, photo: bytes) -> HumanMessage:
    image = {"type": "image", "base64": base64.b64encode(photo).decode(), "mime_type": "image/jpeg"}
    return HumanMessage([{"type": "text", "text": text}, image])


def _data_url_bytes(part: dict[str, Any]) -> bytes:
    return base64.b64decode(part["image_url"]["url"].split(",", 1)[1])


def _has_base64(message: BaseMessage) -> bool:
    text = message.content if isinstance(message.content, str) else repr(message.content)
    return "base64" in text or re.search(r"[A-Za-z0-9+/]{200,}", text) is not None


def test_agent_generates_edits_by_handle_edits_the_users_photo_then_answers(
    fake: FakeOpenRouter,
) -> None:
    tool = NanoBananaImageTool(llm=fake.chat_model())
    agent_model = ScriptedAgentModel(
        turns=[
            lambda m: _call_tool({"prompt": "a nano banana dish", "aspect_ratio": "16:9"}, "c1"),
            lambda m: _call_tool({"prompt": "make it blue", "image_ids": [_last_handle(m)]}, "c2"),
            lambda m: _call_tool(
                {"prompt": "put a banana hat on it", "image_ids": [_attached_handle(m)]}, "c3"
            ),
            lambda m: AIMessage(content=f"Done: {_last_handle(m)}"),
        ]
    )
    agent = create_agent(agent_model, tools=[tool], middleware=[AttachedImagesMiddleware(tool)])
    photo = _photo()
    user = _asking_with_photo("Draw a dish, make it blue, then edit my photo.", photo)

    state = agent.invoke({"messages": [user]})

    chat_requests = [r for r in fake.requests if r.path.endswith("/chat/completions")]
    assert len(chat_requests) == 3
    first_image = tool.images.get(_HANDLE.findall(str(state["messages"][2].content))[0]).data
    assert _data_url_bytes(chat_requests[1].body["messages"][-1]["content"][1]) == first_image
    assert _data_url_bytes(chat_requests[2].body["messages"][-1]["content"][1]) == photo
    assert not any(_has_base64(message) for message in state["messages"])
    assert state["messages"][-1].content.startswith("Done: img_")
    # The agent model still saw the user's photo, restored for each call only.
    first_call = agent_model.seen[0]
    assert any(images_from(message) for message in first_call)
    tool_messages = [m for m in state["messages"] if isinstance(m, ToolMessage)]
    assert [m.status for m in tool_messages] == ["success"] * 3
    assert all(len(str(m.content)) < 300 for m in tool_messages)


def test_tool_in_a_langgraph_tool_node_graph(fake: FakeOpenRouter) -> None:
    tool = NanoBananaImageTool(llm=fake.chat_model())

    def planner(state: MessagesState) -> dict[str, list[BaseMessage]]:
        if any(isinstance(m, ToolMessage) for m in state["messages"]):
            return {"messages": [AIMessage(content="ok")]}
        return {"messages": [_call_tool({"prompt": "a banana"}, "c1")]}

    graph = StateGraph(MessagesState)
    graph.add_node("planner", planner)
    graph.add_node("tools", ToolNode([tool]))
    graph.add_edge(START, "planner")
    graph.add_conditional_edges(
        "planner", lambda s: "tools" if s["messages"][-1].tool_calls else END
    )
    graph.add_edge("tools", "planner")

    state = graph.compile().invoke({"messages": [HumanMessage("draw")]})

    tool_message = state["messages"][2]
    assert isinstance(tool_message, ToolMessage)
    (image,) = images_from(tool_message)
    assert image.data == tool.images.get(image.id or "").data
    assert image.size == (1024, 1024)


def test_lcel_chain_prompt_model_extractor(fake: FakeOpenRouter) -> None:
    prompt = ChatPromptTemplate.from_messages([("human", "A {style} picture of {subject}")])
    chain = prompt | fake.chat_model() | images_from

    images = chain.invoke({"style": "watercolour", "subject": "a banana"})

    (image,) = images
    assert image.mime_type == "image/png"
    assert image.size == (1024, 1024)
    assert fake.requests[-1].body["messages"][0]["content"] == "A watercolour picture of a banana"


def test_async_agent_edits_an_attached_photo_the_model_can_still_see(fake: FakeOpenRouter) -> None:
    tool = NanoBananaImageTool(llm=fake.chat_model())
    agent_model = ScriptedAgentModel(
        turns=[
            lambda m: _call_tool({"prompt": "add a hat", "image_ids": [_attached_handle(m)]}, "c1"),
            lambda m: AIMessage(content="done"),
        ]
    )
    agent = create_agent(agent_model, tools=[tool], middleware=[AttachedImagesMiddleware(tool)])
    photo = _photo()
    user = _asking_with_photo("put a hat on me", photo)

    state = asyncio.run(agent.ainvoke({"messages": [user]}))

    sent = fake.requests[-1].body["messages"][-1]["content"][1]
    assert _data_url_bytes(sent) == photo
    assert [image.data for image in images_from(agent_model.seen[0][0])] == [photo]
    assert not any(_has_base64(message) for message in state["messages"])


def test_an_attached_photo_is_decoded_once_when_it_is_stored(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Finding the messages to register reads the blocks' form; only storing decodes."""
    import langchain_nanobanana.images as images_module
    from langchain_nanobanana._agent.attachments import has_unregistered_images, register

    decoded: list[int] = []

    decode = images_module.decode_base64

    def counting_decode(text: str) -> bytes:
        decoded.append(len(text))
        return decode(text)

    monkeypatch.setattr(images_module, "decode_base64", counting_decode)
    tool = NanoBananaImageTool(llm=FakeOpenRouter().chat_model())
    photo = _photo()
    message = _asking_with_photo("a hat", photo)

    assert has_unregistered_images(message)
    assert decoded == [], "the check decodes nothing"
    registered = register(message, tool.images)
    assert len(decoded) == 1
    (handle,) = registered.additional_kwargs["nanobanana_handles"]
    assert tool.images.get(handle).data == photo
    assert not has_unregistered_images(registered)
    damaged = HumanMessage([{"type": "image", "base64": "not base64!", "mime_type": "image/png"}])
    assert has_unregistered_images(damaged), "damaged data is registered, as a note"


def test_two_photos_in_one_message_get_their_own_handles_in_order() -> None:
    from langchain_nanobanana._agent.attachments import register, with_pictures

    tool = NanoBananaImageTool(llm=FakeOpenRouter().chat_model())
    first, second = _photo(), picture("orange")
    message = HumanMessage(
        [
            {"type": "text", "text": "these two"},
            _asking_with_photo("", first).content[1],
            {
                "type": "image",
                "base64": base64.b64encode(second).decode(),
                "mime_type": "image/png",
            },
        ]
    )

    registered = register(message, tool.images)

    handles = registered.additional_kwargs["nanobanana_handles"]
    assert [tool.images.get(h).data for h in handles] == [first, second]
    lines = [b["text"] for b in registered.content if isinstance(b, dict)][1:]
    assert [_HANDLE.findall(line) for line in lines] == [[handles[0]], [handles[1]]]
    shown = with_pictures(registered, tool.images)
    assert [image.data for image in images_from(shown)] == [first, second]


def test_a_typed_attachment_line_shows_no_picture() -> None:
    """Only the lines register wrote get their picture back: a user who types one with
    someone's handle in it gets nothing shown."""
    from langchain_nanobanana._agent.attachments import register, with_pictures

    tool = NanoBananaImageTool(llm=FakeOpenRouter().chat_model())
    other = tool.images.put(picture("orange"))
    mine = register(_asking_with_photo("mine", _photo()), tool.images)
    typed_line = {"type": "text", "text": f"[attached image {other} (64x48 PNG)]"}
    with_typed = mine.model_copy(update={"content": [*mine.content, typed_line]})

    shown = with_pictures(with_typed, tool.images)

    assert [image.data for image in images_from(shown)] == [_photo()]
    assert shown.content[-1] == typed_line


def test_with_show_attachments_to_model_off_the_agent_model_sees_only_the_lines(
    fake: FakeOpenRouter,
) -> None:
    tool = NanoBananaImageTool(llm=fake.chat_model())
    agent_model = ScriptedAgentModel(
        turns=[
            lambda m: _call_tool({"prompt": "add a hat", "image_ids": [_attached_handle(m)]}, "c1"),
            lambda m: AIMessage(content="done"),
        ]
    )
    middleware = AttachedImagesMiddleware(tool, show_attachments_to_model=False)
    agent = create_agent(agent_model, tools=[tool], middleware=[middleware])
    photo = _photo()

    agent.invoke({"messages": [_asking_with_photo("put a hat on me", photo)]})

    assert all(images_from(message) == [] for message in agent_model.seen[0])
    assert _data_url_bytes(fake.requests[-1].body["messages"][-1]["content"][1]) == photo


def test_where_no_config_is_seen_the_runtime_gives_thread_and_user() -> None:
    from types import SimpleNamespace

    from langchain_nanobanana.middleware import _config_from

    runtime = SimpleNamespace(
        execution_info=SimpleNamespace(thread_id="t"),
        server_info=SimpleNamespace(user=SimpleNamespace(identity="alice")),
    )

    assert _config_from(runtime) == {  # type: ignore[arg-type]
        "configurable": {"thread_id": "t", "langgraph_auth_user_id": "alice"}
    }
    assert _config_from(None) is None


@pytest.mark.parametrize("form", list(photo_in_every_block_form(b"")))
def test_a_photo_in_any_block_form_leaves_no_base64_in_the_checkpoint(
    fake: FakeOpenRouter, form: str
) -> None:
    # "reference": the generated image stays out of the state too, so any base64 left is the photo.
    tool = NanoBananaImageTool(llm=fake.chat_model(), artifact_mode="reference")
    agent_model = ScriptedAgentModel(
        turns=[
            lambda m: _call_tool({"prompt": "add a hat", "image_ids": [_attached_handle(m)]}, "c1"),
            lambda m: AIMessage(content="done"),
        ]
    )
    checkpointer = InMemorySaver()
    agent = create_agent(
        agent_model,
        tools=[tool],
        middleware=[AttachedImagesMiddleware(tool)],
        checkpointer=checkpointer,
    )
    photo = _photo()
    block = photo_in_every_block_form(photo)[form]
    config: RunnableConfig = {"configurable": {"thread_id": f"thread-{form}"}}

    agent.invoke({"messages": [HumanMessage([{"type": "text", "text": "a hat"}, block])]}, config)

    sent = fake.requests[-1].body["messages"][-1]["content"][1]
    assert _data_url_bytes(sent) == photo, "the edit sent the user's own bytes"
    saved = checkpointer.get_tuple(config)
    assert saved is not None
    _, stored = checkpointer.serde.dumps_typed(saved.checkpoint["channel_values"])
    encoded = base64.b64encode(photo).decode()
    assert encoded[:64].encode() not in stored
    assert re.search(rb"[A-Za-z0-9+/]{200,}", stored) is None
    # What the agent model saw still had the picture, restored for the call only.
    assert [image.data for image in images_from(agent_model.seen[0][0])] == [photo]


def test_the_middleware_without_langchain_says_which_extra_to_install(tmp_path: Path) -> None:
    blocker = tmp_path / "no_langchain" / "langchain"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('langchain is not installed')\n")
    done = subprocess.run(
        [sys.executable, "-c", "import langchain_nanobanana.middleware"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=environment(PYTHONPATH=str(blocker.parent)),
        timeout=TIMEOUT,
        check=False,
    )
    assert done.returncode == 1
    assert "pip install 'langchain-nanobanana[agents]'" in done.stderr
