"""One call to one endpoint: send the request, read the answer, whole or streamed.

The call plan builds an ``Exchange`` and asks it for the answer (``answer`` /
``aanswer``) or for its chunks (``chunks`` / ``achunks``); it knows no path, no
SSE and no ``[DONE]``: those belong to the ``Endpoint`` (``_openrouter.endpoint``),
and the transport below is the same for every endpoint.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import aclosing, closing
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from langchain_core.messages import AIMessage, AIMessageChunk

from langchain_nanobanana._openrouter.endpoint import Endpoint
from langchain_nanobanana.errors import OpenRouterError

if TYPE_CHECKING:
    from langchain_nanobanana._transport.http import Transport
    from langchain_nanobanana._transport.limits import CallLimits


@dataclass(frozen=True)
class Exchange:
    """One request, ready to go: ``body`` to ``endpoint`` over ``transport``."""

    endpoint: Endpoint
    transport: Transport
    api_key: str
    body: dict[str, Any]
    model: str
    """The model asked for: named in the answer until OpenRouter names its own."""
    native_stream: bool = True
    """False where the endpoint cannot stream this model: ``chunks`` then asks for the
    whole answer and yields it as chunks."""
    limits: CallLimits | None = None
    """The call's deadline, begun before this request (discovery counts against it)."""

    def answer(self) -> AIMessage:
        # The raw body is never bound to a name here, so it is freed once parsed.
        return self.endpoint.read_answer(
            self.transport.post(self.endpoint.path, self.api_key, self.body, self.limits),
            self.model,
        )

    async def aanswer(self) -> AIMessage:
        return self.endpoint.read_answer(
            await self.transport.apost(self.endpoint.path, self.api_key, self.body, self.limits),
            self.model,
        )

    def chunks(self) -> Iterator[AIMessageChunk]:
        """The chunks as they arrive, then the closing one (``chunk_position="last"``)."""
        if not self.native_stream:
            yield from chunks_of(self.answer())
            return
        reader = self.endpoint.stream_reader(self.model)
        # closing(): once [DONE] arrives the response is closed at once, returning its
        # connection to the pool, rather than whenever the generator is collected.
        stream = self.transport.stream(self.endpoint.path, self.api_key, self.body, self.limits)
        try:
            with closing(stream) as payloads:
                for payload in payloads:
                    parsed = reader.parse(payload)
                    del payload  # free the (megabyte) line before the image is copied out
                    yield from reader.add(parsed)
                    if reader.finished:
                        break
        except OpenRouterError as error:
            raise reader.failed(error) from None
        yield reader.close()

    async def achunks(self) -> AsyncIterator[AIMessageChunk]:
        if not self.native_stream:
            for chunk in chunks_of(await self.aanswer()):
                yield chunk
            return
        reader = self.endpoint.stream_reader(self.model)
        stream = self.transport.astream(self.endpoint.path, self.api_key, self.body, self.limits)
        try:
            async with aclosing(stream) as payloads:
                async for payload in payloads:
                    parsed = reader.parse(payload)
                    del payload
                    for chunk in reader.add(parsed):
                        yield chunk
                    if reader.finished:
                        break
        except OpenRouterError as error:
            raise reader.failed(error) from None
        yield reader.close()


def chunks_of(message: AIMessage) -> list[AIMessageChunk]:
    """A whole answer as a stream: its content, then the closing chunk with the metadata."""
    return [
        AIMessageChunk(
            content=message.content,
            additional_kwargs=message.additional_kwargs,
            id=message.id,
        ),
        AIMessageChunk(
            content=[],
            id=message.id,
            response_metadata=message.response_metadata,
            usage_metadata=message.usage_metadata,
            chunk_position="last",
        ),
    ]
