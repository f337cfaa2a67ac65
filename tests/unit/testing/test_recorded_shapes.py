"""The emulator's default answers hold the shape of the recordings they were built from.

Each test puts an emulator answer beside the recorded (or, for the Image API stream, the
documented) fixture it imitates and compares their structure: the same keys at every
level, the same framing, the same finish reasons where the recording has them. Values
differ (ids, images, token counts); shapes may not.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from langchain_nanobanana.testing import FakeOpenRouter, Outcome
from tests.support.recorded import require_shared, sse_payloads

AUTH = {"Authorization": "Bearer sk-or-shape-test"}
GEMINI = "google/gemini-2.5-flash-image"


def _keys(value: Any) -> Any:
    """The structure of a JSON value: dict keys all the way down, lists by their first item."""
    if isinstance(value, dict):
        return {key: _keys(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_keys(value[0])] if value else []
    return type(value).__name__ if value is not None else None


def _recorded(name: str) -> bytes:
    folder = require_shared()
    (path,) = [p for p in folder.glob(f"{name}.response.*")]
    return path.read_bytes()


def _chat(fake: FakeOpenRouter, **extra: Any) -> httpx.Response:
    body = {
        "model": GEMINI,
        "messages": [{"role": "user", "content": "A dog"}],
        "modalities": ["image", "text"],
        **extra,
    }
    return fake.client().post("/chat/completions", json=body, headers=AUTH)


def test_the_chat_stream_and_its_usage_chunk_are_framed_as_recorded() -> None:
    recorded_comments, recorded_data = sse_payloads(
        _recorded("pydantic-ai__test_openrouter_image_generation_streaming__0")
    )
    comments, data = sse_payloads(_chat(FakeOpenRouter(reply_text=""), stream=True).content)

    assert len(comments) == len(recorded_comments) == 19, "keep-alives before any data"
    assert data[-1] == recorded_data[-1] == b"[DONE]"
    recorded = [json.loads(d) for d in recorded_data[:-1]]
    ours = [json.loads(d) for d in data[:-1]]
    assert len(ours) == len(recorded) == 2, "the image chunk, then the usage chunk"
    for mine, theirs in zip(ours, recorded, strict=True):
        assert _keys(mine) == _keys(theirs)
        mine_choice, their_choice = mine["choices"][0], theirs["choices"][0]
        for key in ("finish_reason", "native_finish_reason"):
            assert mine_choice[key] == their_choice[key]
    assert ours[0]["choices"][0]["delta"]["content"] == "", "no text deltas, as recorded"
    assert ours[1]["choices"][0]["delta"] == recorded[1]["choices"][0]["delta"]


def test_a_whole_chat_answer_has_the_recorded_keys() -> None:
    recorded = json.loads(_recorded("pydantic-ai__test_openrouter_image_and_text_output__0"))
    ours = _chat(FakeOpenRouter()).json()
    assert set(ours) == set(recorded)
    assert _keys(ours["choices"]) == _keys(recorded["choices"])
    assert _keys(ours["usage"]) == _keys(recorded["usage"])
    assert ours["provider"] == recorded["provider"] == "Google"


def test_the_older_usage_without_cost_is_an_option() -> None:
    recorded = json.loads(_recorded("pydantic-ai__test_openrouter_image_generation__0"))
    ours = _chat(FakeOpenRouter(usage_cost=False, provider_name="Google AI Studio")).json()
    assert _keys(ours["usage"]) == _keys(recorded["usage"])
    assert ours["provider"] == recorded["provider"]


def test_a_blocked_image_costs_nothing_as_recorded() -> None:
    """The one real record of a blocked image (IMAGE_RECITATION, content_filter) billed $0;
    no full body of it survives, so the fact is held here, not against a fixture."""
    fake = FakeOpenRouter()
    fake.enqueue(Outcome.no_image("IMAGE_RECITATION", finish_reason="content_filter"))
    answer = _chat(fake).json()
    usage = answer["usage"]
    assert (usage["cost"], usage["completion_tokens_details"]["image_tokens"]) == (0.0, 0)
    assert set(usage["cost_details"].values()) <= {None, 0.0}
    assert fake.generations[answer["id"]]["total_cost"] == 0.0


def test_the_image_api_answer_has_no_media_type_as_recorded() -> None:
    recorded = json.loads(_recorded("images-api__gemini_no_media_type__live-shape+openapi-usage"))
    body = {"model": GEMINI, "prompt": "a banana"}
    ours = FakeOpenRouter().client().post("/images", json=body, headers=AUTH).json()
    assert set(ours) == set(recorded) == {"created", "data", "usage"}
    assert _keys(ours["data"]) == _keys(recorded["data"]) == [{"b64_json": "str"}]
    labelled = FakeOpenRouter(media_type=True).client().post("/images", json=body, headers=AUTH)
    assert labelled.json()["data"][0]["media_type"] == "image/png"


@pytest.mark.parametrize(
    ("fixture", "outcome"),
    [
        ("images-api__stream_documented", None),
        ("images-api__stream_error_documented", Outcome.choice_error(502, "Generation failed")),
    ],
)
def test_the_image_api_stream_events_are_framed_as_documented(
    fixture: str, outcome: Outcome | None
) -> None:
    _, documented = sse_payloads(_recorded(fixture))
    fake = FakeOpenRouter()
    if outcome is not None:
        fake.enqueue(outcome)
    body = {"model": "openai/gpt-image-1", "prompt": "a banana", "stream": True}
    raw = fake.client().post("/images", json=body, headers=AUTH).content
    _, ours = sse_payloads(raw)  # data-only: no "event:" lines

    assert ours[-1] == documented[-1] == b"[DONE]"
    assert [_keys(json.loads(d)) for d in ours[:-1]] == [
        _keys(json.loads(d)) for d in documented[:-1]
    ]
    if outcome is not None:
        (error,) = [json.loads(d) for d in ours[:-1] if json.loads(d)["type"] == "error"]
        assert error == json.loads(documented[-2])
