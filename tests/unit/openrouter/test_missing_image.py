"""No image came back: the sentence the agent reads (and the command prints) says why and
what to do differently, for every finish reason, through the tool as an agent calls it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from langchain_core.messages import ToolMessage

from langchain_nanobanana import NanoBananaImageTool
from langchain_nanobanana._openrouter.no_image import MissingImage
from langchain_nanobanana.testing import FakeOpenRouter, Outcome

_NO_IMAGE = "The image model returned no image (finish reason "
_REPHRASE = (
    "Rephrase the prompt without the content the filter objects to; the same prompt will be "
    "blocked again."
)
_ORIGINAL = (
    "Describe something original instead of a known character, artwork, logo, brand or photo."
)
_ASK = (
    "Ask explicitly for a picture, e.g. start the prompt with 'Generate an image of', and say "
    "what it should show."
)
_RETRY = "Try once more; if it fails again, simplify or rephrase the prompt."

# native_finish_reason, finish_reason, what the model said, the whole sentence
SENTENCES = [
    (
        "SAFETY",
        "content_filter",
        "",
        f"{_NO_IMAGE}SAFETY): the provider's safety filter blocked the answer. {_REPHRASE}",
    ),
    (
        "PROHIBITED_CONTENT",
        "stop",
        "",
        f"{_NO_IMAGE}PROHIBITED_CONTENT): the request asks for content the provider prohibits. "
        "Ask for something without that content: rewording will not get it past the filter.",
    ),
    (
        "IMAGE_SAFETY",
        "stop",
        "I can't draw that.",
        f"{_NO_IMAGE}IMAGE_SAFETY): the provider's safety filter blocked the picture. "
        f'It said: "I can\'t draw that." {_REPHRASE}',
    ),
    (
        "IMAGE_PROHIBITED_CONTENT",
        "stop",
        "",
        f"{_NO_IMAGE}IMAGE_PROHIBITED_CONTENT): the picture would show content the provider "
        "prohibits. Describe a picture without that content; the same request will be blocked "
        "again.",
    ),
    (
        "IMAGE_RECITATION",
        "stop",
        "",
        f"{_NO_IMAGE}IMAGE_RECITATION): the picture came too close to existing, possibly "
        f"copyrighted work. {_ORIGINAL}",
    ),
    (
        "IMAGE_OTHER",
        "stop",
        "",
        f"{_NO_IMAGE}IMAGE_OTHER): the picture could not be made, for a reason the provider did "
        f"not give. {_RETRY}",
    ),
    (
        "NO_IMAGE",
        "stop",
        "Here is a description instead.",
        f"{_NO_IMAGE}NO_IMAGE): the model answered without making a picture. "
        f'It said: "Here is a description instead." {_ASK}',
    ),
    (
        "OTHER",
        "stop",
        "",
        f"{_NO_IMAGE}OTHER): the provider stopped for a reason it did not name. {_RETRY}",
    ),
    (
        "MAX_TOKENS",
        "length",
        "",
        f"{_NO_IMAGE}MAX_TOKENS): the answer reached its max_tokens limit before the picture "
        "was made. Retrying will not help: max_tokens is set too low for an image; tell the "
        "user it must be raised or left unset.",
    ),
    (
        "STOP",
        "stop",
        "A banana is a fruit.",
        f'{_NO_IMAGE}STOP): the model replied with text only. It said: "A banana is a fruit." '
        f"{_ASK}",
    ),
]


def _call(prompt: str) -> dict[str, Any]:
    return {
        "type": "tool_call",
        "id": "call_1",
        "name": "generate_image",
        "args": {"prompt": prompt},
    }


@pytest.mark.parametrize(("native", "finish", "said", "sentence"), SENTENCES)
def test_the_tool_says_why_and_what_to_do_differently(
    fake: FakeOpenRouter, native: str, finish: str, said: str, sentence: str
) -> None:
    tool = NanoBananaImageTool(llm=fake.chat_model())
    outcome = Outcome.no_image(native, said, finish_reason=finish)

    fake.enqueue(outcome)
    message = tool.invoke(_call("a banana"))
    fake.enqueue(outcome)
    amessage = asyncio.run(tool.ainvoke(_call("a banana")))

    for answer in (message, amessage):
        assert isinstance(answer, ToolMessage)
        assert answer.status == "error"
        assert answer.content == sentence


def test_a_max_tokens_too_low_for_an_image_says_so() -> None:
    # The emulator, like the service, stops at max_tokens before the picture.
    tool = NanoBananaImageTool(llm=FakeOpenRouter(reply_text="").chat_model(max_tokens=50))
    message = tool.invoke(_call("a banana"))
    assert isinstance(message, ToolMessage)
    assert message.status == "error"
    assert str(message.content).startswith(f"{_NO_IMAGE}MAX_TOKENS): the answer reached")


def test_the_providers_refusal_text_is_quoted_when_the_model_wrote_nothing(
    fake: FakeOpenRouter,
) -> None:
    tool = NanoBananaImageTool(llm=fake.chat_model())
    fake.enqueue(Outcome.no_image("STOP", "", refusal="I can't help with that."))
    message = tool.invoke(_call("a banana"))
    assert 'It said: "I can\'t help with that."' in str(message.content)


def test_without_any_finish_reason_the_sentence_says_it_is_unknown() -> None:
    assert MissingImage(None, None, "").sentence() == (
        f"{_NO_IMAGE}unknown): the provider did not say why. Try again or rephrase the prompt."
    )
