"""Under faults and bad input it keeps working, loses nothing and leaks nothing."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.exceptions import (
    ModelAPIError,
    ModelConnectionError,
    ModelInvalidRequestError,
    ModelTimeoutError,
)
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

from langchain_nanobanana import ChatNanoBanana, NanoBananaImageTool
from langchain_nanobanana._content.to_openrouter import to_content_part, to_openrouter_messages
from langchain_nanobanana._openrouter.assembler import message_from_completion
from langchain_nanobanana._openrouter.chat_completions import parse_completion
from langchain_nanobanana._transport.loop_clients import pending_closers
from langchain_nanobanana.errors import OpenRouterError
from langchain_nanobanana.testing import FakeOpenRouter, Outcome
from tests.support import TEST_KEY
from tests.support.soak import TIMEOUT, fault_menu, soak

# fault -> what the caller sees and how many requests were made, with max_retries=2.
# Retryable faults are injected three times, so the retries run out. None: an image.
# A 429 uses no retry (the call goes back in line while its deadline allows): three
# of them, and the fourth request brings the image.
_RETRIED = 3
FAULT_TABLE: dict[str, dict[str, tuple[type[Exception] | None, int]]] = {
    "408": {"invoke": (ModelTimeoutError, 3), "stream": (ModelTimeoutError, 3)},
    "429 Retry-After": {"invoke": (None, 4), "stream": (None, 4)},
    "429": {"invoke": (None, 4), "stream": (None, 4)},
    "500": {"invoke": (ModelAPIError, 3), "stream": (ModelAPIError, 3)},
    "502": {"invoke": (ModelAPIError, 3), "stream": (ModelAPIError, 3)},
    "503": {"invoke": (ModelAPIError, 3), "stream": (ModelAPIError, 3)},
    "524": {"invoke": (ModelAPIError, 3), "stream": (ModelAPIError, 3)},
    "529": {"invoke": (ModelAPIError, 3), "stream": (ModelAPIError, 3)},
    "HTML error page": {"invoke": (ModelAPIError, 3), "stream": (ModelAPIError, 3)},
    "400": {"invoke": (ModelInvalidRequestError, 1), "stream": (ModelInvalidRequestError, 1)},
    "error body in 200": {"invoke": (ModelAPIError, 1), "stream": (ModelAPIError, 1)},
    "mid-stream error": {"invoke": (ModelAPIError, 1), "stream": (ModelAPIError, 1)},
    "malformed JSON": {"invoke": (ModelAPIError, 1), "stream": (ModelAPIError, 1)},
    "slow past timeout": {"invoke": (ModelTimeoutError, 1), "stream": (ModelTimeoutError, 1)},
    # A whole answer that breaks off is retried (nothing came back); a stream that
    # breaks off is not (what arrived is kept on the error, and a retry bills twice).
    "dropped connection": {
        "invoke": (ModelConnectionError, 3),
        "stream": (ModelConnectionError, 1),
    },
    # Truncation only exists in streams: the SSE ends with no image, usage or [DONE].
    "truncated stream": {"invoke": (None, 1), "stream": (ModelAPIError, 1)},
}
_MENU = dict(fault_menu())


def _model(base_url: str) -> ChatNanoBanana:
    return ChatNanoBanana(api_key=TEST_KEY, base_url=base_url, timeout=TIMEOUT, max_retries=2)


@pytest.mark.parametrize("fault", list(FAULT_TABLE))
@pytest.mark.parametrize("mode", ["invoke", "stream"])
def test_every_listed_fault_ends_in_its_mapped_error(
    fake: FakeOpenRouter, base_url: str, backoffs: list[float], mode: str, fault: str
) -> None:
    expected, attempts = FAULT_TABLE[fault][mode]
    fake.enqueue(*[_MENU[fault]] * min(attempts, _RETRIED))
    llm = _model(base_url)

    def call() -> None:
        if mode == "invoke":
            llm.invoke("a banana")
        else:
            list(llm.stream("a banana"))

    if expected is None:
        call()
    else:
        with pytest.raises(expected) as caught:
            call()
        assert isinstance(caught.value, OpenRouterError)
        assert TEST_KEY not in str(caught.value)
        assert TEST_KEY not in repr(vars(caught.value))

    chat_requests = [r for r in fake.requests if r.path.endswith("/chat/completions")]
    assert len(chat_requests) == attempts
    if fault == "429 Retry-After":
        # The key's pause (0 s) before the second request; then the call backs off.
        assert len(backoffs) == 3
        assert backoffs[0] == 0.0
        assert 0.25 <= backoffs[1] <= 0.5
    elif fault == "429":
        assert len(backoffs) == 3
        assert 0.25 <= backoffs[0] <= 0.5
    elif attempts > 1:
        assert len(backoffs) == attempts - 1
        assert 0.25 <= backoffs[0] <= 0.5
        assert 0.5 <= backoffs[1] <= 1.0


def test_a_retried_fault_then_success_returns_the_image(
    fake: FakeOpenRouter, base_url: str, backoffs: list[float]
) -> None:
    fake.enqueue(Outcome.http_error(503), Outcome.drop_connection())
    message = _model(base_url).invoke("a banana")
    assert any(b["type"] == "image" for b in message.content if isinstance(b, dict))
    assert len(backoffs) == 2


def test_short_soak(backoffs: list[float]) -> None:
    report = asyncio.run(soak(requests=64, concurrency=16, seed=3))
    assert report.unexpected == []
    assert report.hangs == 0
    assert report.leaked_fds == 0
    assert report.successes + report.mapped_errors == report.requests
    assert report.faults_injected > 0


@contextmanager
def _no_socket_left_unclosed(base_url: str) -> Iterator[None]:
    """Fails if a socket to ``base_url`` is found unclosed by the garbage collector."""
    gc.collect()  # what earlier tests left behind is not this test's concern
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
        gc.collect()
    port = str(httpx.URL(base_url).port)
    unclosed = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    assert [message for message in unclosed if port in message] == []


def test_each_asyncio_run_closes_the_client_it_used(fake: FakeOpenRouter, base_url: str) -> None:
    llm = _model(base_url)
    with _no_socket_left_unclosed(base_url):
        for _ in range(3):
            asyncio.run(llm.ainvoke("a banana"))
            assert llm._get_transport().async_client_count() == 0
    assert len(fake.requests) == 3


def test_models_made_per_request_on_a_long_lived_loop_close_their_clients(
    fake: FakeOpenRouter, base_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    async def serve_three_requests() -> int:
        for _ in range(3):
            llm = _model(base_url)  # as a web handler might, once per request
            await llm.ainvoke("a banana")
            del llm
            gc.collect()
        for _ in range(10):  # the closers run on the loop's next turns
            await asyncio.sleep(0.01)
        return pending_closers(asyncio.get_running_loop())

    with _no_socket_left_unclosed(base_url):
        assert asyncio.run(serve_three_requests()) == 0
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


def test_a_model_that_goes_away_closes_its_sync_connections(
    fake: FakeOpenRouter, base_url: str
) -> None:
    with _no_socket_left_unclosed(base_url):
        for _ in range(3):
            llm = _model(base_url)
            llm.invoke("a banana")
            del llm
            gc.collect()
    assert len(fake.requests) == 3


def test_clients_the_user_supplied_are_never_closed_by_the_model(fake: FakeOpenRouter) -> None:
    sync_client, async_client = fake.client(), fake.async_client()
    llm = ChatNanoBanana(
        api_key=TEST_KEY,
        base_url=fake.base_url,
        http_client=sync_client,
        http_async_client=async_client,
    )
    llm.invoke("a banana")
    asyncio.run(llm.ainvoke("a banana"))
    del llm
    gc.collect()
    assert (sync_client.is_closed, async_client.is_closed) == (False, False)
    assert len(fake.requests) == 2


def test_the_client_outlives_calls_on_a_loop_that_keeps_running(
    fake: FakeOpenRouter, base_url: str
) -> None:
    llm = _model(base_url)

    async def two_calls() -> tuple[httpx.AsyncClient, httpx.AsyncClient]:
        await llm.ainvoke("a banana")
        first = llm._get_transport().async_client()
        await llm.ainvoke("a banana")
        return first, llm._get_transport().async_client()

    first, second = asyncio.run(two_calls())
    assert first is second
    assert first.is_closed  # closed when asyncio.run shut its loop down
    assert len({r.client_port for r in fake.requests}) == 1


def _busy_async_connections(llm: ChatNanoBanana) -> list[Any]:
    """Requests the model's async pools still count, and connections not back in them."""
    sharded = llm._get_transport().async_client()._transport  # type: ignore[attr-defined]
    connections = [c for shard in sharded._transports for c in shard._pool.connections]
    busy = [c for c in connections if not c.is_idle() and not c.is_closed()]
    return [*(n for n in sharded.in_flight if n), *busy]


def test_a_cancelled_stream_closes_its_connection(fake: FakeOpenRouter, base_url: str) -> None:
    llm = _model(base_url)

    async def first_chunk_then_stop() -> httpx.AsyncClient:
        stream = llm.astream("a banana")
        await stream.__anext__()
        await stream.aclose()
        # langchain-core does not close our inner generator itself; the event loop's
        # async-generator finaliser does, on its next turn.
        await asyncio.sleep(0.05)
        return llm._get_transport().async_client()

    async def run() -> list[Any]:
        await first_chunk_then_stop()
        return _busy_async_connections(llm)

    assert asyncio.run(run()) == []


@pytest.mark.parametrize("fault", list(FAULT_TABLE))
def test_the_tool_always_hands_the_agent_a_tool_message(fake: FakeOpenRouter, fault: str) -> None:
    tool = NanoBananaImageTool(llm=fake.chat_model(max_retries=0, timeout=TIMEOUT))
    fake.enqueue(_MENU[fault])
    message = tool.invoke(
        {"type": "tool_call", "id": "c1", "name": "generate_image", "args": {"prompt": "x"}}
    )
    assert isinstance(message, ToolMessage)
    assert len(str(message.content)) < 300
    if message.status == "success":
        assert tool.images.get(message.artifact[0]["id"]).data[:4] == b"\x89PNG"


# ---------------------------------------------------------------- property-based


_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=20)
    | st.binary(max_size=8).map(repr)
)
_json = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)
_block_keys = st.sampled_from(
    [
        "type",
        "text",
        "base64",
        "url",
        "mime_type",
        "image_url",
        "source",
        "source_type",
        "data",
        "file",
        "file_id",
        "extras",
        "value",
        "filename",
        "detail",
    ]
)
_block_types = st.sampled_from(
    [
        "text",
        "image",
        "image_url",
        "file",
        "non_standard",
        "text-plain",
        "audio",
        "reasoning",
        "???",
    ]
)
_blocks = st.one_of(
    st.text(max_size=10),
    st.builds(
        lambda kind, rest: {**rest, "type": kind},
        _block_types,
        st.dictionaries(_block_keys, _json, max_size=4),
    ),
    _json,
)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(st.sampled_from(["human", "ai", "system"]), st.lists(_blocks, max_size=4)),
        max_size=4,
    )
)
def test_any_content_converts_or_raises_a_clear_error(turns: list[tuple[str, list[Any]]]) -> None:
    kinds = {"human": HumanMessage, "ai": AIMessage, "system": HumanMessage}
    try:
        messages = [kinds[role](content=blocks) for role, blocks in turns]
    except (ValueError, TypeError):
        return  # refused by langchain-core itself
    try:
        converted = to_openrouter_messages(messages)
    except (ValueError, TypeError) as error:
        assert str(error)
        return
    for message in converted:
        assert message["role"] in ("user", "assistant", "system")
        for part in message["content"] if isinstance(message["content"], list) else []:
            assert part["type"] in ("text", "image_url", "file")


@settings(max_examples=1000)
@given(_blocks)
def test_any_single_block_converts_or_raises_a_clear_error(block: Any) -> None:
    try:
        part = to_content_part(block)
    except (ValueError, TypeError) as error:
        assert str(error)
        return
    assert part["type"] in ("text", "image_url", "file")


_RECORDED = json.dumps(
    {
        "id": "gen-1",
        "model": "google/gemini-2.5-flash-image",
        "choices": [
            {
                "finish_reason": "stop",
                "message": {
                    "content": "hi",
                    "images": [
                        {
                            "type": "image_url",
                            "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="},
                        }
                    ],
                },
            }
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3},
    }
).encode()


@settings(max_examples=400)
@given(
    st.one_of(
        st.integers(0, len(_RECORDED)).map(lambda n: _RECORDED[:n]),
        _json.map(lambda v: json.dumps(v).encode()),
        st.binary(max_size=40),
    )
)
def test_any_body_parses_or_raises_a_model_api_error_with_an_excerpt(raw: bytes) -> None:
    try:
        message = message_from_completion(parse_completion(raw))
    except OpenRouterError as error:
        # Either OpenRouter reported an error in the body (mapped by its code), or the
        # body could not be read: then a ModelAPIError that carries an excerpt.
        if error.status_code is None:
            assert isinstance(error, ModelAPIError)
            assert error.body is not None
            assert "raw" in error.body or "error" in error.body
        return
    assert isinstance(message, AIMessage)


# ---------------------------------------------------------------- the key stays secret


class _Recorder(BaseCallbackHandler):
    def __init__(self) -> None:
        self.seen: list[str] = []

    def on_chat_model_start(self, serialized: Any, messages: Any, **kwargs: Any) -> None:
        self.seen.append(repr(serialized) + repr(kwargs))

    def on_llm_end(self, response: Any, **kwargs: Any) -> None:
        self.seen.append(repr(response) + repr(kwargs))

    def on_llm_error(self, error: BaseException, **kwargs: Any) -> None:
        self.seen.append(repr(error) + str(error) + repr(kwargs))


def test_the_key_is_not_in_callbacks_logs_or_errors(
    fake: FakeOpenRouter, caplog: pytest.LogCaptureFixture, backoffs: list[float]
) -> None:
    caplog.set_level(logging.DEBUG)
    recorder = _Recorder()
    llm = fake.chat_model(api_key=TEST_KEY, max_retries=1)
    llm.invoke("a banana", config={"callbacks": [recorder]})
    fake.enqueue(Outcome.http_error(500), Outcome.http_error(500))
    with pytest.raises(ModelAPIError):
        llm.invoke("a banana", config={"callbacks": [recorder]})

    assert len(recorder.seen) == 4
    for text in [*recorder.seen, caplog.text]:
        assert TEST_KEY not in text


@pytest.mark.parametrize(
    "url", ["http://example.com/api/v1", "http://10.1.2.3/api/v1", "ftp://x/api", "openrouter.ai"]
)
def test_the_key_is_only_sent_over_https_or_to_this_machine(url: str) -> None:
    with pytest.raises(ValueError, match="base_url"):
        ChatNanoBanana(api_key=TEST_KEY, base_url=url)


def test_plain_http_elsewhere_needs_an_explicit_opt_in() -> None:
    llm = ChatNanoBanana(
        api_key=TEST_KEY, base_url="http://10.1.2.3/api/v1", allow_insecure_http=True
    )
    assert llm.base_url.startswith("http://")
    for url in ("http://127.0.0.1:1/api/v1", "http://localhost/api/v1", "http://[::1]:1/api/v1"):
        ChatNanoBanana(api_key=TEST_KEY, base_url=url)


def test_a_finished_stream_returns_its_connection_to_the_pool_at_once(
    fake: FakeOpenRouter, base_url: str
) -> None:
    llm = _model(base_url)

    async def busy_connections_right_after_the_stream() -> list[Any]:
        chunks = [chunk async for chunk in llm.astream("a banana")]
        assert chunks
        return _busy_async_connections(llm)

    assert asyncio.run(busy_connections_right_after_the_stream()) == []
