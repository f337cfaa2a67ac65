"""OpenRouter's Image API as a second backend, and n images on either backend."""

from __future__ import annotations

import asyncio
import base64
import io
import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from langchain_core.exceptions import ModelAPIError
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, SystemMessage
from PIL import Image

from langchain_nanobanana import ChatNanoBanana, NanoBananaImageTool, images_from
from langchain_nanobanana._catalog.models import KNOWN_MODELS
from langchain_nanobanana._openrouter.discovery import (
    DISCOVERY_TTL_SECONDS,
    RETRY_AFTER_FAILURE_SECONDS,
    Discovery,
    ModelFacts,
)
from langchain_nanobanana._openrouter.images_api import StreamReader
from langchain_nanobanana.errors import OpenRouterError, OpenRouterInvalidRequestError
from langchain_nanobanana.testing import FakeOpenRouter, Outcome
from tests.support import TEST_KEY

GPT_IMAGE = "openai/gpt-image-1"
GEMINI = "google/gemini-2.5-flash-image"


def _posts(fake: FakeOpenRouter, path: str) -> list[Any]:
    return [r for r in fake.requests if r.method == "POST" and r.path.endswith(path)]


def _gets(fake: FakeOpenRouter) -> list[str]:
    return [r.path for r in fake.requests if r.method == "GET"]


def _photo(color: str = "teal") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (48, 32), color).save(buffer, format="JPEG")
    return buffer.getvalue()


def _summed(chunks: list[AIMessageChunk]) -> AIMessageChunk:
    total = chunks[0]
    for chunk in chunks[1:]:
        total = total + chunk
    return total


def _run(llm: ChatNanoBanana, mode: str, prompt: Any, **options: Any) -> AIMessage | AIMessageChunk:
    if mode == "invoke":
        return llm.invoke(prompt, **options)
    if mode == "ainvoke":
        return asyncio.run(llm.ainvoke(prompt, **options))
    if mode == "stream":
        return _summed(list(llm.stream(prompt, **options)))

    async def collect() -> list[AIMessageChunk]:
        return [chunk async for chunk in llm.astream(prompt, **options)]

    return _summed(asyncio.run(collect()))


MODES = ["invoke", "ainvoke", "stream", "astream"]


# ---------------------------------------------------------------- n images, both backends


@pytest.mark.parametrize("mode", MODES)
def test_n_on_the_chat_backend_fans_out_one_request_per_image(
    base_url: str, fake: FakeOpenRouter, mode: str
) -> None:
    llm = ChatNanoBanana(api_key=TEST_KEY, base_url=base_url, seed=7)

    message = _run(llm, mode, "a banana", n=3)

    requests = _posts(fake, "/chat/completions")
    assert len(requests) == 3
    assert sorted(r.body["seed"] for r in requests) == [7, 8, 9]
    images = images_from(message)
    assert len(images) == 3
    assert len({image.data for image in images}) == 3, "three different pictures"
    assert len({image.id for image in images}) == 3
    costs = [fake.generations[g]["total_cost"] for g in message.response_metadata["generation_ids"]]
    assert message.response_metadata["cost"] == pytest.approx(sum(costs))
    assert message.usage_metadata is not None
    assert message.usage_metadata["output_token_details"]["image"] == 3 * 1290


@pytest.mark.parametrize("mode", MODES)
def test_n_on_the_image_api_is_one_request(base_url: str, fake: FakeOpenRouter, mode: str) -> None:
    llm = ChatNanoBanana(api_key=TEST_KEY, base_url=base_url, model=GPT_IMAGE)

    message = _run(llm, mode, "a banana", n=3)

    (request,) = _posts(fake, "/images")
    assert request.body["n"] == 3
    assert not _posts(fake, "/chat/completions")
    images = images_from(message)
    assert len(images) == 3
    assert {image.size for image in images} == {(1024, 1024)}
    assert message.response_metadata["model_name"] == GPT_IMAGE
    assert message.response_metadata["cost"] > 0
    assert message.usage_metadata is not None
    # Image API usage has no details object (as quoted live): its output tokens are images.
    assert message.usage_metadata["output_tokens"] == 3 * 1056


def test_a_single_image_model_on_the_image_api_fans_out_too(fake: FakeOpenRouter) -> None:
    llm = fake.chat_model(endpoint="images", seed=1)

    message = llm.invoke("a banana", n=2)

    requests = _posts(fake, "/images")
    assert [r.body.get("n") for r in requests] == [1, 1]
    assert [r.body["seed"] for r in requests] == [1, 2]
    assert len(images_from(message)) == 2


def test_a_fan_out_that_partly_fails_keeps_the_images_and_says_why(fake: FakeOpenRouter) -> None:
    fake.enqueue(Outcome.answer(), Outcome.http_error(400, "bad luck"), Outcome.answer())

    message = fake.chat_model().invoke("a banana", n=3)

    assert len(images_from(message)) == 2
    (error,) = message.response_metadata["errors"]
    assert error["status_code"] == 400
    assert "bad luck" in error["message"]
    assert message.response_metadata["requests"] == 3
    assert len(message.response_metadata["generation_ids"]) == 2


def test_a_fan_out_where_every_request_fails_raises(fake: FakeOpenRouter) -> None:
    fake.enqueue(*[Outcome.http_error(400, "refused")] * 2)
    with pytest.raises(OpenRouterInvalidRequestError, match="refused"):
        fake.chat_model().invoke("a banana", n=2)


# ---------------------------------------------------------------- the wire


def test_every_option_reaches_the_image_api_under_its_name(fake: FakeOpenRouter) -> None:
    llm = fake.chat_model(model=GPT_IMAGE, quality="high", background="transparent")

    llm.invoke(
        "a banana",
        n=2,
        output_format="webp",
        output_compression=80,
        aspect_ratio="3:2",
        seed=5,
        provider={"order": ["openai"]},
    )

    assert _posts(fake, "/images")[-1].body == {
        "model": GPT_IMAGE,
        "prompt": "a banana",
        "n": 2,
        "aspect_ratio": "3:2",
        "quality": "high",
        "output_format": "webp",
        "background": "transparent",
        "output_compression": 80,
        "seed": 5,
        "provider": {"order": ["openai"]},
    }


def test_image_size_is_sent_as_resolution(fake: FakeOpenRouter) -> None:
    llm = fake.chat_model(model="google/gemini-3.1-flash-image", endpoint="images")

    message = llm.invoke("a banana", image_size="0.5K", aspect_ratio="16:9")

    body = _posts(fake, "/images")[-1].body
    assert (body["resolution"], body["aspect_ratio"]) == ("512", "16:9")
    (image,) = images_from(message)
    assert image.size == (688, 384)


def test_formats_come_back_as_asked(fake: FakeOpenRouter) -> None:
    message = fake.chat_model(model=GPT_IMAGE).invoke("a banana", output_format="jpeg")
    (image,) = images_from(message)
    assert image.mime_type == "image/jpeg"
    assert image.data[:3] == b"\xff\xd8\xff"


def test_references_are_the_exact_bytes_and_the_prompt_is_the_last_user_turn(
    fake: FakeOpenRouter,
) -> None:
    llm = fake.chat_model(model=GPT_IMAGE)
    first = llm.invoke("a red banana")
    photo = _photo()
    encoded = base64.b64encode(photo).decode()
    history = [
        SystemMessage("Watercolour style."),
        HumanMessage("a red banana"),
        first,
        HumanMessage(
            [
                {"type": "text", "text": "put it on my plate"},
                {"type": "image", "base64": encoded, "mime_type": "image/jpeg"},
            ]
        ),
    ]

    llm.invoke(history)

    body = _posts(fake, "/images")[-1].body
    assert body["prompt"] == "Watercolour style.\n\nput it on my plate"
    assert [ref["type"] for ref in body["input_references"]] == ["image_url", "image_url"]
    references = [
        base64.b64decode(ref["image_url"]["url"].partition(",")[2])
        for ref in body["input_references"]
    ]
    assert references == [images_from(first)[0].data, photo]


def test_bad_options_are_refused_before_any_request(fake: FakeOpenRouter) -> None:
    cases: list[tuple[Callable[[], Any], str]] = [
        (lambda: fake.chat_model().invoke("x", quality="high"), "pass endpoint='images'"),
        (
            lambda: fake.chat_model(model=GPT_IMAGE).invoke("x", temperature=0.2),
            "not options of the Image API",
        ),
        (
            lambda: fake.chat_model(model=GPT_IMAGE).invoke("x", output_format="svg"),
            "SVG can carry script",
        ),
        (
            lambda: fake.chat_model(model=GPT_IMAGE).invoke("x", quality="ultra"),
            "use one of: auto, low",
        ),
        (lambda: fake.chat_model().invoke("x", n=11), "from 1 to 10"),
        (
            lambda: fake.chat_model(model=GPT_IMAGE).invoke(
                [
                    HumanMessage(
                        [{"type": "text", "text": "x"}]
                        + [{"type": "image", "url": "https://a/b.png"}] * 17
                    )
                ]
            ),
            "at most 16 reference images",
        ),
    ]
    for call, words in cases:
        with pytest.raises(ValueError, match=words):
            call()
    assert not [r for r in fake.requests if r.method == "POST"]


def test_options_the_catalog_only_guesses_at_are_sent_and_the_server_decides(
    fake: FakeOpenRouter,
) -> None:
    """Nothing recorded or documented says Gemini refuses quality, formats or backgrounds
    on the Image API, nor that GPT Image 1 is missing from chat: those are sent, and what
    the server answers is the error (here the emulator's guesses)."""
    gemini = fake.chat_model(endpoint="images")
    gemini.invoke("x", quality="high", output_format="jpeg")  # ignored / honoured
    assert _posts(fake, "/images")[-1].body["quality"] == "high"
    with pytest.raises(OpenRouterInvalidRequestError, match="does not support background"):
        gemini.invoke("x", background="transparent")
    assert _posts(fake, "/images")[-1].body["background"] == "transparent"
    with pytest.raises(OpenRouterInvalidRequestError, match="endpoint='images'"):
        fake.chat_model(model=GPT_IMAGE, endpoint="chat").invoke("x")
    assert _posts(fake, "/chat/completions")[-1].body["model"] == GPT_IMAGE


# ---------------------------------------------------------------- errors


def test_a_failed_generation_is_a_typed_error_and_nothing_is_billed(
    fake: FakeOpenRouter, backoffs: list[float]
) -> None:
    fake.enqueue(*[Outcome.http_error(502, "Provider returned error")] * 3)

    with pytest.raises(ModelAPIError) as caught:
        fake.chat_model(model=GPT_IMAGE).invoke("a banana")

    assert isinstance(caught.value, OpenRouterError)
    assert caught.value.status_code == 502
    assert caught.value.partial_message is None
    assert len(_posts(fake, "/images")) == 3, "retried like any 5xx"
    assert fake.generations == {}, "a failed generation costs nothing"


def test_the_emulator_answers_the_documented_errors(fake: FakeOpenRouter) -> None:
    client = fake.client()
    auth = {"Authorization": "Bearer sk-or-x"}
    conflicting = {"model": GPT_IMAGE, "prompt": "x", "size": "1024x1024", "aspect_ratio": "1:1"}
    assert client.post("/images", json=conflicting, headers=auth).status_code == 400
    huge = "data:image/png;base64," + "A" * (41 * 1024 * 1024)
    reference = {"type": "image_url", "image_url": {"url": huge}}
    too_large = {"model": GPT_IMAGE, "prompt": "x", "input_references": [reference]}
    assert client.post("/images", json=too_large, headers=auth).status_code == 413
    wrong = client.post(
        "/chat/completions",
        json={"model": GPT_IMAGE, "messages": [{"role": "user", "content": "x"}]},
        headers=auth,
    )
    assert wrong.status_code == 400
    assert wrong.json()["error"]["availability"]["code"] == "wrong_endpoint"
    assert (
        client.post(
            "/images", json={"model": GEMINI, "prompt": "x", "n": 2}, headers=auth
        ).status_code
        == 400
    )


def test_a_model_discovered_as_chat_only_is_refused_on_the_image_api_before_any_request() -> None:
    chat_only = replace(KNOWN_MODELS[GEMINI], id="acme/chat-only-image", endpoints=("chat",))
    fake = FakeOpenRouter(models=[chat_only])

    with pytest.raises(ValueError, match="not served on the 'images' endpoint"):
        fake.chat_model(model="acme/chat-only-image", endpoint="images").invoke("x")

    assert _gets(fake) == ["/api/v1/models", "/api/v1/images/models"]
    assert not _posts(fake, "/images")
    assert len(images_from(fake.chat_model(model="acme/chat-only-image").invoke("x"))) == 1


# ---------------------------------------------------------------- streaming on /images


@pytest.mark.parametrize("mode", ["stream", "astream"])
def test_partial_images_stream_as_progress_and_each_final_image_once(
    base_url: str, fake: FakeOpenRouter, mode: str
) -> None:
    llm = ChatNanoBanana(api_key=TEST_KEY, base_url=base_url, model=GPT_IMAGE)

    total = _run(llm, mode, "a banana", n=2)

    assert _posts(fake, "/images")[-1].body["stream"] is True
    previews = [b for b in total.content if isinstance(b, dict) and b["type"] == "non_standard"]
    assert [p["value"]["type"] for p in previews] == ["partial_image", "partial_image"]
    whole = llm.invoke("a banana", n=2)
    assert [i.data for i in images_from(total)] == [i.data for i in images_from(whole)]
    assert total.usage_metadata == whole.usage_metadata
    # The sum goes back into a conversation without its previews.
    llm.invoke([HumanMessage("a banana"), AIMessage(content=total.content), HumanMessage("bluer")])


def test_a_cut_image_api_stream_is_an_error(base_url: str, fake: FakeOpenRouter) -> None:
    fake.enqueue(Outcome.truncated_stream())
    llm = ChatNanoBanana(api_key=TEST_KEY, base_url=base_url, model=GPT_IMAGE)
    with pytest.raises(ModelAPIError, match="ended before an image was completed"):
        list(llm.stream("a banana"))


def test_a_model_that_does_not_stream_natively_is_asked_whole(fake: FakeOpenRouter) -> None:
    llm = fake.chat_model(endpoint="images")
    chunks = list(llm.stream("a banana"))
    assert "stream" not in _posts(fake, "/images")[-1].body
    assert len(images_from(_summed(chunks))) == 1
    assert chunks[-1].chunk_position == "last"


# ---------------------------------------------------------------- discovery


def _unknown_models() -> list[Any]:
    gemini, gpt = KNOWN_MODELS[GEMINI], KNOWN_MODELS[GPT_IMAGE]
    return [
        replace(gpt, id="krea/krea-2", name="Krea 2"),
        replace(gemini, id="acme/flux-like", output_modalities=("image",)),
    ]


def test_unknown_models_are_discovered_once_and_routed_by_what_openrouter_says() -> None:
    fake = FakeOpenRouter(models=_unknown_models())
    # The lists are kept per connection: here both models share their clients.
    clients = {"http_client": fake.client(), "http_async_client": fake.async_client()}

    images_only = fake.chat_model(model="krea/krea-2", **clients).invoke("a banana", n=2)
    image_only_chat = fake.chat_model(model="acme/flux-like", **clients).invoke("a banana")

    assert _gets(fake) == ["/api/v1/models", "/api/v1/images/models"], "fetched once for both"
    assert _posts(fake, "/images")[-1].body["n"] == 2
    assert len(images_from(images_only)) == 2
    assert _posts(fake, "/chat/completions")[-1].body["modalities"] == ["image"]
    assert len(images_from(image_only_chat)) == 1


def test_options_are_checked_against_the_discovered_descriptors() -> None:
    fake = FakeOpenRouter(models=_unknown_models())
    krea = fake.chat_model(model="krea/krea-2")

    with pytest.raises(ValueError, match=r"aspect_ratio='21:9' is not supported.*1:1, 2:3, 3:2"):
        krea.invoke("a banana", aspect_ratio="21:9")
    with pytest.raises(ValueError, match="does not take output_compression"):
        krea.invoke("a banana", output_compression=50)

    assert not _posts(fake, "/images")
    krea.invoke("a banana", aspect_ratio="3:2", quality="low")
    assert _posts(fake, "/images")[-1].body["quality"] == "low"


def test_discovered_lists_expire() -> None:
    now = [1000.0]
    discovery = Discovery(clock=lambda: now[0])
    fake = FakeOpenRouter(models=_unknown_models())
    llm = fake.chat_model()
    discovery.facts(llm.base_url, "krea/krea-2", llm._fetch)
    discovery.facts(llm.base_url, "krea/krea-2", llm._fetch)
    assert len(_gets(fake)) == 2
    now[0] += DISCOVERY_TTL_SECONDS + 1
    facts = discovery.facts(llm.base_url, "krea/krea-2", llm._fetch)
    assert len(_gets(fake)) == 4
    assert facts.endpoints == ("images",)
    assert facts.images_per_request == 10
    assert facts.native_stream is True


def test_without_the_lists_the_defaults_apply_and_the_lists_are_asked_again_soon() -> None:
    now = [0.0]
    asked: list[str] = []

    def unreachable(path: str) -> bytes | None:
        asked.append(path)
        return None

    discovery = Discovery(clock=lambda: now[0])
    facts = discovery.facts("https://proxy.example/api/v1", "someone/new-image-model", unreachable)
    assert facts == ModelFacts()
    discovery.facts("https://proxy.example/api/v1", "someone/new-image-model", unreachable)
    assert len(asked) == 2, "not asked again at once"
    now[0] += RETRY_AFTER_FAILURE_SECONDS + 1
    discovery.facts("https://proxy.example/api/v1", "someone/new-image-model", unreachable)
    assert len(asked) == 4


def test_known_models_need_no_lists(fake: FakeOpenRouter) -> None:
    fake.chat_model().invoke("a banana")
    asyncio.run(fake.chat_model(model=GPT_IMAGE).ainvoke("a banana"))
    assert _gets(fake) == []


# ---------------------------------------------------------------- the tool


def test_the_tool_makes_n_images_each_under_its_own_handle(fake: FakeOpenRouter) -> None:
    tool = NanoBananaImageTool(llm=fake.chat_model(model=GPT_IMAGE))
    call = {
        "type": "tool_call",
        "id": "c1",
        "name": "generate_image",
        "args": {"prompt": "a banana", "n": 3},
    }

    message = tool.invoke(call)

    handles = [block["id"] for block in message.artifact]
    assert len(set(handles)) == 3
    assert all(handle in message.content for handle in handles)
    assert [tool.images.get(h).data for h in handles] == [i.data for i in images_from(message)]
    assert tool.args_schema.model_json_schema()["properties"]["n"]["maximum"] == 4
    too_many = {**call, "args": {"prompt": "a banana", "n": 5}}
    assert tool.invoke(too_many).status == "error"


def test_a_whole_answer_to_a_stream_request_is_read_as_the_answer() -> None:
    encoded = base64.b64encode(_photo()).decode()
    whole = json.dumps(
        {"created": 1, "data": [{"b64_json": encoded, "media_type": "image/jpeg"}], "usage": {}}
    ).encode()
    reader = StreamReader(GPT_IMAGE)

    chunks = reader.add(reader.parse(whole))

    assert chunks[0].content[0]["base64"] == encoded
    assert reader.close().response_metadata["finish_reason"] == "stop"
