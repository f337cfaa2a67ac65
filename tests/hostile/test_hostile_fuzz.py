"""Fuzzing HTTP answers: whatever a server sends, a call ends in an answer or an OpenRouterError.

Hypothesis draws a status, headers (content types in any case, encodings that
lie, lengths that lie, odd Retry-After), and a body (bytes, mutated answers, SSE
framings with odd line ends, comments and misplaced ``[DONE]``), which the
hostile server plays over loopback to ``invoke``, ``ainvoke``, ``stream`` or
``astream``. The example count is reported in docs/reliability.md.
"""

from __future__ import annotations

import gzip
import json
import os
import zlib
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langchain_core.messages import AIMessage

from langchain_nanobanana._transport.shared_limit import forget_all as forget_rate_limits
from langchain_nanobanana.errors import OpenRouterError
from tests.support.hostile import Connection, HostileServer, as_chunks, completion
from tests.support.modes import MODES, model, run

EXAMPLES = int(os.environ.get("NANOBANANA_FUZZ_EXAMPLES", "300"))
"""300 on every run; a longer run: NANOBANANA_FUZZ_EXAMPLES=3000 python -m pytest ..."""

_statuses = st.sampled_from(
    [200, 200, 200, 200, 201, 204, 400, 401, 402, 403, 404, 408, 413, 429, 500, 502, 503, 524, 529]
) | st.integers(200, 599)
_content_types = st.sampled_from(
    [
        "application/json",
        "APPLICATION/JSON; charset=utf-8",
        "text/event-stream",
        "TEXT/EVENT-STREAM",
        "text/html",
        "image/png",
        "",
        "text/event-stream; charset=\u00e9",
    ]
)
_retry_after = st.sampled_from(
    ["0", "1", "-3", "1e308", "nan", "soon", "Fri, 31 Dec 1999 23:59:59 GMT"]
)

_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@st.composite
def _mutated_answer(draw: st.DrawFn) -> dict[str, Any]:
    """A real answer with one field replaced by anything."""
    whole = completion()
    where = draw(st.sampled_from(["id", "choices", "usage", "error", "message", "images", "url"]))
    value = draw(_json_values)
    if where in ("message",):
        whole["choices"][0]["message"] = value
    elif where == "images":
        whole["choices"][0]["message"]["images"] = value
    elif where == "url":
        whole["choices"][0]["message"]["images"][0]["image_url"]["url"] = value
    else:
        whole[where] = value
    return whole


@st.composite
def _sse_body(draw: st.DrawFn) -> bytes:
    payloads = as_chunks(completion())
    if draw(st.booleans()):  # one chunk replaced by a mutated answer
        payloads[0] = json.dumps(draw(_mutated_answer())).encode()
    payloads = draw(st.permutations(payloads)) if draw(st.booleans()) else payloads
    line_end = draw(st.sampled_from([b"\n", b"\r\n", b"\r"]))
    parts = []
    for payload in payloads:
        if draw(st.booleans()):
            parts.append(b": OPENROUTER PROCESSING" + line_end + line_end)
        prefix = draw(st.sampled_from([b"data: ", b"data:", b"event: x" + line_end + b"data: "]))
        parts.append(prefix + payload + line_end + line_end)
    body = b"".join(parts)
    cut = draw(st.integers(0, len(body)))
    return body[:cut] if draw(st.booleans()) else body


_bodies = st.one_of(
    st.binary(max_size=200),
    _mutated_answer().map(lambda whole: json.dumps(whole).encode()),
    _sse_body(),
    _json_values.map(lambda value: json.dumps(value).encode()),
)


@st.composite
def _answers(draw: st.DrawFn) -> tuple[int, list[tuple[str, str]], bytes]:
    status = draw(_statuses)
    body = draw(_bodies)
    headers = [("Content-Type", draw(_content_types))]
    if draw(st.booleans()):
        headers.append(("Retry-After", draw(_retry_after)))
    encoding = draw(st.sampled_from([None, "gzip", "deflate", "br", "x-nonsense"]))
    if encoding is not None:
        headers.append(("Content-Encoding", encoding))
        if encoding == "gzip" and draw(st.booleans()):
            body = gzip.compress(body)
        elif encoding == "deflate" and draw(st.booleans()):
            body = zlib.compress(body)
    length = draw(st.sampled_from(["right", "short", "long", "none", "chunked-lie"]))
    if length == "right":
        headers.append(("Content-Length", str(len(body))))
    elif length == "short":
        headers.append(("Content-Length", str(max(0, len(body) - 3))))
    elif length == "long":
        headers.append(("Content-Length", str(len(body) + 10)))
    elif length == "chunked-lie":
        headers.append(("Transfer-Encoding", "chunked"))
    return status, headers, body


class _Replay:
    """The script of the one server: plays whatever the current example says."""

    def __init__(self) -> None:
        self.answer: tuple[int, list[tuple[str, str]], bytes] = (200, [], b"")

    def __call__(self, connection: Connection) -> None:
        status, headers, body = self.answer
        if connection.head(status, headers):
            connection.send(body)


@pytest.fixture(scope="module")
def replay() -> Iterator[tuple[_Replay, str]]:
    script = _Replay()
    with HostileServer(script) as server:
        yield script, server.url


@pytest.mark.slow
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(answer=_answers(), mode=st.sampled_from(MODES))
def test_any_http_answer_ends_in_a_message_or_an_openrouter_error(
    replay: tuple[_Replay, str], answer: tuple[int, list[tuple[str, str]], bytes], mode: str
) -> None:
    script, url = replay
    script.answer = answer
    forget_rate_limits()  # each example its own account: no pause or window from the last
    llm = model(url, timeout=1.0, deadline=3.0)
    try:
        message = run(llm, mode)
    except OpenRouterError:
        return
    assert isinstance(message, AIMessage)
