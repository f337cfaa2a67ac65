"""The emulator itself, spoken to with bare httpx: does it reproduce the recorded wire facts?"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import jsonschema
import pytest
from PIL import Image

from langchain_nanobanana.testing import FakeOpenRouter, Outcome, describe_image
from langchain_nanobanana.testing._png import encode_png, png_text
from tests.support.recorded import sse_payloads

KEY = "sk-or-emulator-test-key"
AUTH = {"Authorization": f"Bearer {KEY}"}


def _body(prompt: str = "a banana", **extra: Any) -> dict[str, Any]:
    return {
        "model": "google/gemini-2.5-flash-image",
        "messages": [{"role": "user", "content": prompt}],
        "modalities": ["image", "text"],
        **extra,
    }


def _post(client: httpx.Client, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    return client.post("/chat/completions", json=body, headers=AUTH if headers is None else headers)


def _image_of(answer: dict[str, Any]) -> bytes:
    url = answer["choices"][0]["message"]["images"][0]["image_url"]["url"]
    assert url.startswith("data:image/png;base64,")
    return base64.b64decode(url.split(",", 1)[1])


@pytest.fixture
def client(fake: FakeOpenRouter) -> httpx.Client:
    return fake.client()


# ---------------------------------------------------------------- PNGs


def test_png_writer_output_decodes_with_pillow_and_keeps_text() -> None:
    rows = b"".join(b"\0" + bytes([x % 256, 0, 255]) * 5 for x in range(3))
    png = encode_png(5, 3, rows, {"prompt": "hi"})
    picture = Image.open(io.BytesIO(png))
    assert (picture.size, picture.mode) == ((5, 3), "RGB")
    assert picture.getpixel((0, 2)) == (2, 0, 255)
    assert png_text(png) == {"prompt": "hi"}


def test_png_writer_refuses_wrongly_sized_scanlines() -> None:
    with pytest.raises(ValueError, match="scanlines"):
        encode_png(2, 2, b"\0" * 5)


# ---------------------------------------------------------------- the recorded answer


def test_answer_has_the_recorded_envelope(client: httpx.Client) -> None:
    response = _post(client, _body())
    answer = response.json()

    assert response.headers["x-generation-id"] == answer["id"]
    assert answer["id"].startswith("gen-")
    assert (answer["object"], answer["provider"]) == ("chat.completion", "Google")
    choice = answer["choices"][0]
    assert (choice["finish_reason"], choice["native_finish_reason"]) == ("stop", "STOP")
    assert choice["message"]["role"] == "assistant"
    assert choice["message"]["images"][0]["type"] == "image_url"
    usage = answer["usage"]
    assert usage["completion_tokens_details"]["image_tokens"] == 1290
    text_tokens = -(-len(choice["message"]["content"]) // 4)
    assert usage["completion_tokens"] == 1290 + text_tokens
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert set(usage["cost_details"]) == {
        "upstream_inference_cost",
        "upstream_inference_prompt_cost",
        "upstream_inference_completions_cost",
    }


def test_cost_matches_the_recorded_example() -> None:
    fake = FakeOpenRouter(reply_text="")
    prompt = "x" * 48  # 12 prompt tokens at 4 characters a token
    answer = _post(fake.client(), _body(prompt)).json()
    assert answer["usage"]["prompt_tokens"] == 12
    assert answer["usage"]["completion_tokens"] == 1290
    assert answer["usage"]["cost"] == pytest.approx(0.0387036)
    assert answer["choices"][0]["message"]["content"] == ""


@pytest.mark.parametrize(
    ("model", "config", "size"),
    [
        ("google/gemini-2.5-flash-image", {}, (1024, 1024)),
        ("google/gemini-2.5-flash-image", {"aspect_ratio": "21:9"}, (1536, 672)),
        ("google/gemini-2.5-flash-image", {"aspect_ratio": "2:3"}, (832, 1248)),
        ("google/gemini-3-pro-image", {"image_size": "2K"}, (2048, 2048)),
        ("google/gemini-3-pro-image", {"aspect_ratio": "16:9"}, (1376, 768)),
    ],
)
def test_images_have_the_recorded_pixel_sizes(
    client: httpx.Client, model: str, config: dict[str, str], size: tuple[int, int]
) -> None:
    answer = _post(client, _body(model=model, image_config=config)).json()
    picture = Image.open(io.BytesIO(_image_of(answer)))
    picture.load()
    assert (picture.format, picture.mode, picture.size) == ("PNG", "RGB", size)


def test_same_request_same_image_other_prompt_other_image(client: httpx.Client) -> None:
    first = _image_of(_post(client, _body("a banana", seed=1)).json())
    again = _image_of(_post(client, _body("a banana", seed=1)).json())
    other_seed = _image_of(_post(client, _body("a banana", seed=2)).json())
    other_prompt = _image_of(_post(client, _body("an apple", seed=1)).json())
    assert first == again
    assert len({first, other_seed, other_prompt}) == 3
    assert describe_image(first)["prompt"] == "a banana"


def test_an_edit_is_derived_from_its_input_and_follows_its_shape(client: httpx.Client) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (300, 170), "navy").save(buffer, format="PNG")
    source = buffer.getvalue()
    url = "data:image/png;base64," + base64.b64encode(source).decode()
    message = {
        "role": "user",
        "content": [
            {"type": "text", "text": "make it blue"},
            {"type": "image_url", "image_url": {"url": url}},
        ],
    }

    answer = _post(client, {**_body(), "messages": [message]}).json()

    description = describe_image(_image_of(answer))
    assert description["sources"] == hashlib.sha256(source).hexdigest()
    assert description["prompt"] == "make it blue"
    assert (description["width"], description["height"]) == (1344, 768)  # nearest ratio: 16:9
    assert answer["usage"]["prompt_tokens"] == 3 + 258


def test_noise_makes_photo_sized_images() -> None:
    answer = _post(FakeOpenRouter(noise=True).client(), _body()).json()
    encoded = answer["choices"][0]["message"]["images"][0]["image_url"]["url"]
    assert 1_000_000 < len(encoded) < 3_000_000


def test_leading_whitespace_padding_is_sent_before_the_json() -> None:
    response = _post(FakeOpenRouter(leading_whitespace=64).client(), _body())
    assert response.content.startswith(b" " * 64 + b"{")
    assert response.json()["choices"]


# ---------------------------------------------------------------- streaming


def test_stream_is_framed_as_recorded(client: httpx.Client) -> None:
    """Keep-alives, one chunk with the whole image (and the text) and the finish reason,
    one usage chunk with null finish reasons, [DONE]; tests/unit/testing/
    test_recorded_shapes.py holds the same against the recording itself."""
    raw = _post(client, _body(stream=True)).content
    comments, data = sse_payloads(raw)

    assert raw.startswith(b": OPENROUTER PROCESSING\n\n" * 19)
    assert len(comments) == 19
    assert data[-1] == b"[DONE]"
    answer, closing = (json.loads(d) for d in data[:-1])
    assert answer["object"] == closing["object"] == "chat.completion.chunk"
    first = answer["choices"][0]
    assert len(first["delta"]["images"]) == 1, "the whole image arrives in one data line"
    assert first["delta"]["content"] == "Here is your image of the requested scene."
    assert (first["finish_reason"], first["native_finish_reason"]) == ("stop", "STOP")
    assert "usage" not in answer
    last = closing["choices"][0]
    assert last["delta"] == {"role": "assistant", "content": ""}
    assert (last["finish_reason"], last["native_finish_reason"]) == (None, None)
    assert closing["usage"]["cost"] > 0


def test_text_before_image_streams_the_text_in_deltas_first() -> None:
    raw = _post(FakeOpenRouter(text_before_image=True).client(), _body(stream=True)).content
    chunks = [json.loads(d) for d in sse_payloads(raw)[1][:-1]]
    texts = [c["choices"][0]["delta"]["content"] for c in chunks[:-2]]
    assert len(texts) >= 2
    assert "".join(texts) == "Here is your image of the requested scene."
    image_chunk = chunks[-2]["choices"][0]
    assert (image_chunk["delta"]["content"], image_chunk["finish_reason"]) == ("", "stop")


def test_streamed_and_whole_answers_describe_the_same_image_and_usage(client: httpx.Client) -> None:
    whole = _post(client, _body(seed=9)).json()
    _, data = sse_payloads(_post(client, _body(seed=9, stream=True)).content)
    chunks = [json.loads(d) for d in data[:-1]]

    streamed_text = "".join(c["choices"][0]["delta"]["content"] for c in chunks)
    (image_chunk,) = [c for c in chunks if c["choices"][0]["delta"].get("images")]
    streamed_image = image_chunk["choices"][0]["delta"]["images"][0]["image_url"]["url"]
    assert streamed_text == whole["choices"][0]["message"]["content"]
    assert streamed_image == whole["choices"][0]["message"]["images"][0]["image_url"]["url"]
    assert chunks[-1]["usage"] == whole["usage"]


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b"{not json", 400, "Invalid JSON"),
        ({"messages": [{"role": "user", "content": "x"}]}, 400, "model is required"),
        ({"model": "google/gemini-2.5-flash-image", "messages": "x"}, 400, "messages"),
        (_body(image_config={"aspect_ratio": "1:8"}), 400, "aspect_ratio"),
        (_body(image_config={"image_size": "4K"}), 400, "image_size"),
        (_body(model="acme/unknown"), 404, "No endpoints found for acme/unknown"),
        (_body(model="black-forest-labs/flux.2-pro"), 404, "output modalities: image, text"),
    ],
)
def test_requests_the_service_refuses(
    client: httpx.Client, body: Any, status: int, message: str
) -> None:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = client.post("/chat/completions", content=content, headers=AUTH)
    assert response.status_code == status
    assert message in response.json()["error"]["message"]
    assert response.json()["error"]["code"] == status


def test_image_only_models_answer_to_image_modality(client: httpx.Client) -> None:
    answer = _post(client, _body(model="black-forest-labs/flux.2-pro", modalities=["image"])).json()
    assert _image_of(answer)[:4] == b"\x89PNG"
    assert answer["choices"][0]["message"]["content"] == ""


def test_missing_key_is_401(client: httpx.Client) -> None:
    response = _post(client, _body(), headers={})
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "No auth credentials found"


def test_image_over_30_mb_is_413(client: httpx.Client) -> None:
    huge = "data:image/png;base64," + "A" * (41 * 1024 * 1024)
    message = {
        "role": "user",
        "content": [
            {"type": "text", "text": "x"},
            {"type": "image_url", "image_url": {"url": huge}},
        ],
    }
    response = _post(client, {**_body(), "messages": [message]})
    assert response.status_code == 413
    assert "30MB" in response.json()["error"]["message"]


def test_structured_output_answer_validates_against_the_schema(client: httpx.Client) -> None:
    schema = {
        "type": "object",
        "properties": {
            "title": {"type": "string"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "mood": {"enum": ["calm", "wild"]},
            "size": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
            "where": {"$ref": "#/$defs/Place"},
        },
        "required": ["title", "tags", "mood", "size", "where"],
        "$defs": {
            "Place": {"type": "object", "properties": {"x": {"type": "number"}}, "required": ["x"]}
        },
    }
    body = _body(
        response_format={"type": "json_schema", "json_schema": {"name": "t", "schema": schema}}
    )

    answer = _post(client, body).json()

    message = answer["choices"][0]["message"]
    assert "images" not in message
    jsonschema.validate(json.loads(message["content"]), schema)


def test_stop_and_max_tokens_shape_the_answer(client: httpx.Client) -> None:
    stopped = _post(client, _body(stop=["your"])).json()["choices"][0]
    assert stopped["message"]["content"] == "Here is "
    cut = _post(client, _body(max_tokens=3)).json()["choices"][0]
    assert (cut["finish_reason"], cut["native_finish_reason"]) == ("length", "MAX_TOKENS")
    assert "images" not in cut["message"]


# ---------------------------------------------------------------- other endpoints


def test_models_lists_image_models_with_prices(client: httpx.Client) -> None:
    listed = client.get("/models", params={"output_modalities": "image"}).json()["data"]
    by_id = {model["id"]: model for model in listed}
    flash = by_id["google/gemini-2.5-flash-image"]
    assert flash["architecture"]["output_modalities"] == ["image", "text"]
    assert float(flash["pricing"]["image_output"]) == pytest.approx(30e-6)
    assert "image" not in flash["pricing"], "that key is an input image's price"
    assert "structured_outputs" in flash["supported_parameters"]
    assert by_id["black-forest-labs/flux.2-pro"]["architecture"]["output_modalities"] == ["image"]
    assert client.get("/models", params={"output_modalities": "audio"}).json()["data"] == []


def test_generation_lookup_returns_what_was_billed(client: httpx.Client) -> None:
    answer = _post(client, _body()).json()
    record = client.get("/generation", params={"id": answer["id"]}).json()["data"]
    assert record["total_cost"] == answer["usage"]["cost"]
    assert record["tokens_completion"] == answer["usage"]["completion_tokens"]
    assert client.get("/generation", params={"id": "gen-nope"}).status_code == 404


# ---------------------------------------------------------------- scripted outcomes, in process


def test_http_error_outcome_with_headers_then_normal_answers(
    fake: FakeOpenRouter, client: httpx.Client
) -> None:
    fake.enqueue(Outcome.http_error(429, headers={"Retry-After": "7"}), Outcome.http_error(402))
    first, second, third = (_post(client, _body()) for _ in range(3))
    assert (first.status_code, first.headers["retry-after"]) == (429, "7")
    assert second.status_code == 402
    assert "credits" in second.json()["error"]["message"]
    assert third.status_code == 200


def test_error_in_200_in_both_modes(fake: FakeOpenRouter, client: httpx.Client) -> None:
    fake.enqueue(Outcome.error_in_200(502, "upstream"), Outcome.error_in_200(502, "upstream"))
    whole = _post(client, _body())
    assert (whole.status_code, whole.json()["error"]["code"]) == (200, 502)
    _, data = sse_payloads(_post(client, _body(stream=True)).content)
    assert [json.loads(d) for d in data] == [{"error": {"code": 502, "message": "upstream"}}]


def test_choice_error_midstream() -> None:
    fake = FakeOpenRouter(text_before_image=True)
    fake.enqueue(Outcome.choice_error(502, "Provider returned error"))
    _, data = sse_payloads(_post(fake.client(), _body(stream=True)).content)
    chunks = [json.loads(d) for d in data[:-1]]
    assert chunks[0]["choices"][0]["delta"]["content"]
    error_chunk = chunks[-1]
    assert error_chunk["error"]["metadata"]["error_type"] == "provider_unavailable"
    assert error_chunk["choices"][0]["finish_reason"] == "error"


def test_no_image_outcome(fake: FakeOpenRouter, client: httpx.Client) -> None:
    fake.enqueue(Outcome.no_image("IMAGE_SAFETY", "Blocked."))
    choice = _post(client, _body()).json()["choices"][0]
    assert "images" not in choice["message"]
    assert (choice["message"]["content"], choice["native_finish_reason"]) == (
        "Blocked.",
        "IMAGE_SAFETY",
    )


def test_no_image_outcome_scripts_the_finish_reason_and_a_refusal_whole_and_streamed(
    fake: FakeOpenRouter, client: httpx.Client
) -> None:
    outcome = Outcome.no_image("SAFETY", "", finish_reason="content_filter", refusal="No.")
    fake.enqueue(outcome)
    choice = _post(client, _body()).json()["choices"][0]
    assert (choice["finish_reason"], choice["native_finish_reason"]) == ("content_filter", "SAFETY")
    assert choice["message"]["refusal"] == "No."
    assert "images" not in choice["message"]

    fake.enqueue(outcome)
    _, data = sse_payloads(_post(client, _body(stream=True)).content)
    chunks = [json.loads(d) for d in data[:-1]]
    closing = chunks[0]["choices"][0]
    assert closing["delta"] == {"role": "assistant", "content": "", "refusal": "No."}
    assert (closing["finish_reason"], closing["native_finish_reason"]) == (
        "content_filter",
        "SAFETY",
    )
    assert "refusal" not in chunks[-1]["choices"][0]["delta"], "said once, not on the usage chunk"
    assert data[-1] == b"[DONE]"


def test_dropped_connection_in_process_raises_while_reading(
    fake: FakeOpenRouter, client: httpx.Client
) -> None:
    fake.enqueue(Outcome.drop_connection())
    with pytest.raises(httpx.RemoteProtocolError):
        _post(client, _body(stream=True))


def test_async_transport_answers_the_same(fake: FakeOpenRouter) -> None:
    async def ask() -> dict[str, Any]:
        async with fake.async_client() as client:
            response = await client.post("/chat/completions", json=_body(seed=4), headers=AUTH)
            return dict(response.json())

    whole = asyncio.run(ask())
    assert _image_of(whole) == _image_of(_post(fake.client(), _body(seed=4)).json())


# ---------------------------------------------------------------- over loopback HTTP


def test_server_drops_the_connection_mid_stream() -> None:
    fake = FakeOpenRouter(text_before_image=True)
    fake.enqueue(Outcome.drop_connection())
    received = []
    request = {"json": _body(stream=True), "headers": AUTH}
    with (
        fake.serve() as base_url,
        httpx.Client(base_url=base_url) as client,
        pytest.raises(httpx.RemoteProtocolError),
        client.stream("POST", "/chat/completions", **request) as response,
    ):
        received.extend(response.iter_lines())
    assert any(line.startswith("data: ") for line in received), "text arrived before the cut"


def test_server_delay_trips_a_client_read_timeout(fake: FakeOpenRouter, base_url: str) -> None:
    fake.enqueue(Outcome.wait(1.5))
    with httpx.Client(base_url=base_url, timeout=0.2) as client, pytest.raises(httpx.ReadTimeout):
        _post(client, _body())


def test_server_sends_raw_bodies_verbatim(fake: FakeOpenRouter, base_url: str) -> None:
    fake.enqueue(Outcome.raw(502, b"<html>Bad gateway</html>"))
    with httpx.Client(base_url=base_url) as client:
        response = _post(client, _body())
    assert (response.status_code, response.text) == (502, "<html>Bad gateway</html>")
    assert response.headers["content-type"] == "text/html"


def test_server_takes_64_concurrent_requests(fake: FakeOpenRouter, base_url: str) -> None:
    limits = httpx.Limits(max_connections=64)
    with httpx.Client(base_url=base_url, limits=limits) as client, ThreadPoolExecutor(64) as pool:
        statuses = list(
            pool.map(lambda n: _post(client, _body(f"picture {n}")).status_code, range(64))
        )
    assert statuses == [200] * 64
    assert len({r.body["messages"][0]["content"] for r in fake.requests}) == 64


def test_the_key_is_recorded_for_checks_but_never_shown(
    fake: FakeOpenRouter, base_url: str, capfd: pytest.CaptureFixture[str]
) -> None:
    with httpx.Client(base_url=base_url) as client:
        _post(client, _body())
    request = fake.requests[-1]
    assert request.bearer_token == KEY
    assert request.headers["authorization"] == "Bearer ***"
    assert KEY not in repr(fake.requests)
    out, err = capfd.readouterr()
    assert KEY not in out + err
