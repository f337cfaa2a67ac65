"""The SSE decoder: a line cap that fits a 4K image, keep-alives skipped, any chunking
gives the same events."""

from __future__ import annotations

import asyncio
import tracemalloc
from collections.abc import AsyncIterator

from hypothesis import given, settings
from hypothesis import strategies as st

from langchain_nanobanana._transport.sse import SSEDecoder, aiter_sse_data, iter_sse_data

RECORDED = (
    b": OPENROUTER PROCESSING\n\n"
    b": OPENROUTER PROCESSING\n\n"
    b'data: {"a": 1}\n\n'
    b"event: message\nid: 7\nretry: 100\n"
    b'data: {"b": 2}\n\n'
    b"data: [DONE]\n\n"
)


def test_comments_are_skipped_and_fields_other_than_data_ignored() -> None:
    assert list(iter_sse_data([RECORDED])) == [b'{"a": 1}', b'{"b": 2}', b"[DONE]"]


def test_a_5_mb_line_in_64_kb_pieces_comes_out_whole() -> None:
    payload = b"x" * (5 * 1024 * 1024)
    stream = b"data: " + payload + b"\n\n"
    pieces = [stream[i : i + 65536] for i in range(0, len(stream), 65536)]
    assert list(iter_sse_data(pieces)) == [payload]


def test_crlf_and_lone_cr_line_endings() -> None:
    assert list(iter_sse_data([b"data: a\r\n\r\ndata: b\r\rdata: c\n\n"])) == [b"a", b"b", b"c"]


def test_crlf_split_across_two_pieces() -> None:
    assert list(iter_sse_data([b"data: a\r", b"\n\r", b"\n"])) == [b"a"]


def test_multi_line_data_joins_with_newlines_and_no_space_is_fine() -> None:
    assert list(iter_sse_data([b"data: one\ndata:two\n\n"])) == [b"one\ntwo"]


def test_an_event_without_a_final_blank_line_is_flushed_at_the_end() -> None:
    assert list(iter_sse_data([b"data: last"])) == [b"last"]


@given(st.lists(st.integers(min_value=0, max_value=len(RECORDED)), max_size=20))
def test_any_chunking_gives_the_same_events(cuts: list[int]) -> None:
    points = sorted(set(cuts))
    pieces = [RECORDED[a:b] for a, b in zip([0, *points], [*points, len(RECORDED)], strict=True)]
    assert list(iter_sse_data(pieces)) == list(iter_sse_data([RECORDED]))


def test_the_decoder_can_be_fed_byte_by_byte() -> None:
    decoder = SSEDecoder()
    events = [event for byte in RECORDED for event in decoder.feed(bytes([byte]))]
    assert events + decoder.close() == [b'{"a": 1}', b'{"b": 2}', b"[DONE]"]


def test_async_twin() -> None:
    async def pieces() -> AsyncIterator[bytes]:
        for start in range(0, len(RECORDED), 7):
            yield RECORDED[start : start + 7]

    async def collect() -> list[bytes]:
        return [data async for data in aiter_sse_data(pieces())]

    assert asyncio.run(collect()) == [b'{"a": 1}', b'{"b": 2}', b"[DONE]"]


# ---------------------------------------------------------------- a 4K image's line

LONG = b"A" * (3 * 1024 * 1024 + 5)
LONG_STREAM = (
    b": OPENROUTER PROCESSING\r\n\r\n"
    + b": "
    + LONG[:1_500_000]  # a long comment, skipped
    + b"\r\n"
    + b"data: "
    + LONG
    + b"\r\ndata: and more\r\n\r\n"
    + b'data: {"b": 2}\n\ndata: '
    + LONG
)


@settings(max_examples=20, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=len(LONG_STREAM) - 1), max_size=12))
def test_long_lines_come_out_whole_however_the_stream_is_cut(cuts: list[int]) -> None:
    points = sorted(set(cuts))
    edges = zip([0, *points], [*points, len(LONG_STREAM)], strict=True)
    # Pieces of at most 64 KB between the cuts, as a socket delivers them.
    pieces = [
        LONG_STREAM[start : min(start + 65536, end)]
        for a, end in edges
        for start in range(a, end, 65536)
    ]
    assert list(iter_sse_data(pieces)) == [LONG + b"\nand more", b'{"b": 2}', LONG]


def test_a_long_line_is_held_once_beside_its_data_value() -> None:
    """An 8 MB image line read in 64 KB pieces: the line, then the value copied out of it,
    and no buffer grown past the line's size (bytearray over-allocates by up to an eighth)."""
    value = b"B" * (8 * 1024 * 1024 + 3 * 65536 // 7)
    stream = b"data: " + value + b"\n\n"
    pieces = [stream[start : start + 65536] for start in range(0, len(stream), 65536)]
    tracemalloc.start()
    try:
        (data,) = iter_sse_data(pieces)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert data == value
    assert peak < 2.02 * len(value)
