"""ChatNanoBanana over real loopback HTTP: streaming, pooling, timeouts, dropped connections."""

from __future__ import annotations

import asyncio
import base64
import io
from typing import Any

import pytest
from langchain_core.exceptions import (
    ModelAPIError,
    ModelConnectionError,
    ModelPermissionDeniedError,
    ModelTimeoutError,
)
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessageChunk
from PIL import Image

from langchain_nanobanana import ChatNanoBanana
from langchain_nanobanana.errors import OpenRouterError
from langchain_nanobanana.testing import FakeOpenRouter, Outcome
from tests.support import TEST_KEY


def _model(base_url: str, **fields: Any) -> ChatNanoBanana:
    return ChatNanoBanana(api_key=TEST_KEY, base_url=base_url, **fields)


def _sum(chunks: list[BaseMessageChunk]) -> AIMessageChunk:
    total = chunks[0]
    for chunk in chunks[1:]:
        total += chunk
    assert isinstance(total, AIMessageChunk)
    return total


def _images(message: AIMessage | AIMessageChunk) -> list[dict[str, Any]]:
    return [b for b in message.content if isinstance(b, dict) and b["type"] == "image"]


def _content(message: AIMessage | AIMessageChunk) -> list[dict[str, Any]]:
    """Content minus image ids, which name the generation and so differ between calls."""
    return [
        {k: v for k, v in b.items() if k != "id"} for b in message.content if isinstance(b, dict)
    ]


def _same_answer(left: AIMessage | AIMessageChunk, right: AIMessage | AIMessageChunk) -> None:
    assert _content(left) == _content(right)
    assert left.usage_metadata == right.usage_metadata
    volatile = ("id", "created")
    assert {k: v for k, v in left.response_metadata.items() if k not in volatile} == {
        k: v for k, v in right.response_metadata.items() if k not in volatile
    }


@pytest.mark.parametrize("text_before_image", [False, True])
def test_stream_adds_up_to_invoke_over_http(text_before_image: bool) -> None:
    """Recorded streams bring text and image in one chunk; the docs' example streams text
    first: both add up to what invoke returns."""
    with FakeOpenRouter(text_before_image=text_before_image).serve() as base_url:
        llm = _model(base_url, seed=11)
        whole = llm.invoke("a banana")
        chunks = list(llm.stream("a banana"))

    total = _sum(chunks)
    _same_answer(total, whole)
    image_chunks = [c for c in chunks if _images(c)]  # type: ignore[arg-type]
    assert len(image_chunks) == 1, "each image arrives once, whole"
    assert [c.usage_metadata is not None for c in chunks].count(True) == 1, "usage once"
    assert chunks[-1].chunk_position == "last"  # type: ignore[attr-defined]
    text_chunks = [c for c in chunks if c.text]
    if text_before_image:
        assert len(text_chunks) >= 2, "text is streamed as it comes"
        assert not _images(text_chunks[0])  # type: ignore[arg-type]
    else:
        assert text_chunks == image_chunks, "as recorded: the text rides with the image"
    (image,) = _images(total)
    assert Image.open(io.BytesIO(base64.b64decode(image["base64"]))).size == (1024, 1024)


def test_streaming_field_makes_invoke_stream(fake: FakeOpenRouter, base_url: str) -> None:
    message = _model(base_url, streaming=True).invoke("a banana")
    assert fake.requests[-1].body["stream"] is True
    assert len(_images(message)) == 1
    assert message.usage_metadata is not None


def test_async_calls_share_the_same_results(fake: FakeOpenRouter, base_url: str) -> None:
    llm = _model(base_url, seed=2)

    async def run() -> tuple[AIMessage, AIMessageChunk, list[AIMessage]]:
        whole = await llm.ainvoke("a banana")
        chunks = [chunk async for chunk in llm.astream("a banana")]
        batch = await llm.abatch(["a banana", "an apple"])
        return whole, _sum(chunks), batch

    whole, streamed, batch = asyncio.run(run())
    _same_answer(streamed, whole)
    assert _content(batch[0]) == _content(whole)
    assert _content(batch[1]) != _content(whole)


def test_batch_over_one_pooled_connection(fake: FakeOpenRouter, base_url: str) -> None:
    llm = _model(base_url)
    answers = llm.batch(["one", "two", "three"], config={"max_concurrency": 1})
    assert all(len(_images(a)) == 1 for a in answers)
    assert len({r.client_port for r in fake.requests}) == 1, "keep-alive: one connection reused"


def test_slow_server_past_the_timeout_is_a_timeout_error(
    fake: FakeOpenRouter, base_url: str
) -> None:
    fake.enqueue(Outcome.wait(2.0))
    with pytest.raises(ModelTimeoutError, match="timeout"):
        _model(base_url, timeout=0.3, max_retries=0).invoke("a banana")


def test_settings_changed_after_the_first_call_take_effect(
    fake: FakeOpenRouter, base_url: str, backoffs: list[float]
) -> None:
    llm = _model(base_url, timeout=30)
    llm.invoke("a banana")
    pooled = llm._get_transport().client()

    llm.timeout = 0.3
    llm.max_retries = 0
    fake.enqueue(Outcome.wait(2.0))
    with pytest.raises(ModelTimeoutError):
        llm.invoke("a banana")
    assert backoffs == []

    other = FakeOpenRouter()
    with other.serve() as other_url:
        llm.base_url = other_url
        llm.app_title = "Banana Studio"
        assert _images(llm.invoke("a banana"))
    assert len(other.requests) == 1
    assert other.requests[0].headers["x-title"] == "Banana Studio"
    assert len(fake.requests) == 2
    assert llm._get_transport().client() is pooled, "same pool, new settings"


def test_a_base_url_changed_to_plain_http_elsewhere_is_refused_before_any_call(
    fake: FakeOpenRouter, base_url: str
) -> None:
    llm = _model(base_url)
    llm.invoke("a banana")
    llm.base_url = "http://10.1.2.3/api/v1"
    with pytest.raises(ValueError, match="plain http"):
        llm.invoke("a banana")


def test_connection_refused_is_retried_then_a_connection_error(backoffs: list[float]) -> None:
    with pytest.raises(ModelConnectionError):
        _model("http://127.0.0.1:9/api/v1", max_retries=2).invoke("a banana")
    assert len(backoffs) == 2


def test_dropped_stream_raises_a_connection_error_with_the_partial_text() -> None:
    fake = FakeOpenRouter(text_before_image=True)  # text streams before the cut
    fake.enqueue(Outcome.drop_connection())
    with fake.serve() as base_url, pytest.raises(ModelConnectionError) as caught:
        list(_model(base_url).stream("a banana"))
    error = caught.value
    assert isinstance(error, OpenRouterError)
    assert error.partial_message is not None
    assert error.partial_message.text
    assert len(fake.requests) == 1, "a stream that started is never retried"


def test_truncated_stream_is_an_api_error(fake: FakeOpenRouter, base_url: str) -> None:
    fake.enqueue(Outcome.truncated_stream())
    with pytest.raises(ModelAPIError, match="ended before"):
        list(_model(base_url).stream("a banana"))


def test_mid_stream_error_chunk_raises_mapped_error_with_partial() -> None:
    fake = FakeOpenRouter(text_before_image=True)  # text streams before the error
    fake.enqueue(Outcome.choice_error(502, "Provider returned error"))
    received: list[BaseMessageChunk] = []
    with (
        fake.serve() as base_url,
        pytest.raises(ModelAPIError, match="Provider returned error") as caught,
    ):
        for chunk in _model(base_url).stream("a banana"):
            received.append(chunk)
    error = caught.value
    assert isinstance(error, OpenRouterError)
    assert error.status_code == 502
    assert error.partial_message is not None
    assert error.partial_message.text == "".join(c.text for c in received)


def test_error_in_200_stream_raises_mapped_error(fake: FakeOpenRouter, base_url: str) -> None:
    fake.enqueue(Outcome.error_in_200(403, "Flagged"))
    with pytest.raises(ModelPermissionDeniedError, match="Flagged"):
        list(_model(base_url).stream("a banana"))


def test_stream_retries_a_429_before_the_answer_starts(
    fake: FakeOpenRouter, base_url: str, backoffs: list[float]
) -> None:
    fake.enqueue(Outcome.http_error(429, headers={"Retry-After": "0"}))
    total = _sum(list(_model(base_url).stream("a banana")))
    assert len(_images(total)) == 1
    assert backoffs == [0.0]  # back in line, not a retry: the key's pause (0 s) did the waiting
    assert len(fake.requests) == 2


def test_non_json_error_page_is_an_api_error_with_an_excerpt(
    fake: FakeOpenRouter, base_url: str
) -> None:
    fake.enqueue(Outcome.raw(502, b"<html><body>Bad gateway</body></html>", "text/html"))
    with pytest.raises(ModelAPIError, match="Bad gateway"):
        _model(base_url, max_retries=0).invoke("a banana")


def test_malformed_json_200_is_an_api_error(fake: FakeOpenRouter, base_url: str) -> None:
    fake.enqueue(Outcome.raw(200, b'{"id": "gen-1", "choices": [', "application/json"))
    with pytest.raises(ModelAPIError, match="could not be read"):
        _model(base_url).invoke("a banana")
