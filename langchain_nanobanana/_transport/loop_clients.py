"""One async httpx client per event loop, closed when the loop shuts down or its owner goes away.

An ``httpx.AsyncClient`` belongs to the loop it first ran on, so a model keeps one
per loop. Nobody closes such a client by hand. Kept in a map by loop, its sockets
keep their loop alive, so the entry never goes: each ``asyncio.run(llm.ainvoke(...))``
left one client open. Dropped with its model, it is closed by the garbage collector
(with a ResourceWarning), or not at all if a pending task still holds it. So a small
task on the loop closes the client, at whichever comes first:

- the loop shuts down: ``asyncio.run``, ``asyncio.Runner`` and pytest-asyncio cancel
  every task before closing their loop;
- the owner is garbage collected while the loop runs on;
- the owner is closed (``ChatNanoBanana.close``/``aclose``).

A loop closed by hand without cancelling its tasks never runs its closer: the next
client made anywhere drops such loops' entries, so their sockets are freed.

The task refers to its owner only weakly, and asyncio keeps only weak references to
tasks, so the tasks are held here until they finish.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import Callable
from typing import Any

import httpx

_closers: dict[asyncio.AbstractEventLoop, set[asyncio.Task[None]]] = {}


class LoopClients:
    """The async clients of one owner, one per running event loop."""

    def __init__(self) -> None:
        self._clients: dict[asyncio.AbstractEventLoop, httpx.AsyncClient] = {}
        self._closer_of: dict[
            asyncio.AbstractEventLoop, tuple[asyncio.Task[None], weakref.finalize[..., Any]]
        ] = {}

    def get(self, make_client: Callable[[], httpx.AsyncClient]) -> httpx.AsyncClient:
        """The running loop's client, made with ``make_client`` on first use."""
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            release_closed_loops()
            self._forget_closed_loops()
            client = self._clients[loop] = make_client()
            self._closer_of[loop] = _close_later(self, loop, client)
        return client

    def client_count(self) -> int:
        """Clients made and not closed yet."""
        return len(self._clients)

    def close_all(self) -> None:
        """Forget every client; each is closed by its loop's closer task on that loop's
        next turn (an async client can only be closed on its own loop)."""
        for loop, (task, _) in list(self._closer_of.items()):
            self._forget(loop)
            _cancel_from_any_thread(loop, task)

    async def aclose_all(self) -> None:
        """Close the running loop's client now, and the others as ``close_all`` does."""
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        self.close_all()
        if client is not None:
            await client.aclose()

    def _forget_closed_loops(self) -> None:
        for loop in [loop for loop in self._clients if loop.is_closed()]:
            self._forget(loop)

    def _forget(self, loop: asyncio.AbstractEventLoop) -> None:
        self._clients.pop(loop, None)
        closer = self._closer_of.pop(loop, None)
        if closer is not None and loop.is_closed():
            closer[1].detach()  # it holds the closed loop, and through it the client


def pending_closers(loop: asyncio.AbstractEventLoop) -> int:
    """Clients on ``loop`` still waiting to be closed."""
    return len(_closers.get(loop, ()))


def release_closed_loops() -> None:
    """Drop the closer tasks of loops closed by hand (``loop.close()`` with tasks still
    pending): they can never run, and would keep each loop's client and sockets alive.
    Dropped, the sockets are closed as their objects are freed."""
    for loop in [loop for loop in _closers if loop.is_closed()]:
        del _closers[loop]


def _cancel_from_any_thread(loop: asyncio.AbstractEventLoop, task: asyncio.Task[None]) -> None:
    # Cancelling the closer runs its ``finally``, which closes the client on its loop.
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(task.cancel)


def _close_later(
    owner: LoopClients, loop: asyncio.AbstractEventLoop, client: httpx.AsyncClient
) -> tuple[asyncio.Task[None], weakref.finalize[..., Any]]:
    owner_gone = loop.create_future()
    finalizer = weakref.finalize(owner, _resolve_from_any_thread, loop, owner_gone)
    finalizer.atexit = False  # at exit the loop is gone; so are its sockets
    task = loop.create_task(
        _close_when_done(loop, client, owner_gone, weakref.ref(owner), finalizer),
        name="langchain-nanobanana: close the async client with its loop or owner",
    )
    _closers.setdefault(loop, set()).add(task)
    task.add_done_callback(lambda done: _drop_closer(loop, done))
    return task, finalizer


async def _close_when_done(
    loop: asyncio.AbstractEventLoop,
    client: httpx.AsyncClient,
    owner_gone: asyncio.Future[None],
    owner_ref: weakref.ref[LoopClients],
    finalizer: weakref.finalize[..., Any],
) -> None:
    try:
        await owner_gone
    finally:
        finalizer.detach()  # it holds the loop, which may be closing
        owner = owner_ref()
        if owner is not None:
            owner._forget(loop)
        # A loop closed by hand with this task pending: the task is being collected
        # and nothing can be awaited; the sockets close as their objects are freed.
        if not loop.is_closed():
            await client.aclose()


def _resolve_from_any_thread(loop: asyncio.AbstractEventLoop, future: asyncio.Future[None]) -> None:
    # The garbage collector may run this on any thread. A closed loop raises
    # RuntimeError: the client cannot be closed on it any more, and its sockets
    # are left to the garbage collector.
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(_resolve, future)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _drop_closer(loop: asyncio.AbstractEventLoop, task: asyncio.Task[None]) -> None:
    tasks = _closers.get(loop)
    if tasks is not None:
        tasks.discard(task)
        if not tasks:
            del _closers[loop]
