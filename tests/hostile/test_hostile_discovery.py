"""Discovery against a hostile server: OpenRouter's model lists are read like any answer.

For a model the catalog does not know, the chat model GETs ``/models`` and
``/images/models`` first. Those reads go through the transport's capped, deadline-bound
path: a gzip bomb or an endless list stops at ``MAX_LIST_BYTES``, a server that drips a
byte at a time cannot hold a call past its ``deadline``, and numbers that are not finite
in a descriptor are left out instead of raising on every call.
"""

from __future__ import annotations

import asyncio
import json
import time
import tracemalloc
import zlib
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import httpx
import pytest

from langchain_nanobanana import ChatNanoBanana
from langchain_nanobanana._catalog.models import DEFAULT_MODEL, KNOWN_MODELS
from langchain_nanobanana._openrouter.discovery import (
    DISCOVERY,
    MAX_LIST_BYTES,
    Discovery,
    ModelFacts,
    cache_key,
)
from langchain_nanobanana.errors import OpenRouterTimeoutError
from langchain_nanobanana.images import images_from
from langchain_nanobanana.testing import FakeOpenRouter
from tests.support import TEST_KEY
from tests.support.hostile import (
    Connection,
    HostileServer,
    answer,
    endless,
    lists_then,
    trickle,
)

UNKNOWN = "someone/new-image-model"
MIB = 1024 * 1024


def _bomb(inflated: int) -> Callable[[Connection], None]:
    """A gzip body of spaces that inflates to ``inflated`` bytes, built in slices."""
    squeeze = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = b" " * (8 * MIB)
    body = b"".join(
        [*(squeeze.compress(block) for _ in range(inflated // len(block))), squeeze.flush()]
    )
    return answer(body, headers=[("Content-Encoding", "gzip")])


def _model(url: str, **fields: Any) -> ChatNanoBanana:
    return ChatNanoBanana(
        api_key=TEST_KEY, base_url=url, model=UNKNOWN, max_retries=0, timeout=5, **fields
    )


def _call(llm: ChatNanoBanana, mode: str) -> Any:
    return llm.invoke("a banana") if mode == "sync" else asyncio.run(llm.ainvoke("a banana"))


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize(
    "lists",
    [
        pytest.param(lambda: _bomb(256 * MIB), id="gzip bomb"),
        pytest.param(lambda: endless(b" " * 65536), id="endless list"),
    ],
)
def test_a_list_too_large_is_not_read_past_its_cap_and_the_call_goes_on(
    lists: Callable[[], Callable[[Connection], None]], mode: str
) -> None:
    with HostileServer(lists_then(lists())) as server:
        llm = _model(server.url)
        tracemalloc.start()
        try:
            message = _call(llm, mode)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()

    assert len(images_from(message)) == 1, "the defaults apply and the image comes"
    # Far below what the server offered (256 MB or endless): the read stopped at the cap,
    # plus what one network read inflates to.
    assert peak < 6 * MAX_LIST_BYTES
    assert DISCOVERY.cached(llm._discovery_key(), UNKNOWN) == ModelFacts()


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_list_that_drips_cannot_hold_the_call_past_its_deadline(mode: str) -> None:
    with HostileServer(lists_then(trickle(every=0.3))) as server:
        llm = _model(server.url, deadline=1.5)
        started = time.monotonic()
        with pytest.raises(OpenRouterTimeoutError, match=r"deadline of 1\.5 s"):
            _call(llm, mode)
        took = time.monotonic() - started

    assert took < 1.5 + 1.0, f"took {took:.1f} s"


def _list_with_descriptor(n: dict[str, Any]) -> bytes:
    entry = {
        "id": UNKNOWN,
        "architecture": {"output_modalities": ["image"]},
        "supported_parameters": {"n": n, "quality": {"type": "enum", "values": ["low"]}},
    }
    return json.dumps({"data": [entry]}).encode()


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("bound", ["Infinity", "-Infinity", "NaN", "1e999"])
def test_numbers_that_are_not_finite_in_a_descriptor_are_left_out(bound: str, mode: str) -> None:
    raw = _list_with_descriptor({"type": "range", "min": 1, "max": 0})
    raw = raw.replace(b'"max": 0', b'"max": ' + bound.encode())
    listed = answer(raw)
    image_answer = json.dumps(
        {"created": 1, "data": [{"b64_json": _png_base64()}], "usage": {}}
    ).encode()

    def play(connection: Connection) -> None:
        if connection.request_head.startswith(b"GET /api/v1/images/models"):
            listed(connection)
        elif connection.request_head.startswith(b"GET "):
            answer(b'{"data": []}')(connection)
        else:
            answer(image_answer)(connection)

    with HostileServer(play) as server:
        llm = _model(server.url)
        for _ in range(2):  # every call, not only the first
            assert len(images_from(_call(llm, mode))) == 1

    facts = DISCOVERY.cached(llm._discovery_key(), UNKNOWN)
    assert facts is not None
    assert facts.endpoints == ("images",)
    assert facts.images_per_request is None, "an unusable n says nothing"
    assert facts.parameters["n"].max is None
    assert facts.parameters["n"].min == 1


def _png_base64() -> str:
    import base64

    from tests.support.hostile import PNG

    return base64.b64encode(PNG).decode()


def test_the_lists_are_kept_per_connection_not_per_base_url() -> None:
    """A model with its own client (a proxy, a mock) must not fill the cache for every
    other model on the same base URL, nor the other way round."""
    listed = FakeOpenRouter(models=[replace(KNOWN_MODELS[DEFAULT_MODEL], id=UNKNOWN)])
    own_client = listed.chat_model(model=UNKNOWN)
    own_client.invoke("a banana")

    plain = ChatNanoBanana(api_key=TEST_KEY, base_url=own_client.base_url, model=UNKNOWN)
    assert DISCOVERY.cached(own_client._discovery_key(), UNKNOWN) is not None
    assert DISCOVERY.cached(plain._discovery_key(), UNKNOWN) is None
    other_headers = own_client.model_copy(update={"default_headers": {"X-Tenant": "b"}})
    assert DISCOVERY.cached(other_headers._discovery_key(), UNKNOWN) is None


def test_a_new_client_never_inherits_a_gone_clients_lists() -> None:
    keys = set()
    for _ in range(50):  # id() of short-lived clients is reused; their keys must not be
        client = httpx.Client()
        keys.add(cache_key("https://x.example/api/v1", {}, client))
        client.close()
        del client
    assert len(keys) == 50


def test_the_cache_holds_a_bounded_number_of_connections() -> None:
    discovery = Discovery()
    for number in range(100):
        discovery.facts(("proxy", number), UNKNOWN, lambda path: None)
    assert len(discovery._lists) <= 32
