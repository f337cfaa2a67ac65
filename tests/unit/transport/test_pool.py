"""The async client's sharded pool: even spread, warm reuse, and every slot given back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from langchain_nanobanana import ChatNanoBanana
from langchain_nanobanana._transport.pool import SHARDS, ShardedAsyncTransport, new_async_client
from tests.support import TEST_KEY


class _Body(httpx.AsyncByteStream):
    """A body that arrives in pieces, as from a socket."""

    def __init__(self, text: str) -> None:
        self.text = text

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for word in self.text.split(" "):
            yield word.encode() + b" "


class _Shard(httpx.AsyncBaseTransport):
    """Answers 200 with its own number, after ``gate`` opens; records what it saw."""

    def __init__(
        self, number: int, gate: asyncio.Event, fail: bool = False, whole: bool = False
    ) -> None:
        self.number = number
        self.gate = gate
        self.fail = fail
        self.whole = whole
        self.requests = 0
        self.closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        await self.gate.wait()
        if self.fail:
            raise httpx.ConnectError("refused", request=request)
        if self.whole:
            return httpx.Response(200, content=f"shard {self.number} ".encode())
        return httpx.Response(200, stream=_Body(f"shard {self.number}"))

    async def aclose(self) -> None:
        self.closed = True


def _sharded(
    count: int, gate: asyncio.Event, fail: bool = False, whole: bool = False
) -> tuple[ShardedAsyncTransport, list[_Shard]]:
    shards = [_Shard(number, gate, fail, whole) for number in range(count)]
    return ShardedAsyncTransport(shards), shards


def test_concurrent_requests_spread_evenly_over_the_shards() -> None:
    async def run() -> tuple[list[int], list[str], tuple[int, ...], tuple[int, ...]]:
        gate = asyncio.Event()
        transport, shards = _sharded(4, gate)
        async with httpx.AsyncClient(transport=transport) as client:
            calls = [asyncio.create_task(client.get("http://x/")) for _ in range(8)]
            await asyncio.sleep(0.01)
            while_waiting = transport.in_flight
            gate.set()
            responses = await asyncio.gather(*calls)
            return (
                [shard.requests for shard in shards],
                sorted(r.text for r in responses),
                while_waiting,
                transport.in_flight,
            )

    per_shard, bodies, while_waiting, after = asyncio.run(run())
    assert per_shard == [2, 2, 2, 2]
    assert bodies == sorted([f"shard {n} " for n in range(4)] * 2)
    assert while_waiting == (2, 2, 2, 2)
    assert after == (0, 0, 0, 0)


@pytest.mark.parametrize("whole", [False, True], ids=["streamed body", "body already read"])
def test_calls_made_one_at_a_time_stay_on_the_first_shard(whole: bool) -> None:
    async def run() -> list[int]:
        gate = asyncio.Event()
        gate.set()
        transport, shards = _sharded(4, gate, whole=whole)
        async with httpx.AsyncClient(transport=transport) as client:
            for _ in range(5):
                (await client.get("http://x/")).raise_for_status()
        return [shard.requests for shard in shards]

    # One shard, so one warm connection serves them all.
    assert asyncio.run(run()) == [5, 0, 0, 0]


def test_a_failed_request_gives_its_slot_back() -> None:
    async def run() -> tuple[int, ...]:
        gate = asyncio.Event()
        gate.set()
        transport, _ = _sharded(2, gate, fail=True)
        async with httpx.AsyncClient(transport=transport) as client:
            with pytest.raises(httpx.ConnectError):
                await client.get("http://x/")
        return transport.in_flight

    assert asyncio.run(run()) == (0, 0)


def test_a_streamed_response_holds_its_shard_until_it_is_closed() -> None:
    async def run() -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
        gate = asyncio.Event()
        gate.set()
        transport, _ = _sharded(2, gate)
        async with httpx.AsyncClient(transport=transport) as client:
            async with client.stream("GET", "http://x/") as response:
                while_open = transport.in_flight
                await response.aread()
                after_reading = transport.in_flight
            return while_open, after_reading, transport.in_flight

    while_open, after_reading, after_close = asyncio.run(run())
    assert while_open == (1, 0)
    # httpx closes the stream once the body is read, which gives the slot back.
    assert after_reading == (0, 0)
    assert after_close == (0, 0)


def test_closing_the_client_closes_every_shard() -> None:
    async def run() -> list[bool]:
        transport, shards = _sharded(3, asyncio.Event())
        async with httpx.AsyncClient(transport=transport):
            pass
        return [shard.closed for shard in shards]

    assert asyncio.run(run()) == [True, True, True]


def test_the_chat_models_own_async_client_uses_the_sharded_pool() -> None:
    llm = ChatNanoBanana(api_key=TEST_KEY)

    async def transport_of_the_async_client() -> httpx.AsyncBaseTransport:
        client = llm._get_transport().async_client()
        try:
            return client._transport  # type: ignore[attr-defined, no-any-return]
        finally:
            await client.aclose()

    transport = asyncio.run(transport_of_the_async_client())
    assert isinstance(transport, ShardedAsyncTransport)
    assert len(transport.in_flight) == SHARDS


def test_with_a_proxy_configured_the_async_client_is_httpx_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # httpx applies proxy variables only to the transport it builds itself.
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")

    async def transports() -> tuple[httpx.AsyncBaseTransport, httpx.AsyncBaseTransport]:
        async with new_async_client(timeout=5, direct=False) as client:
            request = httpx.URL("https://openrouter.ai/api/v1/chat/completions")
            return client._transport, client._transport_for_url(request)  # type: ignore[attr-defined]

    default, for_openrouter = asyncio.run(transports())
    assert not isinstance(default, ShardedAsyncTransport)
    assert isinstance(for_openrouter, httpx.AsyncHTTPTransport)
    assert for_openrouter is not default  # the proxy's own transport


def test_a_transport_needs_at_least_one_shard() -> None:
    with pytest.raises(ValueError, match="at least one"):
        ShardedAsyncTransport([])
