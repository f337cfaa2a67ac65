"""What the image tool writes down per scope, so a retried call pays once and budgets hold.

Both live as notes in the image store, beside the images, so every worker of a
deployment reads the same ones:

- ``calls``: each answered tool call, under a digest of its thread and
  ``tool_call_id``, with the sentence, the handles and a digest of what it asked
  for. LangGraph retries a failed attempt and replays interrupted threads with the
  same tool calls; such a call is answered from here, with no request. The same id
  asking for something else (agent models reuse ids like ``call_0``) is a new call.
- ``spending-<digest>``: one entry per attempt that made (or is making) images: how
  many and what they cost, and its place in the budget's order. A budget belongs to
  the tool that sets it, named by its key (by default the tool's name): the digest
  is of the key, and of the thread for a per-thread budget. Entries hold no ids,
  prompts or handles, so ``forget`` keeps them (a forgotten user keeps their budget).

Admission: exactly as many calls as there is room for, with no lock and no clock.
The store has no compare-and-swap, so the budget orders its reservations the way
Lamport's bakery orders customers: a call first announces itself (an entry with no
ticket), then takes a ticket one higher than any it sees, then waits until every
call it saw announcing has its ticket, then counts only the entries ordered before
its own (ticket, then entry id). An entry ordered before it is always seen: either
its announcement was visible, and the call waited for its ticket, or it announced
after the call's ticket was written, and so drew a higher ticket. With room for k
images and m one-image calls at once, the first k in the order go and the rest
are refused. Calls for several images are never overspent either; an earlier
larger call that is refused at the same moment may still have been counted.

Nothing here compares clocks: a reservation counts until its call settles it
(``settle``: what was made and paid), releases it (``release``: nothing can have
been billed) or a failure counts it as possibly billed. A worker that dies
mid-call leaves its reservation counted at the estimate, as the possibly billed
call it may be. A call that died between announcing and taking its ticket is
waited for ``ANNOUNCEMENT_WAIT`` seconds at most and then counted the same way.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from langchain_core.tools import ToolException

from langchain_nanobanana.stores import ImageStore

CALLS = "calls"
SPENDING = "spending"
ANNOUNCEMENT_WAIT = 5.0
"""Seconds a reservation waits for a call that announced itself to take its ticket
(two store writes apart); past it that call is counted as spent at its estimate."""
_FIRST_POLL, _LONGEST_POLL = 0.005, 0.1


class BudgetSpentError(ToolException):
    """No request is sent: the scope's (or thread's) budget would be exceeded.

    A ToolException, so the agent gets it as an error ToolMessage it can act on."""


@dataclass(frozen=True)
class Budget:
    """At most ``max_images`` images and ``max_cost_usd`` dollars, per scope or per thread,
    for the tool(s) whose budget is named ``key``."""

    max_images: int | None = None
    max_cost_usd: float | None = None
    per: Literal["scope", "thread"] = "scope"
    key: str = "generate_image"

    def kind(self, thread: str | None) -> str:
        """The note kind this budget's entries live under (in the run's scope)."""
        named = [self.key, thread] if self.per == "thread" else [self.key]
        digest = hashlib.blake2b(json.dumps(named).encode(), digest_size=8).hexdigest()
        return f"{SPENDING}-{digest}"

    def refusal(self, entries: list[dict[str, Any]], mine: dict[str, Any]) -> str | None:
        """Why ``mine`` breaks the budget, counting the entries ordered before it; or None."""
        before = [entry for entry in entries if _counts(entry) and _order(entry) < _order(mine)]
        where = "for this conversation" if self.per == "thread" else "for this user"
        asked = int(_number(mine, "images"))
        if self.max_images is not None:
            left = max(self.max_images - sum(int(_number(e, "images")) for e in before), 0)
            if asked > left:
                return _images_refusal(asked, left, f"{self.max_images} images", where)
        if self.max_cost_usd is not None:
            left_usd = max(self.max_cost_usd - sum(_number(e, "cost_usd") for e in before), 0.0)
            cost = _number(mine, "cost_usd")
            if cost > left_usd + 1e-9 or left_usd <= 1e-9:
                each = cost / asked if asked else 0.0
                room = int((left_usd + 1e-9) // each) if each else 0
                return _cost_refusal(
                    asked, cost, left_usd, room, f"${self.max_cost_usd:.2f}", where
                )
        return None


def _images(count: int) -> str:
    return f"{count} image{'s' * (count != 1)}"


def _images_refusal(asked: int, left: int, limit: str, where: str) -> str:
    said = f"This call asked for {_images(asked)}"
    if left == 0:
        return (
            f"{said}, but the image budget {where} ({limit}) is spent. "
            "Do not call generate_image again; tell the user no more images can be made."
        )
    more = f"{left} more image{'s' * (left != 1)}"
    return (
        f"{said}, but the image budget {where} ({limit}) has room for {more}. "
        f"Call again with n={left} or fewer, or tell the user."
    )


def _cost_refusal(asked: int, cost: float, left: float, room: int, limit: str, where: str) -> str:
    said = f"This call asked for {_images(asked)} (about ${cost:.2f})"
    if room == 0:
        return (
            f"{said}, but the cost budget {where} ({limit}) has ${left:.2f} left, not enough "
            "for another image. Do not call generate_image again; tell the user no more "
            "images can be made."
        )
    return (
        f"{said}, but the cost budget {where} ({limit}) has ${left:.2f} left, enough for "
        f"{_images(room)}. Call again with n={room} or fewer, or tell the user."
    )


def _number(entry: dict[str, Any], key: str) -> float:
    """A stored amount; anything that is not a finite, non-negative number counts 0
    (amounts are checked before they are written, see ``trusted_cost``)."""
    value = entry.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return 0.0
    return float(value) if math.isfinite(value) and value >= 0 else 0.0


def _ticket(entry: dict[str, Any]) -> int:
    ticket = entry.get("ticket")
    return ticket if isinstance(ticket, int) and not isinstance(ticket, bool) else 0


def _order(entry: dict[str, Any]) -> tuple[int, str]:
    """The budget's total order: the ticket, then the entry id (a random tie-break).
    An entry without either (an older version's) comes first: it is always counted."""
    return (_ticket(entry), str(entry.get("entry", "")))


def _counts(entry: dict[str, Any]) -> bool:
    return entry.get("state") in ("reserved", "spent")


def _announced(entry: dict[str, Any]) -> bool:
    return entry.get("state") == "announced"


def next_ticket(entries: list[dict[str, Any]]) -> int:
    """One higher than every ticket in sight."""
    return 1 + max((_ticket(entry) for entry in entries), default=0)


def _polls() -> Iterator[float]:
    """The pauses between looks at announcements still without a ticket."""
    pause, waited = _FIRST_POLL, 0.0
    while waited < ANNOUNCEMENT_WAIT:
        yield pause
        waited += pause
        pause = min(pause * 2, _LONGEST_POLL)


@dataclass(frozen=True)
class Answered:
    """A call already answered: what the agent was told, and the images it named."""

    sentence: str
    handles: list[str]


class Ledger:
    """The notes of one tool call; see the module docstring."""

    def __init__(
        self,
        images: ImageStore,
        call_id: str | None,
        thread: str | None,
        budget: Budget | None,
        remember_for: timedelta | None,
        request: str,
    ) -> None:
        self.images = images
        self.call_id = call_id
        self.thread = thread
        self.budget = budget
        self.remember_for = remember_for
        self.request = request
        # Agent models reuse ids across threads ("call_0", "functions.x:0"): a call is its
        # thread and its id, and it is the same call only when it asks for the same thing.
        # Stored under a digest: ids come from outside and may be long.
        called = json.dumps([thread, call_id]).encode()
        self._call_key = hashlib.blake2b(called, digest_size=16).hexdigest()
        # One entry per attempt: a retry must not overwrite what a failed attempt paid.
        self._entry = uuid.uuid4().hex
        self._spending = budget.kind(thread) if budget is not None else SPENDING
        self._mine: dict[str, Any] = {}

    # --------------------------------------------------------- answered calls

    def answered(self) -> Answered | None:
        if self.call_id is None:
            return None
        return _answered(self.images.read_note(CALLS, self._call_key), self.request)

    async def aanswered(self) -> Answered | None:
        if self.call_id is None:
            return None
        return _answered(await self.images.aread_note(CALLS, self._call_key), self.request)

    def _note(self, sentence: str, handles: list[str]) -> dict[str, Any]:
        return {
            "sentence": sentence,
            "handles": handles,
            "request": self.request,
            "at": time.time(),
        }

    def remember(self, sentence: str, handles: list[str]) -> None:
        if self.call_id is not None:
            note = self._note(sentence, handles)
            self.images.write_note(CALLS, self._call_key, note, ttl=self.remember_for)

    async def aremember(self, sentence: str, handles: list[str]) -> None:
        if self.call_id is not None:
            note = self._note(sentence, handles)
            await self.images.awrite_note(CALLS, self._call_key, note, ttl=self.remember_for)

    # -------------------------------------------------------------- spending

    def _announcement(self, images: int, cost_usd: float) -> dict[str, Any]:
        self._mine = {"entry": self._entry, "images": images, "cost_usd": cost_usd}
        return {**self._mine, "state": "announced", "ticket": None}

    def _ticketed(self, entries: list[dict[str, Any]]) -> dict[str, Any]:
        self._mine = {**self._mine, "state": "reserved", "ticket": next_ticket(entries)}
        return self._mine

    def _waited_for(self, entries: list[dict[str, Any]]) -> set[str]:
        """The other calls seen announcing, whose tickets this one must wait for."""
        return {
            str(e.get("entry")) for e in entries if _announced(e) and e.get("entry") != self._entry
        }

    def _decide(self, entries: list[dict[str, Any]]) -> str | None:
        assert self.budget is not None
        return self.budget.refusal(entries, self._mine)

    def reserve(self, images: int, cost_usd: float) -> None:
        """Claim the images before the request; BudgetSpentError (nothing claimed) if over."""
        if self.budget is None:
            return
        write, kind = self.images.write_note, self._spending
        write(kind, self._entry, self._announcement(images, cost_usd))
        write(kind, self._entry, self._ticketed(self.images.list_notes(kind)))
        entries = self.images.list_notes(kind)
        waiting = self._waited_for(entries)
        polls = _polls()
        while waiting and (pause := next(polls, None)) is not None:
            time.sleep(pause)
            entries = self.images.list_notes(kind)
            waiting &= self._waited_for(entries)
        for stuck in _abandoned(entries, waiting):
            write(kind, str(stuck["entry"]), stuck)
        refusal = self._decide(_with(entries, _abandoned(entries, waiting)))
        if refusal is not None:
            self.images.delete_note(kind, self._entry)
            raise BudgetSpentError(refusal)

    async def areserve(self, images: int, cost_usd: float) -> None:
        if self.budget is None:
            return
        write, kind = self.images.awrite_note, self._spending
        await write(kind, self._entry, self._announcement(images, cost_usd))
        await write(kind, self._entry, self._ticketed(await self.images.alist_notes(kind)))
        entries = await self.images.alist_notes(kind)
        waiting = self._waited_for(entries)
        polls = _polls()
        while waiting and (pause := next(polls, None)) is not None:
            await asyncio.sleep(pause)
            entries = await self.images.alist_notes(kind)
            waiting &= self._waited_for(entries)
        for stuck in _abandoned(entries, waiting):
            await write(kind, str(stuck["entry"]), stuck)
        refusal = self._decide(_with(entries, _abandoned(entries, waiting)))
        if refusal is not None:
            await self.images.adelete_note(kind, self._entry)
            raise BudgetSpentError(refusal)

    def _spent(self, images: int, cost_usd: float) -> dict[str, Any]:
        return {**self._mine, "images": images, "cost_usd": cost_usd, "state": "spent"}

    def settle(self, images: int, cost_usd: float) -> None:
        """What the call really made and cost, in place of its reservation."""
        if self.budget is not None:
            self.images.write_note(self._spending, self._entry, self._spent(images, cost_usd))

    async def asettle(self, images: int, cost_usd: float) -> None:
        if self.budget is not None:
            await self.images.awrite_note(
                self._spending, self._entry, self._spent(images, cost_usd)
            )

    def release(self) -> None:
        """The call failed before anything was paid for: its reservation goes."""
        if self.budget is not None:
            self.images.delete_note(self._spending, self._entry)

    async def arelease(self) -> None:
        if self.budget is not None:
            await self.images.adelete_note(self._spending, self._entry)

    def failed(self, charge: tuple[int, float] | None) -> None:
        """A failed call: what it may have cost (images, dollars) stays spent; None
        (nothing can have been billed) releases the reservation."""
        if charge is None:
            self.release()
        else:
            self.settle(*charge)

    async def afailed(self, charge: tuple[int, float] | None) -> None:
        if charge is None:
            await self.arelease()
        else:
            await self.asettle(*charge)


def _abandoned(entries: list[dict[str, Any]], waiting: set[str]) -> list[dict[str, Any]]:
    """Announcements still without a ticket after ``ANNOUNCEMENT_WAIT``: their calls
    died between two writes (or stalled), and are counted as spent at their estimate,
    first in the order. A stalled call that comes back writes its ticket over this."""
    return [
        {**entry, "state": "spent", "ticket": 0, "abandoned": True}
        for entry in entries
        if _announced(entry) and str(entry.get("entry")) in waiting
    ]


def _with(entries: list[dict[str, Any]], rewritten: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``entries`` with the ``rewritten`` ones in place of their old versions."""
    by_entry = {str(entry["entry"]): entry for entry in rewritten}
    return [by_entry.get(str(entry.get("entry")), entry) for entry in entries]


def _answered(note: dict[str, Any] | None, request: str) -> Answered | None:
    if note is None or note.get("request") != request:
        return None  # not answered, or the same id asking for something else: a new call
    sentence, handles = note.get("sentence"), note.get("handles")
    if not isinstance(sentence, str) or not isinstance(handles, list):
        return None  # a damaged note: answer the call afresh rather than fail it
    return Answered(sentence, [handle for handle in handles if isinstance(handle, str)])
