"""What the image tool writes down per scope, so a retried call pays once and budgets hold.

Both live as notes in the image store, beside the images, so every worker of a
deployment reads the same ones:

- ``calls``: each answered tool call by its ``tool_call_id`` (the sentence and the
  handles). LangGraph retries a failed attempt and replays interrupted threads
  with the same tool calls; such a call is answered from here, with no request.
- ``spending``: one entry per call that made (or is making) images: how many and
  what they cost. A budget counts them over the scope, or over the run's thread.

A budget check is race-free without a lock: a call first writes its reservation,
then counts everything, itself included. Two calls racing for the last image
both see each other and both refuse; neither can overspend. A reservation left
by a worker that died mid-call stops counting after ``_STALE_AFTER``.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from langchain_core.tools import ToolException

from langchain_nanobanana.stores import ImageStore

CALLS = "calls"
SPENDING = "spending"
_STALE_AFTER = 30 * 60.0


class BudgetSpentError(ToolException):
    """No request is sent: the scope's (or thread's) budget would be exceeded.

    A ToolException, so the agent gets it as an error ToolMessage it can act on."""


@dataclass(frozen=True)
class Budget:
    """At most ``max_images`` images and ``max_cost_usd`` dollars, per scope or per thread."""

    max_images: int | None = None
    max_cost_usd: float | None = None
    per: Literal["scope", "thread"] = "scope"

    def refusal(self, entries: list[dict[str, Any]], thread: str | None) -> str | None:
        """Why these entries (the new reservation among them) break the budget, or None."""
        now = time.time()
        counted = [
            entry
            for entry in entries
            if (self.per == "scope" or entry.get("thread") == thread)
            and not (entry.get("state") == "reserved" and now - _number(entry, "at") > _STALE_AFTER)
        ]
        where = "for this conversation" if self.per == "thread" else "for this user"
        images = sum(int(_number(entry, "images")) for entry in counted)
        if self.max_images is not None and images > self.max_images:
            return (
                f"The image budget {where} is spent ({self.max_images} images). Do not call "
                "generate_image again; tell the user no more images can be made."
            )
        cost = sum(_number(entry, "cost_usd") for entry in counted)
        if self.max_cost_usd is not None and cost > self.max_cost_usd:
            return (
                f"The image budget {where} is spent (${self.max_cost_usd:.2f}). Do not call "
                "generate_image again; tell the user no more images can be made."
            )
        return None


def _number(entry: dict[str, Any], key: str) -> float:
    value = entry.get(key)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0


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
    ) -> None:
        self.images = images
        self.call_id = call_id
        self.thread = thread
        self.budget = budget
        self.remember_for = remember_for
        self._entry = call_id or f"anonymous-{uuid.uuid4().hex}"

    # --------------------------------------------------------- answered calls

    def answered(self) -> Answered | None:
        if self.call_id is None:
            return None
        return _answered(self.images.read_note(CALLS, self.call_id))

    async def aanswered(self) -> Answered | None:
        if self.call_id is None:
            return None
        return _answered(await self.images.aread_note(CALLS, self.call_id))

    def remember(self, sentence: str, handles: list[str]) -> None:
        if self.call_id is not None:
            note = {"sentence": sentence, "handles": handles, "at": time.time()}
            self.images.write_note(CALLS, self.call_id, note, ttl=self.remember_for)

    async def aremember(self, sentence: str, handles: list[str]) -> None:
        if self.call_id is not None:
            note = {"sentence": sentence, "handles": handles, "at": time.time()}
            await self.images.awrite_note(CALLS, self.call_id, note, ttl=self.remember_for)

    # -------------------------------------------------------------- spending

    def _reservation(self, images: int, cost_usd: float) -> dict[str, Any]:
        return {
            "images": images,
            "cost_usd": cost_usd,
            "thread": self.thread,
            "state": "reserved",
            "at": time.time(),
        }

    def reserve(self, images: int, cost_usd: float) -> None:
        """Claim the images before the request; BudgetSpentError (nothing claimed) if over."""
        if self.budget is None:
            return
        self.images.write_note(SPENDING, self._entry, self._reservation(images, cost_usd))
        refusal = self.budget.refusal(self.images.list_notes(SPENDING), self.thread)
        if refusal is not None:
            self.images.delete_note(SPENDING, self._entry)
            raise BudgetSpentError(refusal)

    async def areserve(self, images: int, cost_usd: float) -> None:
        if self.budget is None:
            return
        await self.images.awrite_note(SPENDING, self._entry, self._reservation(images, cost_usd))
        refusal = self.budget.refusal(await self.images.alist_notes(SPENDING), self.thread)
        if refusal is not None:
            await self.images.adelete_note(SPENDING, self._entry)
            raise BudgetSpentError(refusal)

    def _spent(self, images: int, cost_usd: float) -> dict[str, Any]:
        return {**self._reservation(images, cost_usd), "state": "spent"}

    def settle(self, images: int, cost_usd: float) -> None:
        """What the call really made and cost, in place of its reservation."""
        if self.budget is not None:
            self.images.write_note(SPENDING, self._entry, self._spent(images, cost_usd))

    async def asettle(self, images: int, cost_usd: float) -> None:
        if self.budget is not None:
            await self.images.awrite_note(SPENDING, self._entry, self._spent(images, cost_usd))

    def release(self) -> None:
        """The call failed before anything was paid for: its reservation goes."""
        if self.budget is not None:
            self.images.delete_note(SPENDING, self._entry)

    async def arelease(self) -> None:
        if self.budget is not None:
            await self.images.adelete_note(SPENDING, self._entry)


def _answered(note: dict[str, Any] | None) -> Answered | None:
    if note is None:
        return None
    sentence, handles = note.get("sentence"), note.get("handles")
    if not isinstance(sentence, str) or not isinstance(handles, list):
        return None  # a damaged note: answer the call afresh rather than fail it
    return Answered(sentence, [handle for handle in handles if isinstance(handle, str)])
