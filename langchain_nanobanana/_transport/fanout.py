"""``n`` images where one request makes fewer: requests in parallel, one answer back.

The chat endpoint makes one image per request (Gemini refuses more candidates),
and so do single-image models on the Image API. For ``n`` images the chat model
then sends several requests at once and gathers them with ``FanIn``: every image
once, each under its own block index, usage and cost summed, and the requests
that failed listed in ``response_metadata["errors"]`` beside the images that came.
Only when none succeeds is the first failure raised.

Answers are gathered in request order, streamed or not, so ``invoke`` and the sum
of ``stream`` hold the same message. ``response_metadata["request_answers"]`` keeps
what each answered request said of itself (generation id, cost, usage, text, image
count), so that a caller can tell each image's share of the sum.

Ctrl-C ends a sync fan-out's wait at once (the requests run on daemon threads, which
nothing joins) with ``CallInterrupted``, holding the answers that had arrived.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.messages.ai import UsageMetadata, add_usage

from langchain_nanobanana._openrouter.assembler import summed
from langchain_nanobanana._transport.exchange import Exchange
from langchain_nanobanana.errors import CallInterrupted, OpenRouterError

Settled = AIMessage | OpenRouterError


class FanIn:
    """Gathers the answers of parallel requests into the chunks of one message."""

    def __init__(self, requests: int, images_requested: int) -> None:
        self.requests = requests
        self.images_requested = images_requested
        self._answers: list[AIMessage] = []
        self._errors: list[OpenRouterError] = []
        self._next_index = 0

    def settle(self, outcome: Settled) -> list[AIMessageChunk]:
        """The chunk one finished request adds (none for a failure, which is recorded)."""
        if isinstance(outcome, OpenRouterError):
            self._errors.append(outcome)
            return []
        self._answers.append(outcome)
        blocks: list[dict[str, Any]] = []
        offset = self._next_index
        for block in outcome.content:
            moved: dict[str, Any] = (
                dict(block) if isinstance(block, dict) else {"type": "text", "text": block}
            )
            # Blocks keep their order, under indexes no other request's blocks use.
            index = offset + int(moved.get("index", 0))
            moved["index"] = index
            self._next_index = max(self._next_index, index + 1)
            blocks.append(moved)
        return [
            AIMessageChunk(
                content=blocks,  # type: ignore[arg-type]
                additional_kwargs=dict(outcome.additional_kwargs),
                id=self._answers[0].id,
            )
        ]

    def closing_chunk(self) -> AIMessageChunk:
        """Metadata and summed usage, once; the first failure when nothing succeeded."""
        if not self._answers:
            raise self._errors[0]
        usage: UsageMetadata | None = None
        for answer in self._answers:
            if answer.usage_metadata is not None:
                usage = add_usage(usage, answer.usage_metadata)
        return AIMessageChunk(
            content=[],
            id=self._answers[0].id,
            response_metadata=self._metadata(),
            usage_metadata=usage,
            chunk_position="last",
        )

    def _metadata(self) -> dict[str, Any]:
        metadata = dict(self._answers[0].response_metadata)
        costs = [a.response_metadata.get("cost") for a in self._answers]
        if any(cost is not None for cost in costs):
            metadata["cost"] = sum(cost or 0.0 for cost in costs)
        metadata.pop("cost_details", None)  # per request; the sum has no single breakdown
        metadata["generation_ids"] = [a.response_metadata.get("id") for a in self._answers]
        metadata["request_answers"] = [_request_answer(a) for a in self._answers]
        metadata["images_requested"] = self.images_requested
        metadata["requests"] = self.requests
        if self._errors:
            metadata["errors"] = [
                {
                    "type": type(error).__name__,
                    "status_code": error.status_code,
                    "message": error.message,
                    "possibly_billed": error.possibly_billed,
                }
                for error in self._errors
            ]
        return metadata


def _request_answer(answer: AIMessage) -> dict[str, Any]:
    """What one request of a fan-out answered, for its images' share of the sum."""
    return {
        "id": answer.response_metadata.get("id"),
        "cost": answer.response_metadata.get("cost"),
        "usage": dict(answer.usage_metadata) if answer.usage_metadata else None,
        "text": answer.text,
        "images": sum(
            isinstance(block, dict) and block.get("type") == "image" for block in answer.content
        ),
    }


def _settled(call: Callable[[], AIMessage]) -> Settled:
    try:
        return call()
    except OpenRouterError as error:
        return error


def _in_background(call: Callable[[], AIMessage]) -> Future[Settled]:
    """``call`` on a daemon thread: a caller interrupted by Ctrl-C need not wait for it,
    and a process that exits does not either (a thread pool's workers are joined)."""
    future: Future[Settled] = Future()

    def run() -> None:
        try:
            future.set_result(_settled(call))
        except BaseException as error:  # delivered to the waiting caller, raised there
            future.set_exception(error)

    threading.Thread(target=run, name="nanobanana-request", daemon=True).start()
    return future


def _arrived(futures: Sequence[Future[Settled]], images: int) -> AIMessage | None:
    """The answers among ``futures`` that had come, in request order, as one message."""
    answers: list[AIMessage] = []
    for future in futures:
        if future.done() and future.exception() is None:
            outcome = future.result()
            if isinstance(outcome, AIMessage):
                answers.append(outcome)
    if not answers:
        return None
    fan_in = FanIn(len(futures), images)
    chunks = [chunk for answer in answers for chunk in fan_in.settle(answer)]
    return message_of([*chunks, fan_in.closing_chunk()])


async def _asettled(call: Awaitable[AIMessage]) -> Settled:
    try:
        return await call
    except OpenRouterError as error:
        return error


def fanned_chunks(exchanges: Sequence[Exchange], images: int) -> Iterator[AIMessageChunk]:
    """The requests' answers as chunks, in request order, while all run at once."""
    fan_in = FanIn(len(exchanges), images)
    futures = [_in_background(exchange.answer) for exchange in exchanges]
    for future in futures:
        try:
            outcome = future.result()
        except KeyboardInterrupt:
            raise CallInterrupted(_arrived(futures, images)) from None
        yield from fan_in.settle(outcome)
    yield fan_in.closing_chunk()


async def afanned_chunks(
    exchanges: Sequence[Exchange], images: int
) -> AsyncIterator[AIMessageChunk]:
    fan_in = FanIn(len(exchanges), images)
    tasks = [asyncio.ensure_future(_asettled(exchange.aanswer())) for exchange in exchanges]
    try:
        for task in tasks:
            for chunk in fan_in.settle(await task):
                yield chunk
    finally:
        for task in tasks:
            task.cancel()  # a caller that stops early leaves nothing running
    yield fan_in.closing_chunk()


@dataclass(frozen=True)
class Call:
    """One call of the chat model: one request, or several in parallel for ``n`` images."""

    exchanges: Sequence[Exchange]
    images: int

    def answer(self) -> AIMessage:
        if len(self.exchanges) == 1:
            return self.exchanges[0].answer()
        return message_of(list(fanned_chunks(self.exchanges, self.images)))

    async def aanswer(self) -> AIMessage:
        if len(self.exchanges) == 1:
            return await self.exchanges[0].aanswer()
        return message_of([chunk async for chunk in afanned_chunks(self.exchanges, self.images)])

    def chunks(self) -> Iterator[AIMessageChunk]:
        if len(self.exchanges) == 1:
            return self.exchanges[0].chunks()
        return fanned_chunks(self.exchanges, self.images)

    def achunks(self) -> AsyncIterator[AIMessageChunk]:
        if len(self.exchanges) == 1:
            return self.exchanges[0].achunks()
        return afanned_chunks(self.exchanges, self.images)


def message_of(chunks: Sequence[AIMessageChunk]) -> AIMessage:
    """The chunks of one answer as the AIMessage ``invoke`` returns."""
    total = summed(chunks)
    return AIMessage(
        content=total.content,
        additional_kwargs=total.additional_kwargs,
        response_metadata=total.response_metadata,
        usage_metadata=total.usage_metadata,
        id=total.id,
    )
