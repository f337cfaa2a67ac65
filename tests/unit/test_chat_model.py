"""ChatNanoBanana end to end against the in-process emulator: what users see."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import logging
import subprocess
import sys
from typing import Any

import httpx
import pytest
from langchain_core.exceptions import (
    ModelAPIError,
    ModelAuthenticationError,
    ModelInvalidRequestError,
    ModelNotFoundError,
    ModelPermissionDeniedError,
    ModelRateLimitError,
)
from langchain_core.load import dumps
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, SystemMessage
from PIL import Image
from pydantic import BaseModel

from langchain_nanobanana import ChatNanoBanana
from langchain_nanobanana.errors import (
    OpenRouterError,
    OpenRouterInsufficientCreditsError,
    OpenRouterPermissionDeniedError,
)
from langchain_nanobanana.testing import FakeOpenRouter, Outcome, describe_image
from tests.support import TEST_KEY


def _images(message: AIMessage) -> list[dict[str, Any]]:
    return [
        block for block in message.content if isinstance(block, dict) and block["type"] == "image"
    ]


def _image_bytes(message: AIMessage) -> bytes:
    (image,) = _images(message)
    return base64.b64decode(image["base64"])


def _last_body(fake: FakeOpenRouter) -> dict[str, Any]:
    body = fake.requests[-1].body
    assert isinstance(body, dict)
    return body


# ---------------------------------------------------------------- a plain call


def test_invoke_returns_text_and_a_decodable_png(fake: FakeOpenRouter) -> None:
    message = fake.chat_model().invoke("a nano banana dish in a fancy restaurant")

    text = [block for block in message.content if block["type"] == "text"]
    assert [block["text"] for block in text] == [fake.reply_text]
    (image,) = _images(message)
    assert image["mime_type"] == "image/png"
    assert image["id"]
    picture = Image.open(io.BytesIO(_image_bytes(message)))
    assert picture.format == "PNG"
    assert picture.size == (1024, 1024)
    assert (
        describe_image(_image_bytes(message))["prompt"]
        == "a nano banana dish in a fancy restaurant"
    )


def test_invoke_sends_the_exact_request_body(fake: FakeOpenRouter) -> None:
    fake.chat_model().invoke([SystemMessage("be brief"), HumanMessage("a banana")])

    assert _last_body(fake) == {
        "model": "google/gemini-2.5-flash-image",
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "a banana"},
        ],
        "modalities": ["image", "text"],
    }


def test_headers_carry_the_key_and_app_attribution(fake: FakeOpenRouter) -> None:
    llm = fake.chat_model(api_key=TEST_KEY, app_url="https://app.example", app_title="Demo")
    llm.invoke("a banana")

    request = fake.requests[-1]
    assert request.bearer_token == TEST_KEY
    assert request.headers["http-referer"] == "https://app.example"
    assert request.headers["x-title"] == "Demo"
    assert TEST_KEY not in repr(request)


def test_usage_and_metadata_are_all_kept(fake: FakeOpenRouter) -> None:
    message = fake.chat_model().invoke("a banana")

    usage = message.usage_metadata
    assert usage is not None
    assert usage["output_token_details"]["image"] == 1290  # type: ignore[typeddict-item]
    assert usage["output_tokens"] == usage["total_tokens"] - usage["input_tokens"]
    assert usage["output_tokens"] >= 1290
    metadata = message.response_metadata
    assert metadata["model_name"] == "google/gemini-2.5-flash-image"
    assert metadata["model_provider"] == "openrouter"
    assert metadata["finish_reason"] == "stop"
    assert metadata["native_finish_reason"] == "STOP"
    assert metadata["id"].startswith("gen-")
    assert metadata["provider"] == "Google"  # as recorded (older recordings: "Google AI Studio")
    assert metadata["cost"] == pytest.approx(
        usage["input_tokens"] * 0.30e-6 + (usage["output_tokens"] - 1290) * 2.50e-6 + 1290 * 30e-6
    )
    assert "upstream_inference_completions_cost" in metadata["cost_details"]
    assert message.id == metadata["id"]


def test_content_blocks_match_content(fake: FakeOpenRouter) -> None:
    message = fake.chat_model().invoke("a banana")

    blocks = message.content_blocks
    assert [block["type"] for block in blocks] == ["text", "image"]
    assert blocks[1]["base64"] == _images(message)[0]["base64"]  # type: ignore[typeddict-item]


# ---------------------------------------------------------------- options


def test_aspect_ratio_field_sets_image_config_and_pixel_size(fake: FakeOpenRouter) -> None:
    message = fake.chat_model(aspect_ratio="16:9").invoke("a banana")

    assert _last_body(fake)["image_config"] == {"aspect_ratio": "16:9"}
    assert Image.open(io.BytesIO(_image_bytes(message))).size == (1344, 768)


def test_per_call_options_override_fields(fake: FakeOpenRouter) -> None:
    llm = fake.chat_model(aspect_ratio="16:9", seed=1, temperature=0.5)
    llm.invoke("a banana", aspect_ratio="3:4", seed=7, temperature=1.0, max_tokens=2000)

    body = _last_body(fake)
    assert body["image_config"] == {"aspect_ratio": "3:4"}
    assert (body["seed"], body["temperature"], body["max_tokens"]) == (7, 1.0, 2000)


def test_bind_overrides_fields(fake: FakeOpenRouter) -> None:
    llm = fake.chat_model(model="google/gemini-3-pro-image")
    message = llm.bind(image_size="2K", stop=["zzz"]).invoke("a banana")

    body = _last_body(fake)
    assert body["image_config"] == {"image_size": "2K"}
    assert body["stop"] == ["zzz"]
    assert Image.open(io.BytesIO(_image_bytes(message))).size == (2048, 2048)


def test_same_seed_same_image_and_different_prompt_different_image(fake: FakeOpenRouter) -> None:
    llm = fake.chat_model(seed=3)
    first, again, other = (llm.invoke(p) for p in ("a banana", "a banana", "an apple"))

    assert _image_bytes(first) == _image_bytes(again)
    assert _image_bytes(first) != _image_bytes(other)


def test_invalid_aspect_ratio_is_refused_before_any_request(fake: FakeOpenRouter) -> None:
    llm = fake.chat_model()
    with pytest.raises(ValueError, match=r"aspect_ratio='1:4'.*16:9"):
        llm.invoke("a banana", aspect_ratio="1:4")
    with pytest.raises(ValueError, match="image_size='4K'"):
        fake.chat_model(image_size="4K")
    assert fake.requests == []


def test_unknown_call_option_is_refused(fake: FakeOpenRouter) -> None:
    with pytest.raises(TypeError, match="aspect_ration"):
        fake.chat_model().invoke("a banana", aspect_ration="16:9")
    assert fake.requests == []


def test_an_image_only_model_is_asked_for_images_only(fake: FakeOpenRouter) -> None:
    answer = fake.chat_model(model="black-forest-labs/flux.2-pro").invoke("a banana")
    assert fake.requests[-1].body["modalities"] == ["image"]
    assert [b["type"] for b in answer.content if isinstance(b, dict)] == ["image"]


def test_model_kwargs_and_provider_go_into_the_body(fake: FakeOpenRouter) -> None:
    llm = fake.chat_model(model_kwargs={"user": "u-42"}, provider={"order": ["google-ai-studio"]})
    llm.invoke("a banana")

    body = _last_body(fake)
    assert body["user"] == "u-42"
    assert body["provider"] == {"order": ["google-ai-studio"]}


# ---------------------------------------------------------------- inputs and editing


def test_history_image_is_sent_in_the_next_user_turn_and_edited(fake: FakeOpenRouter) -> None:
    llm = fake.chat_model()
    first = llm.invoke("a yellow banana")
    original = _image_bytes(first)

    edited = llm.invoke([HumanMessage("a yellow banana"), first, HumanMessage("make it blue")])

    messages = _last_body(fake)["messages"]
    assert messages[1] == {"role": "assistant", "content": fake.reply_text}
    assert messages[2]["role"] == "user"
    text_part, image_part = messages[2]["content"]
    assert text_part == {"type": "text", "text": "make it blue"}
    assert (
        image_part["image_url"]["url"]
        == "data:image/png;base64," + base64.b64encode(original).decode()
    )
    description = describe_image(_image_bytes(edited))
    assert description["sources"] == hashlib.sha256(original).hexdigest()
    assert _image_bytes(edited) != original


def test_base64_image_without_mime_type_is_sniffed(fake: FakeOpenRouter) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buffer, format="JPEG")
    photo = base64.b64encode(buffer.getvalue()).decode()

    fake.chat_model().invoke(
        [HumanMessage([{"type": "text", "text": "edit"}, {"type": "image", "base64": photo}])]
    )

    part = _last_body(fake)["messages"][0]["content"][1]
    assert part["image_url"]["url"] == f"data:image/jpeg;base64,{photo}"


def test_unknown_block_type_raises_before_any_request(fake: FakeOpenRouter) -> None:
    with pytest.raises(ValueError, match="'hologram'"):
        fake.chat_model().invoke([HumanMessage([{"type": "hologram", "data": "x"}])])
    assert fake.requests == []


# ---------------------------------------------------------------- answers without an image


def test_no_image_answer_returns_text_and_finish_reasons(fake: FakeOpenRouter) -> None:
    fake.enqueue(Outcome.no_image(native_finish_reason="IMAGE_SAFETY", text="I can't draw that."))

    message = fake.chat_model().invoke("something refused")

    assert _images(message) == []
    assert message.text == "I can't draw that."
    assert message.response_metadata["native_finish_reason"] == "IMAGE_SAFETY"
    assert message.response_metadata["finish_reason"] == "stop"


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (400, ModelInvalidRequestError),
        (401, ModelAuthenticationError),
        (402, OpenRouterInsufficientCreditsError),
        (403, ModelPermissionDeniedError),
        (404, ModelNotFoundError),
        (413, ModelInvalidRequestError),
        (422, ModelInvalidRequestError),
    ],
)
def test_client_errors_map_and_are_not_retried(
    fake: FakeOpenRouter, backoffs: list[float], status: int, expected: type[Exception]
) -> None:
    fake.enqueue(Outcome.http_error(status))

    with pytest.raises(expected) as caught:
        fake.chat_model().invoke("a banana")

    assert len(fake.requests) == 1
    assert backoffs == []
    error = caught.value
    assert isinstance(error, OpenRouterError)
    assert error.status_code == status
    assert error.body is not None
    assert error.body["error"]["code"] == status


def test_402_is_a_model_api_error_that_says_what_to_do(fake: FakeOpenRouter) -> None:
    fake.enqueue(Outcome.http_error(402))
    with pytest.raises(ModelAPIError, match=r"(?s)credits.*max_tokens"):
        fake.chat_model().invoke("a banana")


def test_401_says_how_to_set_the_key(fake: FakeOpenRouter) -> None:
    fake.enqueue(Outcome.http_error(401))
    with pytest.raises(ModelAuthenticationError, match="OPENROUTER_API_KEY"):
        fake.chat_model().invoke("a banana")


def test_403_carries_the_moderation_reasons(fake: FakeOpenRouter) -> None:
    fake.enqueue(Outcome.http_error(403, metadata={"reasons": ["violence"], "flagged_input": "x"}))
    with pytest.raises(OpenRouterPermissionDeniedError, match="violence") as caught:
        fake.chat_model().invoke("a banana")
    assert caught.value.reasons == ["violence"]
    assert caught.value.flagged_input == "x"


def test_missing_key_fails_before_any_request(
    fake: FakeOpenRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENROUTER_API_KEY", raising=False)
    llm = ChatNanoBanana(http_client=fake.client(), base_url=fake.base_url)
    with pytest.raises(ModelAuthenticationError, match="OPENROUTER_API_KEY"):
        llm.invoke("a banana")
    assert fake.requests == []


def test_a_429_goes_back_in_line_without_using_a_retry(
    fake: FakeOpenRouter, backoffs: list[float]
) -> None:
    fake.enqueue(*(Outcome.http_error(429, headers={"Retry-After": "0"}) for _ in range(3)))

    message = fake.chat_model(max_retries=0).invoke("a banana")

    assert len(_images(message)) == 1
    assert len(fake.requests) == 4
    # The first wait is the key's pause (Retry-After: 0); a call refused again backs off.
    assert len(backoffs) == 3
    assert backoffs[0] == 0.0
    assert 0.25 <= backoffs[1] <= 0.5
    assert 0.5 <= backoffs[2] <= 1.0


def test_without_the_shared_limit_a_429_is_a_retry_honouring_retry_after(
    fake: FakeOpenRouter, backoffs: list[float]
) -> None:
    fake.enqueue(Outcome.http_error(429, headers={"Retry-After": "3"}))

    message = fake.chat_model(max_concurrency=None).invoke("a banana")

    assert len(_images(message)) == 1
    assert len(fake.requests) == 2
    assert backoffs == [3.0]


@pytest.mark.parametrize("status", [408, 500, 502, 503, 524, 529])
def test_server_errors_are_retried_with_growing_backoff(
    fake: FakeOpenRouter, backoffs: list[float], status: int
) -> None:
    fake.enqueue(*(Outcome.http_error(status) for _ in range(3)))

    with pytest.raises(OpenRouterError) as caught:
        fake.chat_model(max_retries=2).invoke("a banana")

    assert caught.value.status_code == status
    assert len(fake.requests) == 3
    assert len(backoffs) == 2
    assert 0.25 <= backoffs[0] <= 0.5
    assert 0.5 <= backoffs[1] <= 1.0


def test_a_retry_after_beyond_the_deadline_is_a_rate_limit_error_at_once(
    fake: FakeOpenRouter,
) -> None:
    fake.enqueue(Outcome.http_error(429, headers={"Retry-After": "30"}))
    with pytest.raises(ModelRateLimitError, match="deadline of 5 s") as caught:
        fake.chat_model(deadline=5).invoke("a banana")
    assert len(fake.requests) == 1
    assert caught.value.status_code == 429  # the 429 that started the wait, kept
    assert caught.value.retry_after is not None and caught.value.retry_after > 25


def test_without_the_shared_limit_429s_use_up_the_retries(
    fake: FakeOpenRouter, backoffs: list[float]
) -> None:
    fake.enqueue(*(Outcome.http_error(429) for _ in range(2)))
    with pytest.raises(ModelRateLimitError):
        fake.chat_model(max_retries=1, max_concurrency=None).invoke("a banana")
    assert len(fake.requests) == 2


def test_error_body_with_http_200_raises_the_mapped_error(
    fake: FakeOpenRouter, backoffs: list[float]
) -> None:
    fake.enqueue(Outcome.error_in_200(403, "Flagged by moderation"))
    with pytest.raises(ModelPermissionDeniedError, match="Flagged by moderation"):
        fake.chat_model().invoke("a banana")


def test_choice_error_keeps_the_partial_answer_and_generation_id(fake: FakeOpenRouter) -> None:
    fake.enqueue(Outcome.choice_error(502, "Provider returned error"))
    with pytest.raises(ModelAPIError) as caught:
        fake.chat_model(max_retries=0).invoke("a banana")
    error = caught.value
    assert isinstance(error, OpenRouterError)
    assert error.generation_id is not None and error.generation_id.startswith("gen-")


# ---------------------------------------------------------------- structured output


class Caption(BaseModel):
    title: str
    tags: list[str]


def test_structured_output_uses_response_format_and_text_only(fake: FakeOpenRouter) -> None:
    caption = fake.chat_model().with_structured_output(Caption).invoke("caption a banana")

    assert isinstance(caption, Caption)
    body = _last_body(fake)
    assert body["modalities"] == ["text"]
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["schema"]["required"] == ["title", "tags"]


def test_structured_output_include_raw(fake: FakeOpenRouter) -> None:
    result = fake.chat_model().with_structured_output(Caption, include_raw=True).invoke("caption")
    assert isinstance(result["parsed"], Caption)
    assert isinstance(result["raw"], AIMessage)
    assert result["parsing_error"] is None


def test_bind_tools_says_this_model_does_not_call_tools(fake: FakeOpenRouter) -> None:
    with pytest.raises(NotImplementedError, match="does not call tools"):
        fake.chat_model().bind_tools([])


# ---------------------------------------------------------------- the key stays secret


def test_key_never_shows_in_repr_str_dumps_params_or_logs(
    fake: FakeOpenRouter, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    llm = fake.chat_model(api_key=TEST_KEY)
    fake.enqueue(Outcome.http_error(500))
    llm.invoke("a banana")

    assert llm.api_key is not None and llm.api_key.get_secret_value() == TEST_KEY
    for text in (repr(llm), str(llm), dumps(llm), repr(llm._get_ls_params()), caplog.text):
        assert TEST_KEY not in text
    assert TEST_KEY not in repr(llm.model_dump())


def test_key_and_base_url_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENROUTER_API_KEY", TEST_KEY)
    monkeypatch.setenv("OPENROUTER_BASE_URL", "http://127.0.0.1:9/api/v1")
    llm = ChatNanoBanana()
    assert llm.api_key is not None and llm.api_key.get_secret_value() == TEST_KEY
    assert llm.base_url == "http://127.0.0.1:9/api/v1"


# ---------------------------------------------------------------- identity


def test_identity_params_and_profile() -> None:
    llm = ChatNanoBanana(api_key="k", aspect_ratio="3:2", seed=4)
    assert llm._llm_type == "nanobanana-openrouter"
    assert llm._identifying_params["aspect_ratio"] == "3:2"
    assert llm._identifying_params["seed"] == 4
    params = llm._get_ls_params(model="google/gemini-3-pro-image")
    assert params["ls_provider"] == "openrouter"
    assert params["ls_model_name"] == "google/gemini-3-pro-image"
    assert llm.profile is not None
    assert llm.profile["image_inputs"] is True
    assert llm.profile["image_outputs"] is True
    assert llm.profile["tool_calling"] is False
    assert llm.profile["max_input_tokens"] == 32_768


def test_one_pooled_client_is_reused_across_calls() -> None:
    llm = ChatNanoBanana(api_key="k")
    transport = llm._get_transport()
    assert transport.client() is transport.client()
    assert llm._get_transport() is transport


def test_streamed_chunks_add_up_to_the_invoke_answer_in_process(fake: FakeOpenRouter) -> None:
    llm = fake.chat_model(seed=5)
    whole = llm.invoke("a banana")
    chunks = list(llm.stream("a banana"))

    total = chunks[0]
    for chunk in chunks[1:]:
        total += chunk
    assert isinstance(total, AIMessageChunk)
    assert _without_block_ids(total.content) == _without_block_ids(whole.content)
    assert total.usage_metadata == whole.usage_metadata
    assert _without_ids(total.response_metadata) == _without_ids(whole.response_metadata)
    assert chunks[-1].chunk_position == "last"


def _without_block_ids(content: Any) -> list[dict[str, Any]]:
    """Content minus image ids, which name the generation and so differ between calls."""
    return [{k: v for k, v in block.items() if k != "id"} for block in content]


def _without_ids(metadata: dict[str, Any]) -> dict[str, Any]:
    """Metadata minus what differs between two calls (generation id, timestamp)."""
    return {key: value for key, value in metadata.items() if key not in ("id", "created")}


def test_one_async_client_per_event_loop_reused_across_calls() -> None:
    llm = ChatNanoBanana(api_key="k")
    transport = llm._get_transport()

    async def clients() -> tuple[object, object]:
        return transport.async_client(), transport.async_client()

    first_loop = asyncio.run(clients())
    second_loop = asyncio.run(clients())
    assert first_loop[0] is first_loop[1]
    assert second_loop[0] is not first_loop[0]


def test_a_client_that_is_not_httpx_is_refused() -> None:
    with pytest.raises(TypeError, match=r"http_client must be an httpx\.Client"):
        ChatNanoBanana(api_key="k", http_client="not a client")
    with pytest.raises(TypeError, match=r"http_async_client must be an httpx\.AsyncClient"):
        ChatNanoBanana(api_key="k", http_async_client=httpx.Client())


def test_importing_the_package_defers_httpx_and_the_tool() -> None:
    code = (
        "import sys, langchain_nanobanana; "
        "print('httpx' in sys.modules, 'langchain_nanobanana.tools' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "False"]
