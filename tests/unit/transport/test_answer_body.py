"""A whole answer is read into one buffer of its declared size, not one grown to fit."""

from __future__ import annotations

import asyncio
import sys

import httpx
import pytest

from langchain_nanobanana._transport.limits import CallLimits
from langchain_nanobanana._transport.whole_body import collect
from tests.support import TEST_KEY
from tests.support.modes import model

BODY = bytes(range(256)) * 40_000  # 10 MB


def _pieces(data: bytes, size: int = 65536) -> list[bytes]:
    return [data[start : start + size] for start in range(0, len(data), size)]


def test_a_declared_body_fills_a_buffer_of_exactly_its_size() -> None:
    collected = collect(iter(_pieces(BODY)), len(BODY))

    assert collected == BODY
    # Grown chunk by chunk, a 10 MB bytearray holds up to 1.25 MB more than its bytes.
    assert sys.getsizeof(collected) - len(collected) < 100


@pytest.mark.parametrize(
    ("declared", "sent"),
    [(len(BODY) + 1000, BODY), (len(BODY) - 1000, BODY), (None, BODY), (0, b"")],
    ids=["less than declared", "more than declared", "undeclared", "empty"],
)
def test_what_arrives_is_the_body_whatever_was_declared(declared: int | None, sent: bytes) -> None:
    assert collect(iter(_pieces(sent)), declared) == sent


@pytest.mark.parametrize(
    ("headers", "size"),
    [
        ({"content-length": "123"}, 123),
        ({"content-length": "123", "content-encoding": "identity"}, 123),
        ({"content-length": "123", "content-encoding": "gzip"}, None),  # decodes to more
        ({"transfer-encoding": "chunked"}, None),
        ({"content-length": "12x"}, None),
    ],
)
def test_the_size_is_taken_only_from_a_plain_content_length(
    headers: dict[str, str], size: int | None
) -> None:
    headers_of_answer = httpx.Response(200, headers=headers).headers
    assert CallLimits(None).check_declared_size(headers_of_answer) == size


def test_a_streamed_payload_is_held_by_its_reader_alone(base_url: str) -> None:
    """The transport keeps no name on an event it has handed over: the image line is then
    freed as soon as the reader has parsed it, not when the next event comes."""
    transport = model(base_url)._get_transport()
    body = {
        "model": "google/gemini-2.5-flash-image",
        "messages": [{"role": "user", "content": "a banana"}],
        "modalities": ["image", "text"],
        "stream": True,
    }

    def holders(payload: bytes) -> int:
        return sys.getrefcount(payload) - 2  # the caller's name, and this argument

    held = [holders(payload) for payload in transport.stream("chat/completions", TEST_KEY, body)]

    async def collect() -> list[int]:
        events = transport.astream("chat/completions", TEST_KEY, body)
        return [holders(payload) async for payload in events]

    aheld = asyncio.run(collect())
    # The recorded shape: the image chunk, the usage chunk, [DONE].
    assert len(held) == 3 and set(held) == {1}
    assert len(aheld) == len(held) and set(aheld) == {1}
