"""The package against a hostile server (raw bytes on loopback) and odd input.

One section per fault class of docs/reliability.md; each asserts the typed error
or the bounded outcome, through ``invoke``, ``ainvoke``, ``stream`` and ``astream``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from pydantic import SecretStr

from langchain_nanobanana import ChatNanoBanana, _budget, _media, _sse
from langchain_nanobanana.errors import (
    OpenRouterAPIError,
    OpenRouterAuthenticationError,
    OpenRouterConnectionError,
    OpenRouterError,
    OpenRouterTimeoutError,
)
from tests.conftest import TEST_KEY
from tests.hostile import (
    PNG,
    HostileServer,
    answer,
    completion,
    endless,
    events,
    gzip_bomb,
    keep_alives,
    trickle,
    whole_or_streamed,
)

MODES = ["invoke", "ainvoke", "stream", "astream"]
PNG_B64 = base64.b64encode(PNG).decode()


def model(url: str, **fields: Any) -> ChatNanoBanana:
    settings: dict[str, Any] = {"api_key": TEST_KEY, "max_retries": 0, "timeout": 2.0}
    return ChatNanoBanana(base_url=url, **{**settings, **fields})


def run(llm: ChatNanoBanana, mode: str, prompt: Any = "a banana") -> AIMessage:
    """One call in ``mode``; a stream's chunks summed into one message."""
    if mode == "invoke":
        return llm.invoke(prompt)
    if mode == "ainvoke":
        return asyncio.run(llm.ainvoke(prompt))
    if mode == "stream":
        chunks = list(llm.stream(prompt))
    else:

        async def collect() -> list[Any]:
            return [chunk async for chunk in llm.astream(prompt)]

        chunks = asyncio.run(collect())
    total = chunks[0]
    for chunk in chunks[1:]:
        total = total + chunk
    return AIMessage(content=total.content, response_metadata=total.response_metadata)


def image_blocks(message: AIMessage) -> list[dict[str, Any]]:
    return [b for b in message.content if isinstance(b, dict) and b.get("type") == "image"]


# ---------------------------------------------------------------- the key


@pytest.mark.parametrize("ending", ["\n", "\r\n", "\0", " ", "é", "\u2028"])
def test_a_malformed_key_is_refused_at_construction_without_repeating_it(ending: str) -> None:
    key = TEST_KEY + ending
    with pytest.raises(OpenRouterAuthenticationError) as caught:
        ChatNanoBanana(api_key=key)
    assert TEST_KEY not in str(caught.value)
    assert "malformed" in str(caught.value)


def test_a_malformed_key_from_the_environment_is_refused_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENROUTER_API_KEY", TEST_KEY + "\r\n")
    with pytest.raises(OpenRouterAuthenticationError) as caught:
        ChatNanoBanana()
    assert TEST_KEY not in str(caught.value)


@pytest.mark.parametrize("mode", MODES)
def test_a_key_broken_after_construction_is_refused_before_sending(mode: str) -> None:
    with HostileServer(whole_or_streamed(completion())) as server:
        llm = model(server.url)
        llm.api_key = SecretStr(TEST_KEY + "\n")
        with pytest.raises(OpenRouterAuthenticationError) as caught:
            run(llm, mode)
    assert TEST_KEY not in str(caught.value)
    assert server.requests == []


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("variable", ["HTTP_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"])
def test_plain_http_never_goes_through_a_proxy(
    mode: str, variable: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with (
        HostileServer(whole_or_streamed(completion())) as proxy,
        HostileServer(whole_or_streamed(completion())) as server,
    ):
        monkeypatch.setenv(variable, proxy.url.removesuffix("/api/v1"))
        message = run(model(server.url), mode)
    assert image_blocks(message)
    assert proxy.requests == []
    assert len(server.requests) == 1


@pytest.mark.parametrize(
    "url", ["http://user:pass@127.0.0.1:1/api/v1", "https://:secret-pw@openrouter.ai/api/v1"]
)
def test_credentials_in_the_base_url_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="user name or password") as caught:
        ChatNanoBanana(api_key=TEST_KEY, base_url=url)
    assert url not in str(caught.value)
    assert "secret-pw" not in str(caught.value)


@pytest.mark.parametrize(
    "fields", [{"base_url": "ftp://x"}, {"max_retries": -1}, {"aspect_ratio": "7:3"}]
)
def test_no_refused_setting_shows_the_key_in_its_error(fields: dict[str, Any]) -> None:
    with pytest.raises(ValueError) as caught:
        ChatNanoBanana(api_key=TEST_KEY, **fields)
    assert TEST_KEY[:12] not in str(caught.value)


# ---------------------------------------------------------------- untyped failures


def _error(code: Any, **metadata: Any) -> bytes:
    return json.dumps({"error": {"code": code, "message": "upstream", "metadata": metadata}}).encode()


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("status", "body", "headers"),
    [
        (503, b"{}", [("Retry-After", "soon, maybe")]),
        (503, b"{}", [("Retry-After", "Fri, 99 Foo 2026 99:99:99 GMT")]),
        (503, b"{}", [("Retry-After", "-5")]),
        (502, _error("\u00b2"), []),
        (502, _error(502, retry_after_seconds=-30), []),
        (429, _error(429, retry_after_seconds="later"), []),
        (502, b'{"error":' * 5000 + b"1" + b"}" * 5000, []),
        (500, b"[" * 100_000, []),
    ],
)
def test_odd_error_answers_are_typed_and_retried(
    mode: str, status: int, body: bytes, headers: list[tuple[str, str]], backoffs: list[float]
) -> None:
    with HostileServer(answer(body, status, headers)) as server:
        with pytest.raises(OpenRouterError):
            run(model(server.url, max_retries=2), mode)
    assert len(server.requests) == 3  # retried, as a 5xx/429 is
    assert all(0 <= wait <= 60 for wait in backoffs)


def test_a_negative_max_retries_is_refused_at_construction() -> None:
    with pytest.raises(ValueError, match="max_retries"):
        ChatNanoBanana(api_key=TEST_KEY, max_retries=-1)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("envelope", [{"id": "gen-1"}, {"id": "gen-1", "choices": []}])
def test_an_answer_without_choices_is_the_same_error_whole_or_streamed(
    mode: str, envelope: dict[str, Any]
) -> None:
    script = (
        events([json.dumps(envelope).encode(), b"[DONE]"])
        if mode.endswith("stream")
        else answer(json.dumps(envelope).encode())
    )
    with HostileServer(script) as server:
        with pytest.raises(OpenRouterAPIError, match="no choices"):
            run(model(server.url), mode)


@pytest.mark.parametrize("mode", ["stream", "astream"])
@pytest.mark.parametrize("content_type", ["TEXT/EVENT-STREAM", "Text/Event-Stream; charset=utf-8"])
def test_media_types_are_read_case_insensitively(mode: str, content_type: str) -> None:
    with HostileServer(whole_or_streamed(completion(), content_type)) as server:
        message = run(model(server.url), mode)
    assert image_blocks(message)[0]["base64"] == PNG_B64


# ---------------------------------------------------------------- the deadline


@pytest.mark.parametrize("mode", MODES)
def test_a_trickling_server_cannot_hold_a_call_past_its_deadline(mode: str) -> None:
    content_type = "text/event-stream" if mode.endswith("stream") else "application/json"
    with HostileServer(trickle(every=0.2, content_type=content_type)) as server:
        started = time.monotonic()
        with pytest.raises(OpenRouterTimeoutError, match="deadline"):
            run(model(server.url, timeout=1.0, deadline=1.5), mode)
    # Unbounded before: each space reset the read timeout. Generous bound: 3x.
    assert time.monotonic() - started < 3 * 1.5


@pytest.mark.parametrize("mode", ["stream", "astream"])
def test_keep_alive_comments_cannot_hold_a_stream_past_its_deadline(mode: str) -> None:
    with HostileServer(keep_alives(every=0.2)) as server:
        started = time.monotonic()
        with pytest.raises(OpenRouterTimeoutError, match="deadline"):
            run(model(server.url, timeout=1.0, deadline=1.5), mode)
    assert time.monotonic() - started < 3 * 1.5


@pytest.mark.parametrize("mode", MODES)
def test_no_retry_starts_after_the_deadline(mode: str, backoffs: list[float]) -> None:
    # Each answer is a 503 that asks for a 30 s wait: the wait would end past the deadline.
    script = answer(b"{}", 503, [("Retry-After", "30")])
    with HostileServer(script) as server:
        with pytest.raises(OpenRouterAPIError):
            run(model(server.url, max_retries=5, deadline=10.0), mode)
    assert len(server.requests) == 1
    assert backoffs == []


def test_the_default_deadline_fits_a_slow_4k_generation() -> None:
    # Published: 60-120 s and more for Gemini 3 Pro Image at 4K behind proxies.
    deadline = ChatNanoBanana(api_key=TEST_KEY).deadline
    assert deadline is not None and deadline >= 3 * 120


# ---------------------------------------------------------------- memory


@pytest.fixture
def small_caps(monkeypatch: pytest.MonkeyPatch) -> int:
    """Caps of 2 MB, so the tests move megabytes, not hundreds of them."""
    cap = 2 * 1024 * 1024
    monkeypatch.setattr(_budget, "MAX_ANSWER_BYTES", cap)
    monkeypatch.setattr(_sse, "MAX_EVENT_BYTES", cap // 2)
    monkeypatch.setattr(_sse, "MAX_EVENTS", 1_000)
    monkeypatch.setattr(_media, "MAX_REQUEST_MEDIA_BYTES", cap)
    return cap


@pytest.mark.parametrize("mode", MODES)
def test_a_gzip_bomb_stops_at_the_decompressed_cap(mode: str, small_caps: int) -> None:
    with HostileServer(gzip_bomb(50 * small_caps)) as server:
        with pytest.raises(OpenRouterAPIError, match="larger than 2 MB"):
            run(model(server.url), mode)


@pytest.mark.parametrize("mode", MODES)
def test_a_declared_oversized_answer_is_refused_before_reading(mode: str, small_caps: int) -> None:
    script = answer(b"", headers=[("Content-Length", str(200 * 1024 * 1024))])
    with HostileServer(script) as server:
        with pytest.raises(OpenRouterAPIError, match="larger than"):
            run(model(server.url), mode)


@pytest.mark.parametrize("mode", ["invoke", "ainvoke"])
def test_an_endless_answer_stops_at_the_cap(mode: str, small_caps: int) -> None:
    with HostileServer(endless(b" " * 65536)) as server:
        with pytest.raises(OpenRouterAPIError, match="larger than"):
            run(model(server.url), mode)


@pytest.mark.parametrize("mode", ["stream", "astream"])
@pytest.mark.parametrize(
    ("piece", "said"),
    [
        (b"data: " + b"A" * 65536, "stream event over"),  # one line that never ends
        (b'data: {"choices":[]}\n\n', "events"),  # tiny events without end
    ],
)
def test_an_endless_stream_stops_at_a_cap(mode: str, piece: bytes, said: str, small_caps: int) -> None:
    with HostileServer(endless(piece, "text/event-stream")) as server:
        with pytest.raises(OpenRouterAPIError, match=said):
            run(model(server.url), mode)


@pytest.mark.parametrize("mode", MODES)
def test_attachments_over_the_request_cap_are_refused_before_sending(
    mode: str, small_caps: int
) -> None:
    big_png = base64.b64encode(PNG + bytes(small_caps // 2)).decode()  # a 1 MB "PNG"
    photos = [{"type": "image", "base64": big_png, "mime_type": "image/png"}] * 3
    with HostileServer(whole_or_streamed(completion())) as server:
        with pytest.raises(ValueError, match="attachments"):
            run(model(server.url), mode, [HumanMessage(content=["edit", *photos])])
    assert server.requests == []


# ---------------------------------------------------------------- images checked by their bytes


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("label", "data"),
    [
        ("image/svg+xml", base64.b64encode(b"<svg onload='alert(1)'/>").decode()),
        ("text/html", base64.b64encode(b"<html><script>x()</script></html>").decode()),
        ("image/png", base64.b64encode(b"hello").decode()),
        ("image/png", PNG_B64[:-8] + "!!!!" + PNG_B64[-4:]),  # damaged base64
        ('image/png" onerror="alert(1)', "#"),
    ],
)
def test_an_answer_image_that_is_no_image_is_refused_with_the_text_kept(
    mode: str, label: str, data: str
) -> None:
    with HostileServer(whole_or_streamed(completion(images=[(label, data)]))) as server:
        with pytest.raises(OpenRouterAPIError, match="refused") as caught:
            run(model(server.url), mode)
    partial = caught.value.partial_message
    assert partial is not None and partial.text == "Here it is."
    assert image_blocks(partial) == []


@pytest.mark.parametrize("mode", MODES)
def test_a_good_image_labelled_wrongly_is_kept_under_its_real_type(mode: str) -> None:
    with HostileServer(whole_or_streamed(completion(images=[("image/svg+xml", PNG_B64)]))) as server:
        (block,) = image_blocks(run(model(server.url), mode))
    assert block["mime_type"] == "image/png"
    assert base64.b64decode(block["base64"]) == PNG


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "data",
    [b"just some text, not a picture", b"MZ\x90\x00\x03 a windows program", b"\x7fELF\x02\x01"],
)
def test_attached_bytes_that_are_no_image_are_refused_whatever_their_label(
    mode: str, data: bytes
) -> None:
    photo = {"type": "image", "base64": base64.b64encode(data).decode(), "mime_type": "image/png"}
    with HostileServer(whole_or_streamed(completion())) as server:
        with pytest.raises(ValueError, match="Cannot send this image"):
            run(model(server.url), mode, [HumanMessage(content=["edit", photo])])
    assert server.requests == []
