"""Request bodies are written to the socket in slices, with their Content-Length.

The JSON text must be exactly ``json.dumps``'s; a large body must never exist whole
in memory (no JSON text, no bytes object, no joined data URL of the image); a retry
must send the same body again.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import tracemalloc
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from langchain_core.messages import HumanMessage, ToolMessage
from langchain_core.stores import InMemoryByteStore

from langchain_nanobanana import NanoBananaImageTool
from langchain_nanobanana._content.media import DataUrl
from langchain_nanobanana._transport.body import SLICE, JsonBody
from langchain_nanobanana.stores import ImageStore
from langchain_nanobanana.testing import FakeOpenRouter, Outcome
from tests.support.modes import MODES, image_blocks, model, run
from tests.support.pictures import picture

# A real PNG with megabytes after its end (decoders stop at IEND): large, and quick to make.
BIG_PNG = picture("red", (8, 8)) + os.urandom(6 * 1024 * 1024)
BIG_BASE64 = base64.b64encode(BIG_PNG).decode()
BIG_DATA_URL = f"data:image/png;base64,{BIG_BASE64}"


def _dumped(body: Any) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


# ---------------------------------------------------------------- the writer itself


SMALL_PNG = picture("blue", (4, 4))
SMALL_BASE64 = base64.b64encode(SMALL_PNG).decode()
LONG_TEXT = 'a "quoted"\\ line\n\t\x01 with é, 香蕉 and 🍌 ' * 20_000  # > SLICE, escapes on borders


@pytest.mark.parametrize(
    ("body", "as_json"),
    [
        ({"model": "m", "stream": True, "n": None, "t": 0.5, "k": [1, (2, 3)]}, None),
        ({"text": LONG_TEXT, "nested": [{"deep": LONG_TEXT[:1000]}]}, None),
        ({3: "three", 2.5: "x", False: "f", None: "n", "é": "key"}, None),
        (
            {"url": DataUrl("image/png", SMALL_BASE64)},
            {"url": f"data:image/png;base64,{SMALL_BASE64}"},
        ),
        (
            {"url": DataUrl("image/png", SMALL_PNG)},
            {"url": f"data:image/png;base64,{SMALL_BASE64}"},
        ),
        ({"url": DataUrl("image/png", BIG_PNG)}, {"url": BIG_DATA_URL}),
        (
            {"refs": [DataUrl("image/png", BIG_BASE64), "https://x/y.png"]},
            {"refs": [BIG_DATA_URL, "https://x/y.png"]},
        ),
    ],
    ids=[
        "plain",
        "long text",
        "odd keys",
        "data url",
        "data url of bytes",
        "big bytes",
        "big text",
    ],
)
def test_the_body_is_exactly_what_json_dumps_writes(body: Any, as_json: Any) -> None:
    expected = _dumped(body if as_json is None else as_json)
    written = JsonBody(body)

    chunks = list(written.chunks())

    assert b"".join(chunks) == expected
    assert written.length == len(expected)
    assert max(map(len, chunks)) <= 2 * SLICE
    assert b"".join(written.chunks()) == expected, "each writing is whole again (a retry)"

    async def collect() -> list[bytes]:
        return [chunk async for chunk in written.achunks()]

    assert b"".join(asyncio.run(collect())) == expected


def test_what_json_refuses_is_refused() -> None:
    with pytest.raises(TypeError):
        JsonBody({"when": object()})
    with pytest.raises(TypeError):
        JsonBody({(1, 2): "tuple keys"})  # type: ignore[dict-item]


def test_a_data_url_equals_the_string_it_stands_for() -> None:
    assert DataUrl("image/png", BIG_BASE64) == BIG_DATA_URL
    assert BIG_DATA_URL == DataUrl("image/png", BIG_PNG)  # noqa: SIM300 - a str on the left
    assert DataUrl("image/png", BIG_BASE64) != BIG_DATA_URL[:-4] + "AAAA"
    assert DataUrl("image/jpeg", SMALL_BASE64) != f"data:image/png;base64,{SMALL_BASE64}"
    assert str(DataUrl("image/png", SMALL_PNG)) == f"data:image/png;base64,{SMALL_BASE64}"
    assert hash(DataUrl("image/png", SMALL_PNG)) == hash(f"data:image/png;base64,{SMALL_BASE64}")


# ---------------------------------------------------------------- on the wire


def _edit(prompt: str = "make it blue", *, openai_form: bool = False) -> list[HumanMessage]:
    image = (
        {"type": "image_url", "image_url": {"url": BIG_DATA_URL}}
        if openai_form
        else {"type": "image", "base64": BIG_BASE64, "mime_type": "image/png"}
    )
    return [HumanMessage([{"type": "text", "text": prompt}, image])]


@pytest.mark.parametrize("mode", MODES)
def test_a_large_body_arrives_whole_with_its_content_length(
    fake: FakeOpenRouter, base_url: str, mode: str
) -> None:
    image_blocks(run(model(base_url), mode, _edit()))

    (request,) = fake.requests
    assert request.size == int(request.headers["content-length"]) > len(BIG_BASE64)
    assert "transfer-encoding" not in request.headers
    (_, part) = request.body["messages"][0]["content"]
    assert part == {"type": "image_url", "image_url": {"url": BIG_DATA_URL}}


def test_the_image_api_gets_the_reference_whole(fake: FakeOpenRouter, base_url: str) -> None:
    model(base_url, model="google/gemini-2.5-flash-image", endpoint="images").invoke(_edit())

    (request,) = fake.requests
    assert request.path.endswith("/images")
    assert BIG_DATA_URL in json.dumps(request.body["input_references"])
    assert request.size == int(request.headers["content-length"])


@pytest.mark.parametrize("mode", ["invoke", "ainvoke"])
def test_a_retry_sends_the_same_large_body_again(
    fake: FakeOpenRouter, base_url: str, backoffs: list[float], mode: str
) -> None:
    fake.enqueue(Outcome.http_error(502))

    run(model(base_url, max_retries=1), mode, _edit())

    first, second = fake.requests
    assert backoffs and first.body == second.body
    assert first.size == second.size == int(second.headers["content-length"])
    assert first.body["messages"][0]["content"][1]["image_url"]["url"] == BIG_DATA_URL


# ---------------------------------------------------------------- never whole in memory


class _Watching(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """The emulator behind a transport that reads each request body as a socket would,
    slice by slice, noting the largest slice and the memory the call had used by the
    time the request was handed over."""

    def __init__(self, fake: FakeOpenRouter) -> None:
        self._fake = fake
        self.slices: list[int] = []
        self.grown_by = 0
        self.baseline = 0

    def start(self) -> None:
        tracemalloc.start()
        self.baseline = tracemalloc.get_traced_memory()[0]

    def _handed_over(self, request: httpx.Request) -> None:
        # Everything made to send the body exists now, or existed: a JSON text or bytes
        # of the whole body, a joined data URL, a second base64 of the image.
        if not self.grown_by:
            self.grown_by = tracemalloc.get_traced_memory()[1] - self.baseline
        assert "transfer-encoding" not in request.headers

    def _whole(self, request: httpx.Request, chunks: list[bytes]) -> httpx.Request:
        self.slices += map(len, chunks)
        body = b"".join(chunks)
        assert len(body) == int(request.headers["content-length"])
        return httpx.Request(request.method, request.url, headers=request.headers, content=body)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self._handed_over(request)
        stream = request.stream
        assert isinstance(stream, httpx.SyncByteStream)
        whole = self._whole(request, list(stream))
        return self._fake.transport.handle_request(whole)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self._handed_over(request)
        stream = request.stream
        assert isinstance(stream, httpx.AsyncByteStream)
        whole = self._whole(request, [chunk async for chunk in stream])
        return await self._fake.async_transport.handle_async_request(whole)


@pytest.fixture
def watching(fake: FakeOpenRouter) -> Iterator[_Watching]:
    transport = _Watching(fake)
    try:
        yield transport
    finally:
        tracemalloc.stop()


def _watched_model(fake: FakeOpenRouter, transport: _Watching, **fields: Any) -> Any:
    return fake.chat_model(
        http_client=httpx.Client(transport=transport, base_url=fake.base_url),
        http_async_client=httpx.AsyncClient(transport=transport, base_url=fake.base_url),
        max_retries=0,
        **fields,
    )


def _check_streamed(transport: _Watching, copies_allowed: float) -> None:
    """Sent in slices, having allocated at most ``copies_allowed`` times the image's
    base64 (the JSON text and bytes of the whole body would be two)."""
    assert sum(transport.slices) > len(BIG_BASE64)
    assert max(transport.slices) <= 2 * SLICE, "the body went as one piece"
    assert transport.grown_by < copies_allowed * len(BIG_BASE64), (
        f"{transport.grown_by / 1e6:.1f} MB were allocated to send a body of "
        f"{sum(transport.slices) / 1e6:.1f} MB: it was built whole, or the image copied"
    )


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("endpoint", ["chat", "images"])
def test_a_large_body_is_streamed_never_built_whole(
    fake: FakeOpenRouter, watching: _Watching, mode: str, endpoint: str
) -> None:
    llm = _watched_model(fake, watching, model="google/gemini-2.5-flash-image", endpoint=endpoint)
    # The OpenAI form: langchain-core itself copies a standard base64 image block into a
    # data URL for tracing on every call (callbacks or not), which no model can prevent.
    messages = _edit(openai_form=True)
    llm.invoke("warm up: imports and the model's facts, before anything is measured")
    watching.start()

    image_blocks(run(llm, mode, messages))

    # One copy comes and goes before the request is sent: the base64 split off the data
    # URL to be checked. The URL itself is sent as it is.
    _check_streamed(watching, copies_allowed=1.5)


@pytest.mark.parametrize("mode", ["invoke", "ainvoke"])
def test_the_tool_sends_a_stored_image_from_its_bytes(
    fake: FakeOpenRouter, watching: _Watching, mode: str
) -> None:
    images = ImageStore(InMemoryByteStore())
    handle = images.put(BIG_PNG, "image/png")
    tool = NanoBananaImageTool(llm=_watched_model(fake, watching), store=images.backend)
    tool.invoke({"prompt": "warm up"})
    watching.start()

    call = {
        "type": "tool_call",
        "id": "call_edit",
        "name": "generate_image",
        "args": {"prompt": "make it blue", "image_ids": [handle]},
    }
    result = tool.invoke(call) if mode == "invoke" else asyncio.run(tool.ainvoke(call))

    assert isinstance(result, ToolMessage) and result.status == "success", result.content
    _check_streamed(watching, copies_allowed=0.25)  # base64 of the stored bytes, a slice at a time
    (_, part) = fake.requests[-1].body["messages"][0]["content"]
    assert part["image_url"]["url"] == BIG_DATA_URL
