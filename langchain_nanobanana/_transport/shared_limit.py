"""One adaptive concurrency limit per API key and base URL, shared by every call in the process.

A 429 is about the account (the key), not about the one call that got it: when every
call retries alone, a 429 tells one caller to wait while the others keep knocking, and
past its retries a call fails. So every request to a key and base URL first takes a
``Slot`` from the key's ``SharedLimit``:

- at most ``window`` requests are in flight on the key (and never more than the calling
  model's ``max_concurrency``); the others wait in line, first come first served, the wait
  counted against their own deadline;
- a 429 narrows the window to the number of the key's requests the server was still
  holding when it refused (at least 1), and its Retry-After (or the body's
  ``retry_after_seconds`` / ``availability.retry_after``) pauses new starts for every call
  on the key;
- successes widen it again, one slot per window-full of successes that started under the
  current window, until it reaches the ceiling: the limit is then open.

Why this shape (AIMD with a measured decrease): against a busy account the requests still
in flight when a 429 comes back are what the server will hold for us, so the window drops
straight to that number rather than to a guessed fraction (halving would leave capacity
unused until the slow increase won it back). A burst's 429s come back one after another,
each seeing fewer requests in flight, so the window settles on what the server held. The
increase is additive and counts only calls that started under the current window, because
a probe that finds the limit costs a 429 and, with a Retry-After, a pause for every call on
the key. A limit that no 429 has narrowed costs one lock per request and never waits.

The primitive belongs to no event loop: a lock, a first-in-first-out line of waiters, and
a wake-up per waiter that suits it (a ``threading.Event`` for a thread, the loop's
``call_soon_threadsafe`` for a task). Threads, ``asyncio.run`` called twice and loops running
in several threads share one limit safely. Limits are found by a digest of the key and the
base URL: the key itself is never kept, shown or logged.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from langchain_nanobanana._transport.limits import CallLimits
from langchain_nanobanana.errors import OpenRouterError, OpenRouterRateLimitError


@dataclass(frozen=True)
class LimitState:
    """What a key's limit looks like at one moment (for a progress line, a log, a test)."""

    window: int | None
    """Requests allowed in flight; None while no 429 has narrowed it (the ceiling rules)."""
    in_flight: int
    waiting: int
    rate_limited: int
    """429s answered on this key and base URL since the process started."""
    paused_for: float
    """Seconds until new requests may start again (0: not paused)."""


class Slot:
    """One request's place among the key's requests in flight; given back exactly once."""

    __slots__ = ("_ceiling", "_generation", "_held", "_limit")

    def __init__(self, limit: SharedLimit | None, generation: int, ceiling: int) -> None:
        self._limit = limit
        self._generation = generation
        self._ceiling = ceiling
        self._held = limit is not None

    def succeeded(self) -> None:
        """The server took the request (a 200): evidence the window may widen."""
        if self._limit is not None:
            self._limit._succeeded(self)

    def refused(self, retry_after: float | None) -> None:
        """The server answered 429: narrow the window, pause the key, give the slot back."""
        if self._limit is not None:
            self._limit._refused(self, retry_after)

    def release(self) -> None:
        """Give the slot back (again is harmless)."""
        if self._limit is not None:
            self._limit._release(self)


UNLIMITED = Slot(None, 0, 0)
"""The slot of a call made with no shared limit (``max_concurrency=None``): does nothing."""


@dataclass(eq=False)
class _Waiter:
    ceiling: int
    wake: Callable[[], object]
    """Thread-safe; raises RuntimeError when the waiter's event loop is gone."""
    slot: Slot | None = None


class SharedLimit:
    """The adaptive limit of one API key at one base URL (see the module's docstring)."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._lock = threading.Lock()
        self._window: int | None = None
        self._credit = 0
        self._generation = 0
        self._in_flight = 0
        self._paused_until = 0.0
        self._rate_limited = 0
        self._waiters: deque[_Waiter] = deque()

    def __repr__(self) -> str:
        state = self.state()
        return (
            f"SharedLimit(key={self._name}, window={state.window}, "
            f"in_flight={state.in_flight}, waiting={state.waiting})"
        )

    def state(self) -> LimitState:
        with self._lock:
            return LimitState(
                window=self._window,
                in_flight=self._in_flight,
                waiting=len(self._waiters),
                rate_limited=self._rate_limited,
                paused_for=max(0.0, self._paused_until - time.monotonic()),
            )

    # ------------------------------------------------------------ waiting in line

    def enter(
        self, limits: CallLimits, ceiling: int, refusal: OpenRouterError | None = None
    ) -> Slot:
        """A slot for one request, waiting in line (this thread) while the key is full or
        paused. Raises OpenRouterRateLimitError, having sent nothing, when the call's
        deadline runs out first; ``refusal`` is the call's last 429, kept on that error."""
        event = threading.Event()
        queued = self._grant_or_queue(limits, ceiling, event.set, refusal)
        if isinstance(queued, Slot):
            return queued
        started = time.monotonic()
        try:
            while queued.slot is None:
                event.wait(self._wait_seconds(limits))
                self._after_wait(queued, limits, refusal, started)
        except BaseException:  # KeyboardInterrupt included: leave the line as it was
            self._abandon(queued)
            raise
        return self._in_time(queued.slot, limits, refusal, started)

    async def aenter(
        self, limits: CallLimits, ceiling: int, refusal: OpenRouterError | None = None
    ) -> Slot:
        """Async twin of ``enter``: waits in line on the running loop, whichever it is."""
        loop = asyncio.get_running_loop()
        woken: asyncio.Future[None] = loop.create_future()
        wake = partial(loop.call_soon_threadsafe, _resolve, woken)
        queued = self._grant_or_queue(limits, ceiling, wake, refusal)
        if isinstance(queued, Slot):
            return queued
        started = time.monotonic()
        try:
            while queued.slot is None:
                await asyncio.wait((woken,), timeout=self._wait_seconds(limits))
                self._after_wait(queued, limits, refusal, started)
        except BaseException:  # cancelled: leave the line as it was
            self._abandon(queued)
            raise
        return self._in_time(queued.slot, limits, refusal, started)

    def _grant_or_queue(
        self,
        limits: CallLimits,
        ceiling: int,
        wake: Callable[[], object],
        refusal: OpenRouterError | None,
    ) -> Slot | _Waiter:
        with self._lock:
            now = time.monotonic()
            if not self._waiters and now >= self._paused_until and self._has_room(ceiling):
                self._in_flight += 1
                return Slot(self, self._generation, ceiling)
            self._check_deadline(limits, now, now, refusal)
            waiter = _Waiter(ceiling, wake)
            self._waiters.append(waiter)
            self._dispatch(now)
            return waiter

    def _wait_seconds(self, limits: CallLimits) -> float | None:
        """Until the deadline, or the end of the pause, whichever comes first."""
        remaining = limits.remaining()
        pause = self._paused_until - time.monotonic()
        if pause > 0:
            remaining = pause if remaining is None else min(remaining, pause)
        return None if remaining is None else max(remaining, 0.0)

    def _after_wait(
        self,
        waiter: _Waiter,
        limits: CallLimits,
        refusal: OpenRouterError | None,
        started: float,
    ) -> None:
        with self._lock:
            if waiter.slot is not None:
                return
            now = time.monotonic()
            self._dispatch(now)  # the pause may be over
            if waiter.slot is None:
                try:
                    self._check_deadline(limits, now, started, refusal)
                except OpenRouterRateLimitError:
                    self._waiters.remove(waiter)
                    raise

    def _in_time(
        self, slot: Slot, limits: CallLimits, refusal: OpenRouterError | None, started: float
    ) -> Slot:
        """The slot, unless the deadline ran out just as it came: then nothing is sent."""
        remaining = limits.remaining()
        if remaining is not None and remaining <= 0:
            slot.release()
            with self._lock:
                raise self._gave_up(limits, time.monotonic(), started, refusal)
        return slot

    def _abandon(self, waiter: _Waiter) -> None:
        with self._lock:
            if waiter.slot is None:
                if waiter in self._waiters:  # not when it gave up at its deadline
                    self._waiters.remove(waiter)
                return
        waiter.slot.release()

    # ------------------------------------------------------------ what requests report

    def _succeeded(self, slot: Slot) -> None:
        with self._lock:
            # Only a call that started under the current window says it is safe to widen.
            if self._window is None or slot._generation != self._generation:
                return
            self._credit += 1
            if self._credit < self._window:
                return
            self._credit = 0
            self._window += 1
            if self._window >= slot._ceiling:
                self._window = None
            self._dispatch(time.monotonic())

    def _refused(self, slot: Slot, retry_after: float | None) -> None:
        with self._lock:
            if not slot._held:
                return
            slot._held = False
            self._in_flight -= 1
            self._rate_limited += 1
            # What the server still holds of ours is what it will take; at least one.
            self._window = max(1, min(self._allowed(slot._ceiling), self._in_flight))
            self._credit = 0
            self._generation += 1
            now = time.monotonic()
            if retry_after is not None:
                self._paused_until = max(self._paused_until, now + retry_after)
            self._dispatch(now)

    def _release(self, slot: Slot) -> None:
        with self._lock:
            if not slot._held:
                return
            slot._held = False
            self._in_flight -= 1
            self._dispatch(time.monotonic())

    # ------------------------------------------------------------ under the lock

    def _allowed(self, ceiling: int) -> int:
        return ceiling if self._window is None else min(self._window, ceiling)

    def _has_room(self, ceiling: int) -> bool:
        return self._in_flight < self._allowed(ceiling)

    def _dispatch(self, now: float) -> None:
        """Give free slots to the line's head, in order, unless the key is paused."""
        if now < self._paused_until:
            return
        while self._waiters and self._has_room(self._waiters[0].ceiling):
            waiter = self._waiters.popleft()
            waiter.slot = Slot(self, self._generation, waiter.ceiling)
            self._in_flight += 1
            try:
                waiter.wake()
            except RuntimeError:  # its event loop is closed: nobody will take the slot
                waiter.slot._held = False
                self._in_flight -= 1

    def _check_deadline(
        self, limits: CallLimits, now: float, started: float, refusal: OpenRouterError | None
    ) -> None:
        """Give up when the deadline has passed or ends before the pause does."""
        remaining = limits.remaining()
        if remaining is not None and (remaining <= 0 or self._paused_until - now >= remaining):
            raise self._gave_up(limits, now, started, refusal)

    def _gave_up(
        self, limits: CallLimits, now: float, started: float, refusal: OpenRouterError | None
    ) -> OpenRouterRateLimitError:
        paused_for = max(0.0, self._paused_until - now)
        window = "open" if self._window is None else str(self._window)
        pause = (
            f"; OpenRouter asked for a pause of another {paused_for:.1f} s" if paused_for else ""
        )
        return OpenRouterRateLimitError(
            f"Rate limited: gave up waiting in line for OpenRouter after {now - started:.1f} s, "
            f"the call's deadline of {limits.seconds:g} s leaving no time for its request "
            f"({self._in_flight} request(s) in flight on this API key, window {window}, "
            f"{self._rate_limited} answered 429 so far{pause}). Nothing was sent for this "
            "try. Raise `deadline`, or start fewer calls at once on this key.",
            status_code=refusal.status_code if refusal is not None else None,
            body=refusal.body if refusal is not None else None,
            retry_after=paused_for or None,
        )


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


_LIMITS: dict[str, SharedLimit] = {}
_LIMITS_LOCK = threading.Lock()


def shared_limit(api_key: str, base_url: str) -> SharedLimit:
    """The process's one limit for ``api_key`` at ``base_url``, made on first use."""
    digest = hashlib.sha256(f"{base_url.rstrip('/')}\n{api_key}".encode()).hexdigest()
    limit = _LIMITS.get(digest)
    if limit is None:
        with _LIMITS_LOCK:
            limit = _LIMITS.setdefault(digest, SharedLimit(digest[:12]))
    return limit


def forget_all() -> None:
    """Drop every key's limit, as a new process would start: for test suites, where
    emulators on one base URL and key stand for unrelated accounts."""
    with _LIMITS_LOCK:
        _LIMITS.clear()
