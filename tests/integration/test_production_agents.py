"""Agents in production: traces without pictures, calls that pay once, budgets, progress."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from typing import Any
from uuid import UUID

import pytest
from langchain.agents import create_agent
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import LLMResult
from langchain_core.runnables import RunnableConfig
from langchain_core.stores import InMemoryByteStore
from langgraph.store.memory import InMemoryStore

from langchain_nanobanana import NanoBananaImageTool
from langchain_nanobanana._agent.ledger import Budget
from langchain_nanobanana._agent.progress import KIND
from langchain_nanobanana.stores import HANDLE_PATTERN
from langchain_nanobanana.testing import FakeOpenRouter, ScriptedAgentModel

_LONG_BASE64 = re.compile(r"[A-Za-z0-9+/]{1000,}")


def _tool_call(args: dict[str, Any], call_id: str | None = None) -> AIMessage:
    call_id = call_id or f"call_{uuid.uuid4().hex[:10]}"
    return AIMessage("", tool_calls=[{"name": "generate_image", "args": args, "id": call_id}])


def _last_handle(messages: list[BaseMessage]) -> str:
    tool_message = next(m for m in reversed(messages) if isinstance(m, ToolMessage))
    return str(HANDLE_PATTERN.findall(str(tool_message.content))[-1])


def _draw_then_edit_then_answer() -> list[Any]:
    return [
        _tool_call({"prompt": "a nano banana dish"}),
        lambda m: _tool_call({"prompt": "make it blue", "image_ids": [_last_handle(m)]}),
        lambda m: AIMessage(f"Here it is: {_last_handle(m)}"),
    ]


class _EveryEvent(BaseCallbackHandler):
    """Records every callback a tracer would get, with all its arguments."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.llm_ends: list[tuple[UUID | None, LLMResult]] = []
        self.tool_runs: set[UUID] = set()

    def _record(self, event: str, /, *args: Any, **kwargs: Any) -> None:
        self.events.append((event, {"args": args, **kwargs}))

    def on_llm_end(self, response: LLMResult, **kwargs: Any) -> None:
        self._record("llm_end", response, **kwargs)
        self.llm_ends.append((kwargs.get("parent_run_id"), response))

    def on_tool_start(self, *args: Any, **kwargs: Any) -> None:
        self._record("tool_start", *args, **kwargs)
        self.tool_runs.add(kwargs["run_id"])


def _recorder(event: str) -> Any:
    def record(self: _EveryEvent, *args: Any, **kwargs: Any) -> None:
        self._record(event, *args, **kwargs)

    return record


# Every other callback a handler can get, failures included, is recorded as it comes.
for _event in (
    "chat_model_start",
    "llm_start",
    "llm_new_token",
    "llm_error",
    "chain_start",
    "chain_end",
    "chain_error",
    "tool_end",
    "tool_error",
    "retriever_start",
    "retriever_end",
    "retriever_error",
    "agent_action",
    "agent_finish",
    "text",
    "retry",
    "custom_event",
):
    setattr(_EveryEvent, f"on_{_event}", _recorder(_event))


def _spending(tool: NanoBananaImageTool, config: RunnableConfig) -> list[dict[str, Any]]:
    """The entries of the tool's budget in the run's scope."""
    from langchain_nanobanana.scopes import thread_of

    budget = Budget(per=tool.budget_per, key=tool.budget_key or tool.name)
    return tool.images_for(config).list_notes(budget.kind(thread_of(config)))


def _dumped(value: Any) -> str:
    return json.dumps(value, default=repr)


def test_no_callback_event_of_an_agent_run_carries_image_base64(fake: FakeOpenRouter) -> None:
    tool = NanoBananaImageTool(llm=fake.chat_model(), artifact_mode="reference")
    agent = create_agent(ScriptedAgentModel(turns=_draw_then_edit_then_answer()), tools=[tool])
    handler = _EveryEvent()

    agent.invoke({"messages": [HumanMessage("draw, then edit")]}, {"callbacks": [handler]})

    assert len(fake.requests) == 2, "both calls were made"
    sent = _dumped(fake.requests[1].body)
    assert _LONG_BASE64.search(sent), "the edit did send the source's bytes to the provider"
    names = {name for name, _ in handler.events}
    assert {"chat_model_start", "llm_end", "tool_start", "tool_end", "chain_end"} <= names
    leaked = [name for name, event in handler.events if _LONG_BASE64.search(_dumped(event))]
    assert leaked == []
    # The inner runs are still traced under the tool's runs, with usage and cost.
    inner = [result for parent, result in handler.llm_ends if parent in handler.tool_runs]
    assert len(inner) == 2
    for result in inner:
        message = result.generations[0][0].message  # type: ignore[attr-defined]
        assert message.usage_metadata["output_tokens"] > 1000
        assert message.response_metadata["cost"] > 0
        assert message.response_metadata["model_name"] == "google/gemini-2.5-flash-image"
        (placeholder,) = [
            b for b in message.content if isinstance(b, dict) and b["type"] == "image"
        ]
        assert HANDLE_PATTERN.fullmatch(placeholder["file_id"])
        assert placeholder["extras"]["bytes"] > 10_000
    edit_start = [
        event
        for name, event in handler.events
        if name == "chat_model_start" and event.get("parent_run_id") in handler.tool_runs
    ][1]
    # The edit's source goes to the inner call by its handle (its bytes are lent to the
    # request, see _content/lent_images.py), so its trace names the image it edits.
    made = inner[0].generations[0][0].message.content  # type: ignore[attr-defined]
    (handle,) = [b["file_id"] for b in made if isinstance(b, dict) and b["type"] == "image"]
    ((edit_request,),) = edit_start["args"][1]
    assert [b for b in edit_request.content if b["type"] == "image"] == [
        {"type": "image", "file_id": handle, "mime_type": "image/png", "id": handle}
    ]
    # What tracers read a model run's provider and model (and so its price) from.
    assert edit_start["metadata"]["ls_model_name"] == "google/gemini-2.5-flash-image"
    assert edit_start["metadata"]["ls_provider"] == "openrouter"


def test_the_inner_call_is_outside_automatic_tracing(
    fake: FakeOpenRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """LANGSMITH_TRACING traces by context, not by callbacks: it is switched off (False, not
    the unset None) for the inner call. No tracer is enabled here: it would upload."""
    from langsmith.run_helpers import get_tracing_context

    from langchain_nanobanana import ChatNanoBanana

    seen: list[Any] = []
    generate = ChatNanoBanana._generate

    def watched(self: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(get_tracing_context()["enabled"])
        return generate(self, *args, **kwargs)

    monkeypatch.setattr(ChatNanoBanana, "_generate", watched)
    tool = NanoBananaImageTool(llm=fake.chat_model(), artifact_mode="reference")

    assert get_tracing_context()["enabled"] is None
    assert tool.invoke(_tool_call_dict("a dish")).status == "success"

    assert seen == [False]


def test_a_failed_edit_leaves_no_image_base64_in_its_error_events(fake: FakeOpenRouter) -> None:
    from langchain_nanobanana.testing import Outcome

    tool = NanoBananaImageTool(llm=fake.chat_model(), artifact_mode="reference")
    draw, edit, _ = _draw_then_edit_then_answer()
    turns = [draw, edit, lambda m: AIMessage("The edit failed.")]
    agent = create_agent(ScriptedAgentModel(turns=turns), tools=[tool])
    handler = _EveryEvent()
    fake.enqueue(Outcome.answer(), Outcome.http_error(400))

    state = agent.invoke({"messages": [HumanMessage("draw, then edit")]}, {"callbacks": [handler]})

    assert [m.status for m in state["messages"] if isinstance(m, ToolMessage)] == [
        "success",
        "error",
    ]
    assert _LONG_BASE64.search(_dumped(fake.requests[1].body)), "the edit sent the bytes"
    assert "llm_error" in {name for name, _ in handler.events}
    assert [name for name, event in handler.events if _LONG_BASE64.search(_dumped(event))] == []


def test_no_astream_event_carries_image_base64(fake: FakeOpenRouter) -> None:
    tool = NanoBananaImageTool(llm=fake.chat_model(), artifact_mode="reference")
    agent = create_agent(ScriptedAgentModel(turns=_draw_then_edit_then_answer()), tools=[tool])

    async def every_event() -> list[dict[str, Any]]:
        request = {"messages": [HumanMessage("draw, then edit")]}
        return [event async for event in agent.astream_events(request, version="v2")]

    events = asyncio.run(every_event())

    assert len(fake.requests) == 2
    assert [e["event"] for e in events].count("on_tool_end") == 2
    assert [e for e in events if _LONG_BASE64.search(_dumped(e))] == []
    inner_ends = [
        e for e in events if e["event"] == "on_chat_model_end" and e["name"] == "ChatNanoBanana"
    ]
    assert len(inner_ends) == 2
    assert all(e["data"]["output"].response_metadata["cost"] > 0 for e in inner_ends)


def test_in_full_mode_only_the_artifact_holds_the_bytes(fake: FakeOpenRouter) -> None:
    tool = NanoBananaImageTool(llm=fake.chat_model(), artifact_mode="full")
    handler = _EveryEvent()

    message = tool.invoke(
        {"type": "tool_call", "id": "c-full", "name": "generate_image", "args": {"prompt": "x"}},
        {"callbacks": [handler]},
    )

    assert _LONG_BASE64.search(message.artifact[0]["base64"])
    leaked = [name for name, event in handler.events if _LONG_BASE64.search(_dumped(event))]
    assert leaked == ["tool_end"], "the ToolMessage (with its artifact) is the tool's output"


def test_the_chat_model_alone_keeps_its_images_in_its_output(fake: FakeOpenRouter) -> None:
    handler = _EveryEvent()
    fake.chat_model().invoke("a banana", {"callbacks": [handler]})
    (end,) = [event for name, event in handler.events if name == "llm_end"]
    assert _LONG_BASE64.search(_dumped(end))


# -------------------------------------------------------------- pay once


def _tool_call_dict(prompt: str) -> dict[str, Any]:
    return _call(f"call_{uuid.uuid4().hex[:10]}", prompt=prompt)


def _call(call_id: str, **args: Any) -> dict[str, Any]:
    return {"type": "tool_call", "id": call_id, "name": "generate_image", "args": args}


def _as_user(user: str, thread: str = "t") -> RunnableConfig:
    return {"configurable": {"user_id": user, "thread_id": thread}}


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_the_same_tool_call_id_pays_once_and_returns_the_same_handle(
    fake: FakeOpenRouter, mode: str
) -> None:
    store = InMemoryByteStore()

    def invoke(tool: NanoBananaImageTool, call: dict[str, Any], config: RunnableConfig) -> Any:
        if mode == "sync":
            return tool.invoke(call, config)
        return asyncio.run(tool.ainvoke(call, config))

    first_worker = NanoBananaImageTool(llm=fake.chat_model(), store=store)
    second_worker = NanoBananaImageTool(llm=fake.chat_model(), store=store)
    first = invoke(first_worker, _call("call_a", prompt="a banana"), _as_user("alice"))
    again = invoke(second_worker, _call("call_a", prompt="a banana"), _as_user("alice"))

    assert len(fake.requests) == 1
    assert again.content == first.content
    assert again.artifact == first.artifact
    assert HANDLE_PATTERN.findall(again.content) == HANDLE_PATTERN.findall(first.content)

    other = invoke(first_worker, _call("call_b", prompt="a banana"), _as_user("alice"))
    assert len(fake.requests) == 2
    assert HANDLE_PATTERN.findall(other.content) != HANDLE_PATTERN.findall(first.content)

    # The same id in another scope is another call.
    invoke(first_worker, _call("call_a", prompt="a banana"), _as_user("bob"))
    assert len(fake.requests) == 3


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_failed_call_is_not_remembered_and_its_reservation_goes(
    fake: FakeOpenRouter, mode: str
) -> None:
    from langchain_nanobanana.testing import Outcome

    tool = NanoBananaImageTool(llm=fake.chat_model(), max_images=1)
    alice = _as_user("alice")

    def run(call: dict[str, Any]) -> ToolMessage:
        return (
            tool.invoke(call, alice) if mode == "sync" else asyncio.run(tool.ainvoke(call, alice))
        )

    fake.enqueue(Outcome.http_error(400))
    failed = run(_call("call_x", prompt="a"))
    retried = run(_call("call_x", prompt="a"))

    assert failed.status == "error"
    assert retried.status == "success"
    notes = _spending(tool, alice)
    assert [(note["state"], note["images"]) for note in notes] == [("spent", 1)]
    assert run(_call("call_y", prompt="a")).status == "error", "the one image is spent"
    assert len(fake.requests) == 2


def test_a_reservation_counts_until_its_call_ends_whatever_the_clocks(
    fake: FakeOpenRouter,
) -> None:
    """No clock decides whether another worker's reservation is live: one written by a
    worker whose clock is 31 minutes behind (or that died mid-call, and so may have
    been billed) counts until it is settled or released."""
    import time

    tool = NanoBananaImageTool(llm=fake.chat_model(), max_images=2)
    alice = _as_user("alice")
    images = tool.images_for(alice)
    kind = Budget(key=tool.name).kind(None)
    other = {"images": 1, "cost_usd": 0.0, "state": "reserved", "ticket": 1, "entry": "other"}
    images.write_note(kind, "other", {**other, "at": time.time() - 31 * 60})

    assert tool.invoke(_call("a", prompt="x"), alice).status == "success"
    refused = tool.invoke(_call("b", prompt="x"), alice)
    assert refused.status == "error"
    assert "is spent" in refused.content
    assert len(fake.requests) == 1


def test_a_graph_replay_of_the_same_tool_call_pays_once(fake: FakeOpenRouter) -> None:
    tool = NanoBananaImageTool(llm=fake.chat_model())
    graph_store = InMemoryStore()
    same_call = _tool_call({"prompt": "a"}, call_id="call_replayed")

    def run() -> dict[str, Any]:
        model = ScriptedAgentModel(turns=[same_call, lambda m: AIMessage("done")])
        agent = create_agent(model, tools=[tool], store=graph_store)
        return dict(agent.invoke({"messages": [HumanMessage("draw")]}, _as_user("alice")))

    first, second = run(), run()

    assert len(fake.requests) == 1
    assert first["messages"][2].content == second["messages"][2].content


# ----------------------------------------------------------------- budgets


def test_the_third_image_over_a_budget_of_two_is_refused_and_the_count_survives(
    fake: FakeOpenRouter,
) -> None:
    store = InMemoryStore()
    thread: RunnableConfig = {"configurable": {"thread_id": "thread-1"}}
    tool = NanoBananaImageTool(llm=fake.chat_model(), store=store, max_images=2)

    made = [tool.invoke(_call(f"c{n}", prompt="a"), thread) for n in range(2)]
    refused = tool.invoke(_call("c2", prompt="a"), thread)

    assert [m.status for m in made] == ["success", "success"]
    assert refused.status == "error"
    assert "the image budget for this user (2 images) is spent." in refused.content
    assert "Do not call generate_image again" in refused.content
    assert len(fake.requests) == 2

    restarted = NanoBananaImageTool(llm=fake.chat_model(), store=store, max_images=2)
    assert restarted.invoke(_call("c3", prompt="a"), thread).status == "error"
    assert len(fake.requests) == 2
    other_thread = {"configurable": {"thread_id": "thread-2"}}
    assert restarted.invoke(_call("c4", prompt="a"), other_thread).status == "success"


def test_a_budget_per_thread_counts_each_conversation_of_a_user(fake: FakeOpenRouter) -> None:
    tool = NanoBananaImageTool(llm=fake.chat_model(), max_images=1, budget_per="thread")
    assert tool.invoke(_call("a", prompt="x"), _as_user("alice", "t1")).status == "success"
    assert tool.invoke(_call("b", prompt="x"), _as_user("alice", "t1")).status == "error"
    assert tool.invoke(_call("c", prompt="x"), _as_user("alice", "t2")).status == "success"
    assert len(fake.requests) == 2


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_cost_budget_counts_what_openrouter_reported(
    fake: FakeOpenRouter, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No estimate: what is counted can only be the cost the answer reported.
    monkeypatch.setattr(NanoBananaImageTool, "_estimate", lambda self, n: 0.0)
    tool = NanoBananaImageTool(llm=fake.chat_model(), max_cost_usd=0.05)
    alice = _as_user("alice")

    def run(call: dict[str, Any]) -> ToolMessage:
        return (
            tool.invoke(call, alice) if mode == "sync" else asyncio.run(tool.ainvoke(call, alice))
        )

    first = run(_call("a", prompt="x"))
    (spent,) = _spending(tool, alice)
    assert first.status == "success"
    assert spent["cost_usd"] == pytest.approx(0.039, abs=0.002)  # 1290 image tokens at $30/M

    assert run(_call("b", prompt="x")).status == "success"  # $0.039 spent, under $0.05
    third = run(_call("c", prompt="x"))
    assert third.status == "error"
    assert "$0.05" in third.content
    assert len(fake.requests) == 2


def test_a_budget_spent_to_the_cent_is_not_over() -> None:
    spent = {"cost_usd": 0.06, "images": 1, "state": "spent", "ticket": 1, "entry": "a"}
    mine = {"cost_usd": 0.04, "images": 1, "state": "reserved", "ticket": 2, "entry": "b"}
    assert Budget(max_cost_usd=0.10).refusal([spent, mine], mine) is None  # 0.06 + 0.04
    assert Budget(max_images=2).refusal([spent, mine], mine) is None
    over = {**mine, "cost_usd": 0.05}
    assert Budget(max_cost_usd=0.10).refusal([spent, over], over) is not None


def test_a_call_for_several_images_reserves_them_all(fake: FakeOpenRouter) -> None:
    tool = NanoBananaImageTool(llm=fake.chat_model(), max_images=3)
    assert tool.invoke(_call("a", prompt="x", n=2), _as_user("alice")).status == "success"
    assert tool.invoke(_call("b", prompt="x", n=2), _as_user("alice")).status == "error"
    assert tool.invoke(_call("c", prompt="x"), _as_user("alice")).status == "success"
    assert len(fake.requests) == 3


# ---------------------------------------------------------------- progress


def test_custom_stream_events_show_a_generation_start_beat_and_end() -> None:
    fake = FakeOpenRouter(latency=0.35)
    tool = NanoBananaImageTool(llm=fake.chat_model(), progress_every_s=0.1)
    agent = create_agent(
        ScriptedAgentModel(
            turns=[_tool_call({"prompt": "a dish"}, "call_p"), lambda m: AIMessage("ok")]
        ),
        tools=[tool],
    )

    events = [
        chunk
        for chunk in agent.stream({"messages": [HumanMessage("draw")]}, stream_mode="custom")
        if isinstance(chunk, dict) and chunk.get("kind") == KIND
    ]

    kinds = [event["event"] for event in events]
    assert kinds[0] == "started" and kinds[-1] == "done"
    assert "heartbeat" in kinds
    assert events[0]["prompt"] == "a dish" and events[0]["tool_call_id"] == "call_p"
    (image,) = events[-1]["images"]
    assert HANDLE_PATTERN.fullmatch(image["handle"])
    assert (image["width"], image["height"]) == (1024, 1024)
    assert events[-1]["elapsed_s"] >= 0.3


def test_async_stream_events_beat_too() -> None:
    fake = FakeOpenRouter(latency=0.35)
    tool = NanoBananaImageTool(llm=fake.chat_model(), progress_every_s=0.1)
    agent = create_agent(
        ScriptedAgentModel(
            turns=[_tool_call({"prompt": "a dish"}, "call_q"), lambda m: AIMessage("ok")]
        ),
        tools=[tool],
    )

    async def custom_events() -> list[Any]:
        stream = agent.astream({"messages": [HumanMessage("draw")]}, stream_mode="custom")
        return [chunk async for chunk in stream]

    kinds = [event["event"] for event in asyncio.run(custom_events())]

    assert kinds[0] == "started" and kinds[-1] == "done"
    assert "heartbeat" in kinds


def test_a_failed_generation_sends_a_failed_event(fake: FakeOpenRouter) -> None:
    from langchain_nanobanana.testing import Outcome

    fake.enqueue(Outcome.http_error(400))
    tool = NanoBananaImageTool(llm=fake.chat_model())
    agent = create_agent(
        ScriptedAgentModel(turns=[_tool_call({"prompt": "a"}), lambda m: AIMessage("ok")]),
        tools=[tool],
    )

    async def custom_events() -> list[Any]:
        stream = agent.astream({"messages": [HumanMessage("draw")]}, stream_mode="custom")
        return [chunk async for chunk in stream]

    kinds = [event["event"] for event in asyncio.run(custom_events())]
    assert kinds == ["started", "failed"]


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_writer_that_fails_never_fails_the_call(mode: str) -> None:
    """Progress is best effort: a stream writer that raises (its stream closed) costs the
    events, never the image being paid for; it is not called again after failing."""
    from types import SimpleNamespace

    fake = FakeOpenRouter(latency=0.3)
    tool = NanoBananaImageTool(llm=fake.chat_model(), progress_every_s=0.05)
    calls: list[Any] = []

    def closed_stream(event: Any) -> None:
        calls.append(event)
        raise RuntimeError("the stream is closed")

    runtime = SimpleNamespace(stream_writer=closed_stream, store=None, tool_call_id="call_w")
    call = {
        "type": "tool_call",
        "id": "call_w",
        "name": "generate_image",
        "args": {"prompt": "a dish", "runtime": runtime},
    }

    result = tool.invoke(call) if mode == "sync" else asyncio.run(tool.ainvoke(call))

    assert result.status == "success"
    assert HANDLE_PATTERN.fullmatch(result.artifact[0]["id"])
    assert [event["event"] for event in calls] == ["started"]
    assert len(fake.requests) == 1


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_replayed_call_whose_image_is_gone_still_answers_and_sends_nothing(
    fake: FakeOpenRouter, mode: str
) -> None:
    pytest.importorskip("obstore")
    from obstore.store import MemoryStore

    from langchain_nanobanana.object_store import ObjectImageStore

    tool = NanoBananaImageTool(
        llm=fake.chat_model(),
        store=ObjectImageStore(MemoryStore(), public_url="https://cdn.example.com/"),
        artifact_mode="url",
    )
    first = tool.invoke(_call("call_gone", prompt="a"), _as_user("alice"))
    tool.images_for(_as_user("alice")).delete(first.artifact[0]["id"])

    call = _call("call_gone", prompt="a")
    if mode == "sync":
        again = tool.invoke(call, _as_user("alice"))
    else:
        again = asyncio.run(tool.ainvoke(call, _as_user("alice")))

    assert again.content == first.content
    assert again.artifact == []
    assert len(fake.requests) == 1


def test_a_reused_id_in_another_thread_or_for_another_prompt_is_a_new_call(
    fake: FakeOpenRouter,
) -> None:
    tool = NanoBananaImageTool(llm=fake.chat_model())
    first = tool.invoke(_call("call_0", prompt="a red banana"), _as_user("alice", "t1"))
    other_thread = tool.invoke(_call("call_0", prompt="a red banana"), _as_user("alice", "t2"))
    other_prompt = tool.invoke(_call("call_0", prompt="a blue whale"), _as_user("alice", "t1"))

    assert len(fake.requests) == 3
    handles = {HANDLE_PATTERN.findall(m.content)[-1] for m in (first, other_thread, other_prompt)}
    assert len(handles) == 3
    assert fake.requests[2].body["messages"][-1]["content"] == [
        {"type": "text", "text": "a blue whale"}
    ]
    # Every argument is part of what a call asks for.
    source = HANDLE_PATTERN.findall(first.content)[-1]
    for changed in ({"image_ids": [source]}, {"aspect_ratio": "16:9"}, {"n": 2}):
        before = len(fake.requests)
        tool.invoke(_call("call_0", prompt="a red banana", **changed), _as_user("alice", "t1"))
        assert len(fake.requests) > before, f"{changed} makes a new call"


def test_a_retry_after_a_paid_failure_keeps_both_costs(fake: FakeOpenRouter) -> None:
    from langchain_nanobanana.testing import Outcome

    tool = NanoBananaImageTool(llm=fake.chat_model(), max_cost_usd=10)
    # A blocked image is billed nothing (recorded); this failure is scripted as billed.
    billed = Outcome.no_image(finish_reason="stop", native_finish_reason="IMAGE_SAFETY", cost=0.01)
    fake.enqueue(billed)
    refused = tool.invoke(_call("call_1", prompt="a"), _as_user("alice"))
    made = tool.invoke(_call("call_1", prompt="a"), _as_user("alice"))

    assert (refused.status, made.status) == ("error", "success")
    spent = _spending(tool, _as_user("alice"))
    assert sorted(entry["images"] for entry in spent) == [0, 1]
    assert all(entry["cost_usd"] > 0 for entry in spent)


def test_a_call_for_more_than_is_left_says_how_many_are(fake: FakeOpenRouter) -> None:
    tool = NanoBananaImageTool(llm=fake.chat_model(), max_images=3)
    asked = tool.invoke(_call("a", prompt="x", n=4), _as_user("alice"))
    assert asked.status == "error"
    assert asked.content == (
        "This call asked for 4 images, but the image budget for this user (3 images) has "
        "room for 3 more images. Call again with n=3 or fewer, or tell the user."
    )
    assert fake.requests == []


def test_redact_images_keeps_a_urls_address_but_not_its_signature() -> None:
    from langchain_nanobanana.images import redact_images

    signed = "https://bucket.example.com/nanobanana/s1/img_1?X-Amz-Signature=abc&X-Amz-Expires=3600"
    blocks = [
        {"type": "image", "url": signed, "mime_type": "image/png"},
        {"type": "image_url", "image_url": {"url": signed}},
        {"type": "image_url", "image_url": signed},
        {"type": "image", "url": "https://cdn.example.com/a.png"},
    ]
    shown = redact_images(blocks)
    assert "X-Amz-Signature" not in json.dumps(shown)
    assert shown[0]["url"] == (
        "https://bucket.example.com/nanobanana/s1/img_1?(signature left out of traces)"
    )
    assert shown[3] == blocks[3]


def test_an_id_that_is_image_data_is_not_echoed_back(fake: FakeOpenRouter) -> None:
    tool = NanoBananaImageTool(llm=fake.chat_model())
    pasted = "data:image/png;base64," + "A" * 30_000
    answer = tool.invoke(_call("c", prompt="edit", image_ids=[pasted]))
    assert answer.status == "error"
    assert len(answer.content) < 400
    assert "Image data is not accepted here" in answer.content
