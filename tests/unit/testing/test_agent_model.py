"""ScriptedAgentModel: a script per conversation, or a route; what it remembers is bounded."""

from __future__ import annotations

import asyncio

import pytest
from langchain.agents import create_agent
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langgraph.checkpoint.memory import InMemorySaver

from langchain_nanobanana.testing import ScriptedAgentModel
from langchain_nanobanana.testing._agent_model import _CONVERSATIONS_KEPT


def _said(messages: list[BaseMessage]) -> AIMessage:
    return AIMessage(f"you said {messages[-1].text}")


def _thread(name: str) -> dict[str, dict[str, str]]:
    return {"configurable": {"thread_id": name}}


def test_each_thread_plays_the_script_from_its_start_and_goes_on_in_its_next_run() -> None:
    model = ScriptedAgentModel(turns=[AIMessage("first"), AIMessage("second")])
    agent = create_agent(model, tools=[], checkpointer=InMemorySaver())

    for name in ("t1", "t2", "t3"):
        answer = agent.invoke({"messages": [HumanMessage("hi")]}, _thread(name))
        assert answer["messages"][-1].content == "first"
    again = agent.invoke({"messages": [HumanMessage("more")]}, _thread("t2"))
    assert [m.content for m in again["messages"] if isinstance(m, AIMessage)] == ["first", "second"]
    with pytest.raises(IndexError, match="thread:t2"):
        agent.invoke({"messages": [HumanMessage("and more")]}, _thread("t2"))


async def test_concurrent_threads_do_not_share_a_place_in_the_script() -> None:
    model = ScriptedAgentModel(turns=[_said])
    agent = create_agent(model, tools=[], checkpointer=InMemorySaver())

    answers = await asyncio.gather(
        *[agent.ainvoke({"messages": [HumanMessage(f"n{n}")]}, _thread(f"c{n}")) for n in range(8)]
    )
    assert [a["messages"][-1].content for a in answers] == [f"you said n{n}" for n in range(8)]


def test_a_new_model_on_a_resumed_thread_starts_its_own_script_there() -> None:
    saver = InMemorySaver()
    first = create_agent(ScriptedAgentModel(turns=[AIMessage("a")]), tools=[], checkpointer=saver)
    first.invoke({"messages": [HumanMessage("hi")]}, _thread("t"))
    later = create_agent(ScriptedAgentModel(turns=[_said]), tools=[], checkpointer=saver)
    answer = later.invoke({"messages": [HumanMessage("again")]}, _thread("t"))
    assert answer["messages"][-1].content == "you said again"


def test_a_route_answers_every_call_and_the_model_remembers_only_the_latest() -> None:
    model = ScriptedAgentModel(route=_said, keep_seen=3)
    for n in range(10):
        assert model.invoke([HumanMessage(f"m{n}")]).content == f"you said m{n}"
    assert [seen[-1].content for seen in model.seen] == ["m7", "m8", "m9"]


def test_the_places_of_many_conversations_are_forgotten_oldest_first() -> None:
    model = ScriptedAgentModel(turns=[AIMessage("only")])
    for n in range(_CONVERSATIONS_KEPT + 50):
        model.invoke([HumanMessage("hi", id=f"conversation-{n}")])
    assert len(model._starts) == _CONVERSATIONS_KEPT
    assert "message:conversation-0" not in model._starts


def test_a_script_is_turns_or_a_route_not_both_nor_neither() -> None:
    with pytest.raises(ValueError, match="either turns"):
        ScriptedAgentModel(turns=[AIMessage("a")], route=_said)
    with pytest.raises(ValueError, match="either turns"):
        ScriptedAgentModel()
