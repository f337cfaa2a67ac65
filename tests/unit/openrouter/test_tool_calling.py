"""Tool calls from image models: kept in the message (invoke and stream alike), bound only
where OpenRouter lists tool use for the model."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from langchain_core.messages import HumanMessage, ToolMessage
from pydantic import BaseModel, Field

from langchain_nanobanana import ChatNanoBanana, images_from
from langchain_nanobanana._catalog.models import KNOWN_MODELS
from langchain_nanobanana.errors import OpenRouterNotFoundError
from langchain_nanobanana.testing import FakeOpenRouter, Outcome
from tests.support import TEST_KEY
from tests.support.modes import MODES, run

TOOL_MODEL = "openai/gpt-5-image-mini"


class PaintColor(BaseModel):
    """Look up the paint colour to use for an object."""

    thing: str = Field(description="what is painted")


@pytest.mark.parametrize("mode", MODES)
def test_tool_calls_are_kept_whole_and_streamed(
    base_url: str, fake: FakeOpenRouter, mode: str
) -> None:
    llm = ChatNanoBanana(api_key=TEST_KEY, base_url=base_url, model=TOOL_MODEL)
    bound = llm.bind_tools([PaintColor])

    message = run(bound, mode, "paint the banana")

    (call,) = message.tool_calls
    assert (call["name"], call["args"]) == ("PaintColor", {"thing": "banana"})
    assert call["id"] and call["id"].startswith("call_")
    assert message.invalid_tool_calls == []
    assert images_from(message) == [], "it called a tool instead of drawing"
    metadata = message.response_metadata
    assert (metadata["finish_reason"], metadata["native_finish_reason"]) == (
        "tool_calls",
        "completed",
    )
    assert metadata["provider"] == "OpenAI"
    details = message.additional_kwargs["reasoning_details"]
    assert {detail["format"] for detail in details} == {"openai-responses-v1"}
    (request,) = [r for r in fake.requests if r.method == "POST"]
    assert request.body["tools"][0]["function"]["name"] == "PaintColor"
    assert request.body["tools"][0]["function"]["parameters"]["required"] == ["thing"]


def test_stream_and_invoke_give_the_same_tool_call(fake: FakeOpenRouter) -> None:
    llm = fake.chat_model(model=TOOL_MODEL).bind_tools([PaintColor], tool_choice="PaintColor")
    whole = llm.invoke("paint the banana")
    chunks = list(llm.stream("paint the banana"))
    assert len([c for c in chunks if c.tool_call_chunks]) == 2, "id and name, then arguments"
    assert whole.tool_calls == run(llm, "stream", "paint the banana").tool_calls
    sent = fake.requests[-1].body
    assert sent["tool_choice"] == {"type": "function", "function": {"name": "PaintColor"}}


def test_the_tool_result_goes_back_and_the_model_answers(fake: FakeOpenRouter) -> None:
    llm = fake.chat_model(model=TOOL_MODEL).bind_tools([PaintColor])
    asked = llm.invoke("paint the banana")
    (call,) = asked.tool_calls
    answer = llm.invoke(
        [HumanMessage("paint the banana"), asked, ToolMessage("yellow", tool_call_id=call["id"])]
    )

    assert answer.tool_calls == []
    assert len(images_from(answer)) == 1
    assistant, tool = fake.requests[-1].body["messages"][1:]
    assert assistant["content"] is None, "as recorded: a turn that only called tools"
    assert assistant["tool_calls"] == [
        {
            "id": call["id"],
            "type": "function",
            "function": {"name": "PaintColor", "arguments": json.dumps(call["args"])},
        }
    ]
    assert assistant["reasoning_details"] == asked.additional_kwargs["reasoning_details"]
    assert tool == {"role": "tool", "content": "yellow", "tool_call_id": call["id"]}


@pytest.mark.parametrize(
    ("model", "endpoint"),
    [
        ("google/gemini-2.5-flash-image", None),
        ("google/gemini-3.1-flash-lite-image", None),
        (TOOL_MODEL, "images"),
    ],
)
def test_tools_are_refused_where_openrouter_lists_no_tool_use(
    fake: FakeOpenRouter, model: str, endpoint: str | None
) -> None:
    with pytest.raises(NotImplementedError, match=r"does not call tools|chat endpoint only"):
        fake.chat_model(model=model, endpoint=endpoint).bind_tools([PaintColor])
    assert fake.requests == []


def test_a_call_that_switches_to_a_model_without_tools_is_refused_before_sending(
    fake: FakeOpenRouter,
) -> None:
    bound = fake.chat_model(model=TOOL_MODEL).bind_tools([PaintColor])
    with pytest.raises(NotImplementedError, match=r"'google/gemini-2\.5-flash-image' does not"):
        bound.invoke("x", model="google/gemini-2.5-flash-image")
    assert not [r for r in fake.requests if r.method == "POST"]


def test_a_model_the_catalog_lacks_is_bound_by_what_openrouter_lists() -> None:
    listed_with = replace(KNOWN_MODELS[TOOL_MODEL], id="acme/tool-image")
    listed_without = replace(KNOWN_MODELS["google/gemini-2.5-flash-image"], id="acme/plain-image")
    fake = FakeOpenRouter(models=[listed_with, listed_without])

    message = fake.chat_model(model="acme/tool-image").bind_tools([PaintColor]).invoke("x")
    assert [call["name"] for call in message.tool_calls] == ["PaintColor"]
    with pytest.raises(NotImplementedError, match="OpenRouter does not list tool use"):
        fake.chat_model(model="acme/plain-image").bind_tools([PaintColor])


def test_the_servers_no_tool_use_answer_becomes_a_clear_error(fake: FakeOpenRouter) -> None:
    fake.enqueue(Outcome.http_error(404, "No endpoints found that support tool use"))
    with pytest.raises(OpenRouterNotFoundError, match="No provider of this model calls tools"):
        fake.chat_model(model=TOOL_MODEL).bind_tools([PaintColor]).invoke("x")


def test_an_unknown_tool_choice_is_refused(fake: FakeOpenRouter) -> None:
    with pytest.raises(ValueError, match="names no bound tool"):
        fake.chat_model(model=TOOL_MODEL).bind_tools([PaintColor], tool_choice="Nope")
