"""Answers recorded from live OpenRouter traffic, replayed through the package over loopback.

Each fixture of the shared set (``../shared/recorded``) and of ``tests/recorded`` is served
by ``FakeOpenRouter.replay`` and read by ChatNanoBanana the ways a user reads it (invoke,
ainvoke, stream, astream; the Image API where the recording came from there). What a user
sees is asserted: the image and its pixel size, the text, usage, cost, finish reasons,
tool calls, the error type. A fixture without an expected outcome here fails, so every
new recording gets one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage

from langchain_nanobanana import ChatNanoBanana, images_from
from langchain_nanobanana.errors import (
    OpenRouterAPIError,
    OpenRouterError,
    OpenRouterInsufficientCreditsError,
    OpenRouterInvalidRequestError,
    OpenRouterRateLimitError,
)
from langchain_nanobanana.testing import FakeOpenRouter
from tests.support import TEST_KEY
from tests.support.modes import run
from tests.support.recorded import OWN, SHARED, Recording, isolated, recordings, require_shared


@dataclass(frozen=True)
class Expected:
    """What a user sees when the recording answers."""

    model: str
    endpoint: str | None = None
    image: tuple[int, int] | None = None
    """Pixel size of the one image; None: no image."""
    text: str = ""
    usage: tuple[int, int, int] | None = None
    """input, output, total tokens."""
    details: dict[str, int] = field(default_factory=dict)
    """usage_metadata's output_token_details."""
    cost: float | None = None
    """response_metadata["cost"]; None: the recording has none, and none is made up."""
    finish: tuple[str | None, str | None] = (None, None)
    provider: str | None = None
    tool_calls: tuple[str, ...] = ()
    reasoning: str = ""
    """How the reasoning text begins."""
    error: type[OpenRouterError] | None = None
    error_words: str = ""
    previews: int = 0
    """Partial images shown while an Image API stream works."""
    tools: bool = False
    """Bind a tool first (the recorded request carried one)."""


# The Gemini recordings asked for the 2.5 preview id, retired since: today's user names its
# release (the package would send that for the preview id too).
GEMINI = "google/gemini-2.5-flash-image"
_RATE_LIMITED = Expected(
    model="google/gemini-2.0-flash-exp:free",
    error=OpenRouterRateLimitError,
    error_words="temporarily rate-limited upstream",
)

EXPECTED: dict[str, Expected] = {
    "images-api__gemini_no_media_type__live-shape+openapi-usage": Expected(
        model="google/gemini-2.5-flash-image",
        endpoint="images",
        image=(1024, 1024),
        usage=(0, 4175, 4175),
        cost=0.04,
        finish=("stop", None),
    ),
    "images-api__stream_documented": Expected(
        model="openai/gpt-image-1",
        image=(1024, 1024),
        usage=(16, 272, 288),
        cost=0.011,
        finish=("stop", None),
        previews=1,
    ),
    "images-api__stream_error_documented": Expected(
        model="openai/gpt-image-1",
        error=OpenRouterAPIError,
        error_words="Generation failed",
        previews=1,
    ),
    "issue-doka-site-7__402_more_credits": Expected(
        model="google/gemini-2.5-flash-image",
        error=OpenRouterInsufficientCreditsError,
        error_words="requires more credits",
    ),
    "pydantic-ai__test_openrouter_errors_raised__0": _RATE_LIMITED,
    "pydantic-ai__test_openrouter_errors_raised__1": _RATE_LIMITED,
    "pydantic-ai__test_openrouter_errors_raised__2": _RATE_LIMITED,
    "pydantic-ai__test_openrouter_image_and_text_output__0": Expected(
        model=GEMINI,
        image=(1024, 1024),
        text="A curious axolotl named Pip explored the vibrant underwater garden",
        usage=(16, 1339, 1355),
        details={"image": 1290, "reasoning": 0},
        cost=0.0388273,
        finish=("stop", "STOP"),
        provider="Google",
    ),
    "pydantic-ai__test_openrouter_image_generation__0": Expected(
        model=GEMINI,
        image=(1024, 1024),
        text="Here is a cat for you! ",
        usage=(3, 1298, 1301),
        details={"image": 1290, "reasoning": 0},
        cost=None,  # a 2025-11 answer: usage without cost
        finish=("stop", "STOP"),
        provider="Google AI Studio",
    ),
    "pydantic-ai__test_openrouter_image_generation_streaming__0": Expected(
        model=GEMINI,
        image=(1248, 832),  # aspect_ratio 3:2
        usage=(2, 1290, 1292),
        details={"image": 1290, "reasoning": 0},
        cost=0.0387006,
        finish=("stop", "STOP"),
        provider="Google",
    ),
    "pydantic-ai__test_openrouter_image_with_text_and_tool_call__0": Expected(
        model="openai/gpt-5-image-mini",
        usage=(386, 80, 466),
        details={"image": 0, "reasoning": 64},
        cost=0.001125,
        finish=("tool_calls", "completed"),
        provider="OpenAI",
        tool_calls=("get_color",),
        reasoning="**Using the color tool**",
        tools=True,
    ),
    "pydantic-ai__test_openrouter_image_with_text_and_tool_call__1": Expected(
        model="openai/gpt-5-image-mini",
        text="The color is: orange.",
        usage=(530, 10, 540),
        details={"image": 0, "reasoning": 0},
        cost=0.001345,
        finish=("stop", "completed"),
        provider="OpenAI",
        tools=True,
    ),
    "pydantic-ai__test_openrouter_stream_error__0": Expected(
        model="minimax/minimax-m2:free",
        error=OpenRouterInvalidRequestError,
        error_words="Token limit reached",
        reasoning="We need to respond to a greeting. The user",
    ),
}

ALL = recordings(SHARED) + recordings(OWN)


def get_color() -> str:
    """Get a color name."""
    return "orange"


def _modes(recording: Recording) -> list[str]:
    if recording.streamed:
        return ["stream", "astream"]  # an event stream answers streamed calls only
    return ["invoke", "ainvoke", "stream", "astream"]


def _cases() -> list[Any]:
    return [
        pytest.param(recording, mode, id=f"{recording.name}-{mode}")
        for recording in ALL
        for mode in _modes(recording)
    ]


def _prompt(expected: Expected) -> list[BaseMessage]:
    if not expected.tools or expected.tool_calls:
        return [HumanMessage("Use get_color tool to get a color.")]
    asked = AIMessage(
        "", tool_calls=[{"name": "get_color", "args": {}, "id": "call_HWAt8NUDHnW5TSUN1ztrL7lK"}]
    )
    result = ToolMessage("orange", tool_call_id="call_HWAt8NUDHnW5TSUN1ztrL7lK")
    return [HumanMessage("Use get_color tool to get a color."), asked, result]


def _check(message: AIMessage, expected: Expected) -> None:
    images = images_from(message)
    assert [image.size for image in images] == ([expected.image] if expected.image else [])
    assert message.text.startswith(expected.text), message.text
    metadata = message.response_metadata
    assert (metadata.get("finish_reason"), metadata.get("native_finish_reason")) == expected.finish
    assert metadata.get("provider") == expected.provider
    assert metadata.get("cost") == expected.cost
    usage = message.usage_metadata
    assert usage is not None
    assert (usage["input_tokens"], usage["output_tokens"], usage["total_tokens"]) == expected.usage
    for key, value in expected.details.items():
        assert usage.get("output_token_details", {}).get(key) == value
    assert tuple(call["name"] for call in message.tool_calls) == expected.tool_calls
    reasoning = "".join(
        block.get("reasoning", "")
        for block in message.content
        if isinstance(block, dict) and block.get("type") == "reasoning"
    )
    assert reasoning.startswith(expected.reasoning)
    previews = [
        block
        for block in message.content
        if isinstance(block, dict) and block.get("type") == "non_standard"
    ]
    assert len(previews) == expected.previews


def test_the_shared_recordings_are_here() -> None:
    """Under CI the shared folder must be beside the clone: its absence fails, never skips."""
    folder = require_shared()
    assert recordings(folder), f"{folder} holds no recordings"


def test_every_recording_has_an_expected_outcome() -> None:
    assert ALL, "no recordings found"
    assert sorted(r.name for r in ALL if r.name not in EXPECTED) == []


def _check_error(error: OpenRouterError, expected: Expected) -> None:
    """What arrived before the failure travels with it: nothing paid for is lost."""
    partial = error.partial_message
    if expected.reasoning or expected.previews:
        assert partial is not None
        _check_partial(partial, expected)


def _check_partial(partial: AIMessage, expected: Expected) -> None:
    blocks = [block for block in partial.content if isinstance(block, dict)]
    reasoning = "".join(b.get("reasoning", "") for b in blocks if b["type"] == "reasoning")
    assert reasoning.startswith(expected.reasoning)
    assert len([b for b in blocks if b["type"] == "non_standard"]) == expected.previews


@pytest.mark.parametrize(("recording", "mode"), _cases())
def test_a_recorded_answer_reads_as_the_user_expects(
    recording: Recording, mode: str, tmp_path: Path
) -> None:
    expected = EXPECTED[recording.name]
    fake = FakeOpenRouter.replay(isolated(recording, tmp_path))
    with fake.serve() as base_url:
        # One request per call: how answers read, not how the key's shared limit waits
        # out 429s (test_a_recorded_429_keeps_a_call_in_line_until_its_deadline).
        llm: Any = ChatNanoBanana(
            api_key=TEST_KEY,
            base_url=base_url,
            model=expected.model,
            endpoint=expected.endpoint,
            max_retries=0,
            max_concurrency=None,
        )
        if expected.tools:
            llm = llm.bind_tools([get_color])
        if expected.error is None:
            _check(run(llm, mode, _prompt(expected)), expected)
        else:
            with pytest.raises(expected.error, match=expected.error_words) as caught:
                run(llm, mode, _prompt(expected))
            _check_error(caught.value, expected)
    (post,) = [r for r in fake.requests if r.method == "POST"]
    on_images = recording.name.startswith("images-api")
    assert post.path.endswith("/images" if on_images else "/chat/completions")


def test_the_recorded_rate_limits_are_retried_then_raised(
    tmp_path: Path, backoffs: list[float]
) -> None:
    """The three 429s of one cassette, in order: without the shared limit, two retries,
    then the error."""
    _rate_limited_into(tmp_path)
    fake = FakeOpenRouter.replay(tmp_path)
    with fake.serve() as base_url:
        llm = ChatNanoBanana(
            api_key=TEST_KEY, base_url=base_url, model=_RATE_LIMITED.model, max_concurrency=None
        )
        with pytest.raises(OpenRouterRateLimitError) as caught:
            llm.invoke("Tell me a joke.")
    assert caught.value.status_code == 429
    assert len([r for r in fake.requests if r.method == "POST"]) == 3
    assert len(backoffs) == 2


def test_a_recorded_429_keeps_a_call_in_line_until_its_deadline(tmp_path: Path) -> None:
    """Under the key's shared limit (the default) a 429 is no retry: the call waits in line
    and asks again, until its deadline leaves no room; then the 429 is the error."""
    _rate_limited_into(tmp_path)
    fake = FakeOpenRouter.replay(tmp_path)
    with fake.serve() as base_url:
        llm = ChatNanoBanana(
            api_key=TEST_KEY, base_url=base_url, model=_RATE_LIMITED.model, deadline=2.0
        )
        with pytest.raises(OpenRouterRateLimitError, match="temporarily rate-limited upstream"):
            llm.invoke("Tell me a joke.")
    assert len([r for r in fake.requests if r.method == "POST"]) >= 2


def _rate_limited_into(folder: Path) -> None:
    for recording in recordings(require_shared()):
        if recording.name.startswith("pydantic-ai__test_openrouter_errors_raised__"):
            isolated(recording, folder)
