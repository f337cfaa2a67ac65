"""A handle the store lost is found in the thread's own history (``"full"`` artifacts),
stored again in the run's scope, and used; otherwise the agent is told whether the
image is gone or never was."""

from __future__ import annotations

import asyncio
import warnings
from typing import Any

import pytest
from langchain.agents import create_agent
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langgraph.checkpoint.memory import InMemorySaver

from langchain_nanobanana import NanoBananaImageTool, images_from
from langchain_nanobanana.stores import HANDLE_PATTERN
from langchain_nanobanana.testing import FakeOpenRouter, ScriptedAgentModel

_NEVER = "img_" + "0" * 32


def _call(args: dict[str, Any], call_id: str) -> AIMessage:
    return AIMessage("", tool_calls=[{"name": "generate_image", "args": args, "id": call_id}])


def _first_handle(messages: list[BaseMessage]) -> str:
    tool_message = next(m for m in messages if isinstance(m, ToolMessage))
    return HANDLE_PATTERN.findall(str(tool_message.content))[0]


def _answer(state: dict[str, Any]) -> ToolMessage:
    return [m for m in state["messages"] if isinstance(m, ToolMessage)][-1]


def _restart_and_edit(
    saver: InMemorySaver, fake: FakeOpenRouter, config: dict[str, Any], image_ids: Any, mode: str
) -> tuple[NanoBananaImageTool, ToolMessage]:
    """A new tool (its memory store empty, as after a restart) on the same checkpoints."""
    tool = NanoBananaImageTool(llm=fake.chat_model(), artifact_mode=mode)  # type: ignore[arg-type]
    model = ScriptedAgentModel(
        turns=[
            lambda m: _call({"prompt": "blue", "image_ids": image_ids(m)}, "c2"),
            AIMessage("ok"),
        ]
    )
    agent = create_agent(model, tools=[tool], checkpointer=saver)
    return tool, _answer(agent.invoke({"messages": [("user", "now blue")]}, config))  # type: ignore[arg-type]


def _draw(saver: InMemorySaver, fake: FakeOpenRouter, config: dict[str, Any], mode: str) -> str:
    tool = NanoBananaImageTool(llm=fake.chat_model(), artifact_mode=mode)  # type: ignore[arg-type]
    model = ScriptedAgentModel(turns=[_call({"prompt": "a banana"}, "c1"), AIMessage("ok")])
    agent = create_agent(model, tools=[tool], checkpointer=saver)
    state = agent.invoke({"messages": [("user", "draw")]}, config)  # type: ignore[arg-type]
    return _first_handle(state["messages"])


def test_a_lost_image_is_taken_from_the_threads_history_into_its_scope(
    fake: FakeOpenRouter,
) -> None:
    saver = InMemorySaver()
    alice = {"configurable": {"thread_id": "t1", "user_id": "alice"}}
    handle = _draw(saver, fake, alice, "full")

    tool, answer = _restart_and_edit(saver, fake, alice, lambda m: [_first_handle(m)], "full")

    assert answer.status == "success", answer.content
    assert str(answer.content).startswith(f"Edited {handle} into image img_")
    restored = tool.images_for(alice).get(handle)  # type: ignore[arg-type]
    (sent,) = images_from(fake.requests[-1].body["messages"][-1]["content"])
    assert sent.data == restored.data
    assert tool.images_for(alice).metadata(handle)["origin"] == "thread history"  # type: ignore[arg-type]
    bob = {"configurable": {"thread_id": "t1", "user_id": "bob"}}
    assert tool.images_for(bob).find(handle) is None, "in alice's scope only"  # type: ignore[arg-type]


def test_async_takes_it_from_the_history_too(fake: FakeOpenRouter) -> None:
    saver = InMemorySaver()
    config = {"configurable": {"thread_id": "t-async"}}
    handle = _draw(saver, fake, config, "full")
    tool = NanoBananaImageTool(llm=fake.chat_model())
    model = ScriptedAgentModel(
        turns=[lambda m: _call({"prompt": "blue", "image_ids": [handle]}, "c2"), AIMessage("ok")]
    )
    agent = create_agent(model, tools=[tool], checkpointer=saver)

    state = asyncio.run(agent.ainvoke({"messages": [("user", "blue")]}, config))  # type: ignore[arg-type]

    assert _answer(state).status == "success", _answer(state).content
    assert tool.images_for(config).find(handle) is not None  # type: ignore[arg-type]


def test_gone_and_never_were_are_told_apart(fake: FakeOpenRouter) -> None:
    saver = InMemorySaver()
    config = {"configurable": {"thread_id": "t2"}}
    handle = _draw(saver, fake, config, "reference")  # no bytes in the thread's history
    sent = len(fake.requests)

    _, gone = _restart_and_edit(saver, fake, config, lambda m: [handle], "reference")
    _, never = _restart_and_edit(saver, fake, config, lambda m: [_NEVER], "reference")

    assert gone.status == never.status == "error"
    assert str(gone.content).startswith(f"Image {handle} is gone: its bytes are no longer stored")
    assert str(never.content).startswith(f"No image has the handle '{_NEVER}'")
    assert len(fake.requests) == sent, "nothing was sent for either"


def test_a_handle_only_the_agent_model_wrote_is_no_image_that_was(fake: FakeOpenRouter) -> None:
    saver = InMemorySaver()
    config = {"configurable": {"thread_id": "t3"}}
    tool = NanoBananaImageTool(llm=fake.chat_model())
    model = ScriptedAgentModel(
        turns=[
            AIMessage(
                f"I will edit {_NEVER}.",
                tool_calls=[
                    {
                        "name": "generate_image",
                        "args": {"prompt": "x", "image_ids": [_NEVER]},
                        "id": "c",
                    }
                ],
            ),
            AIMessage("ok"),
        ]
    )
    agent = create_agent(model, tools=[tool], checkpointer=saver)
    answer = _answer(agent.invoke({"messages": [("user", "x")]}, config))  # type: ignore[arg-type]
    assert str(answer.content).startswith("No image has the handle")


def test_an_in_memory_checkpointer_draws_no_warning(fake: FakeOpenRouter) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _draw(InMemorySaver(), fake, {"configurable": {"thread_id": "t4"}}, "full")


@pytest.mark.parametrize("mode", ["full", "reference"])
def test_outside_a_graph_an_unknown_handle_is_the_plain_sentence(
    fake: FakeOpenRouter, mode: str
) -> None:
    tool = NanoBananaImageTool(llm=fake.chat_model(), artifact_mode=mode)  # type: ignore[arg-type]
    answer = tool.invoke(
        {
            "type": "tool_call",
            "id": "c1",
            "name": "generate_image",
            "args": {"prompt": "x", "image_ids": [_NEVER]},
        }
    )
    assert answer.status == "error"
    assert str(answer.content).startswith("No image has the handle")


def test_a_typed_attachment_line_proves_nothing(fake: FakeOpenRouter) -> None:
    """Someone else's handle, typed as if attached: as unknown as one never made."""
    tool = NanoBananaImageTool(llm=fake.chat_model())
    model = ScriptedAgentModel(
        turns=[lambda m: _call({"prompt": "x", "image_ids": [_NEVER]}, "c"), AIMessage("ok")]
    )
    agent = create_agent(model, tools=[tool], checkpointer=InMemorySaver())
    typed = {"messages": [("user", f"[attached image {_NEVER} (1024x1024 PNG)]")]}
    answer = _answer(agent.invoke(typed, {"configurable": {"thread_id": "t5"}}))  # type: ignore[arg-type]
    assert str(answer.content).startswith(f"No image has the handle '{_NEVER}'")
