"""Refusals: what a blocked answer looks like, on every path and on every supported core.

A refused answer (a provider filter withheld it) ends with langchain-core's standard
refusal block, the same from ``invoke``, ``ainvoke`` and the sum of ``stream`` /
``astream``; structured output raises ``ModelRefusalError``. Cores before 1.7.5 have
neither name: the block then arrives wrapped in a ``non_standard`` block, and
structured output raises ``OutputParserException``. The ``older_core`` fixture walks
that path on a new core; on an old core the same tests run as they are.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from langchain_core.exceptions import OutputParserException
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage
from pydantic import BaseModel

from langchain_nanobanana import ChatNanoBanana
from langchain_nanobanana._openrouter import refusals as _refusals
from langchain_nanobanana._openrouter.assembler import summed
from langchain_nanobanana.testing import FakeOpenRouter, Outcome

NEW_CORE = _refusals.core_knows_refusals()
needs_new_core = pytest.mark.skipif(not NEW_CORE, reason="langchain-core < 1.7.5")

SAID = "I can't draw that."

# native_finish_reason, finish_reason, the refusal text the block carries
REFUSALS = [
    ("SAFETY", "stop", "The provider's safety filter blocked the answer (SAFETY)."),
    (
        "PROHIBITED_CONTENT",
        "content_filter",
        "The request asks for content the provider prohibits (PROHIBITED_CONTENT).",
    ),
    ("IMAGE_SAFETY", "stop", "The provider's safety filter blocked the picture (IMAGE_SAFETY)."),
    (
        "IMAGE_SAFETY",
        "content_filter",
        "The provider's safety filter blocked the picture (IMAGE_SAFETY).",
    ),
    (
        "IMAGE_PROHIBITED_CONTENT",
        "stop",
        "The picture would show content the provider prohibits (IMAGE_PROHIBITED_CONTENT).",
    ),
    (
        "IMAGE_RECITATION",
        "stop",
        "The picture came too close to existing, possibly copyrighted work (IMAGE_RECITATION).",
    ),
    (
        "RECITATION",
        "stop",
        "The answer came too close to existing, possibly copyrighted material (RECITATION).",
    ),
    ("BLOCKLIST", "stop", "The request contains terms the provider blocks (BLOCKLIST)."),
    ("SPII", "stop", "The answer would contain sensitive personal information (SPII)."),
    # Gemini's image-generation reasons: it made no picture and said so.
    ("NO_IMAGE", "stop", "The model answered without making a picture (NO_IMAGE)."),
    (
        "IMAGE_OTHER",
        "stop",
        "The picture could not be made, for a reason the provider did not give (IMAGE_OTHER).",
    ),
    # OpenRouter's content_filter is a refusal whatever the native reason says.
    ("OTHER", "content_filter", "A content filter blocked the answer (content_filter)."),
    # A filter Gemini adds later is still recognised by its name.
    ("IMAGE_BLOCKLIST", "stop", "A provider filter blocked the answer (IMAGE_BLOCKLIST)."),
]

# No image, but nothing was withheld: a clearer prompt, a retry or a setting fixes these.
NOT_REFUSALS = [
    ("OTHER", "stop"),
    ("MAX_TOKENS", "length"),
    ("STOP", "stop"),
    ("LANGUAGE", "stop"),
]


@pytest.fixture
def older_core(monkeypatch: pytest.MonkeyPatch) -> None:
    """A langchain-core without refusal blocks (before 1.7.5), whichever is installed."""
    monkeypatch.setattr(_refusals, "core_knows_refusals", lambda: False)


def _refusal(text: str, finish: str, native: str, index: int = 1) -> dict[str, Any]:
    return {
        "type": "refusal",
        "refusal": text,
        "extras": {"finish_reason": finish, "native_finish_reason": native},
        "index": index,
    }


def _wrapped(block: dict[str, Any]) -> dict[str, Any]:
    """The block as a core before 1.7.5 carries it."""
    inner = {key: value for key, value in block.items() if key != "index"}
    return {"type": "non_standard", "value": inner, "index": block["index"]}


def _four_ways(fake: FakeOpenRouter, llm: ChatNanoBanana, outcome: Outcome) -> list[AIMessage]:
    """The same scripted answer through invoke, stream, ainvoke and astream."""

    async def asynchronously() -> tuple[AIMessage, AIMessageChunk]:
        answer = await llm.ainvoke("a banana")
        fake.enqueue(outcome)
        return answer, summed([chunk async for chunk in llm.astream("a banana")])

    fake.enqueue(outcome)
    invoked = llm.invoke("a banana")
    fake.enqueue(outcome)
    streamed = summed(list(llm.stream("a banana")))
    fake.enqueue(outcome)
    ainvoked, astreamed = asyncio.run(asynchronously())
    return [invoked, streamed, ainvoked, astreamed]


# ---------------------------------------------------------------- the standard block


@needs_new_core
@pytest.mark.parametrize(("native", "finish", "text"), REFUSALS)
def test_a_refusal_ends_with_the_standard_block_the_same_on_every_path(
    fake: FakeOpenRouter, native: str, finish: str, text: str
) -> None:
    outcome = Outcome.no_image(native, SAID, finish_reason=finish)
    expected = [{"type": "text", "text": SAID, "index": 0}, _refusal(text, finish, native)]

    for message in _four_ways(fake, fake.chat_model(), outcome):
        assert message.content == expected
        assert message.content_blocks == expected
        assert message.text == SAID, "the refusal is not text the model said"
        assert message.response_metadata["native_finish_reason"] == native
        assert message.response_metadata["finish_reason"] == finish


@pytest.mark.parametrize(("native", "finish"), NOT_REFUSALS)
def test_no_image_without_a_refusal_has_no_refusal_block(
    fake: FakeOpenRouter, native: str, finish: str
) -> None:
    outcome = Outcome.no_image(native, "Here you go.", finish_reason=finish)

    for message in _four_ways(fake, fake.chat_model(), outcome):
        assert message.content == [{"type": "text", "text": "Here you go.", "index": 0}]
        assert _refusals.refusal_in(message) is None
        assert message.response_metadata["native_finish_reason"] == native


def test_an_answer_with_its_image_has_no_refusal_block(fake: FakeOpenRouter) -> None:
    for message in _four_ways(fake, fake.chat_model(), Outcome.answer()):
        assert [block["type"] for block in message.content_blocks] == ["text", "image"]


@needs_new_core
def test_the_providers_own_refusal_text_is_the_blocks_text(fake: FakeOpenRouter) -> None:
    stated = "I can't help with that request."
    outcome = Outcome.no_image("STOP", "", refusal=stated)

    for message in _four_ways(fake, fake.chat_model(), outcome):
        assert message.content == [_refusal(stated, "stop", "STOP", index=0)]
        assert message.additional_kwargs["refusal"] == stated, "what the wire said is kept"


@needs_new_core
def test_structured_output_raises_model_refusal_error(fake: FakeOpenRouter) -> None:
    from langchain_core.exceptions import ModelRefusalError

    class Joke(BaseModel):
        setup: str

    structured = fake.chat_model().with_structured_output(Joke)
    fake.enqueue(Outcome.no_image("SAFETY", ""))
    with pytest.raises(ModelRefusalError, match=r"blocked the answer \(SAFETY\)") as refused:
        structured.invoke("a joke")
    assert refused.value.raw_message is not None
    assert _refusals.refusal_in(refused.value.raw_message) is not None

    fake.enqueue(Outcome.no_image("SAFETY", ""))
    with pytest.raises(ModelRefusalError):
        list(structured.stream("a joke"))

    fake.enqueue(Outcome.no_image("SAFETY", ""))
    with_raw = fake.chat_model().with_structured_output(Joke, include_raw=True).invoke("a joke")
    assert with_raw["parsed"] is None
    assert isinstance(with_raw["parsing_error"], ModelRefusalError)


@pytest.mark.parametrize("core", ["installed", "older"])
def test_a_refused_answer_in_the_history_is_sent_without_its_refusal(
    fake: FakeOpenRouter, core: str, request: pytest.FixtureRequest
) -> None:
    if core == "older":  # the refusal travels wrapped in a non_standard block there
        request.getfixturevalue("older_core")
    llm = fake.chat_model()
    fake.enqueue(Outcome.no_image("IMAGE_SAFETY", SAID))
    refused = llm.invoke("a banana")
    wrapped = core == "older" or not NEW_CORE
    assert refused.content[-1]["type"] == ("non_standard" if wrapped else "refusal")

    llm.invoke([HumanMessage("a banana"), refused, HumanMessage("a pear, then")])

    assert fake.requests[-1].body["messages"] == [
        {"role": "user", "content": "a banana"},
        {"role": "assistant", "content": SAID},
        {"role": "user", "content": "a pear, then"},
    ]


def test_the_image_api_reports_no_finish_reason_so_an_empty_answer_is_no_refusal(
    fake: FakeOpenRouter,
) -> None:
    # The Image API has no finish reasons: moderation is a 403 (an exception) and a
    # failed generation a 502; an answer with no image in it is just that.
    llm = fake.chat_model(model="google/gemini-2.5-flash-image", endpoint="images")
    for message in _four_ways(fake, llm, Outcome.no_image()):
        assert message.content == []
        assert "finish_reason" not in message.response_metadata


# ---------------------------------------------------------------- cores before 1.7.5


@pytest.mark.usefixtures("older_core")
@pytest.mark.parametrize(("native", "finish", "text"), REFUSALS)
def test_on_an_older_core_the_refusal_travels_as_non_standard_the_same_on_every_path(
    fake: FakeOpenRouter, native: str, finish: str, text: str
) -> None:
    outcome = Outcome.no_image(native, SAID, finish_reason=finish)
    refusal = _wrapped(_refusal(text, finish, native))

    for message in _four_ways(fake, fake.chat_model(), outcome):
        assert message.content == [{"type": "text", "text": SAID, "index": 0}, refusal]
        assert _refusals.refusal_in(message) == refusal["value"]
        assert message.response_metadata["native_finish_reason"] == native


@pytest.mark.usefixtures("older_core")
def test_on_an_older_core_structured_output_raises_a_parser_error_naming_the_refusal(
    fake: FakeOpenRouter,
) -> None:
    structured = fake.chat_model().with_structured_output({"title": "Joke", "type": "object"})
    fake.enqueue(Outcome.no_image("IMAGE_RECITATION", ""))
    with pytest.raises(
        OutputParserException,
        match=r"refused .*: The picture came too close to existing, possibly copyrighted work",
    ):
        structured.invoke("a joke")
