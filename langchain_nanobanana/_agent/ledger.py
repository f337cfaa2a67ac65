"""What the image tool writes down per scope, so a retried call pays once and budgets hold.

Both live as notes in the image store, beside the images, so every worker of a
deployment reads the same ones:

- ``calls``: each answered tool call by its thread and ``tool_call_id``, with the
  sentence, the handles and a digest of what it asked for. LangGraph retries a
  failed attempt and replays interrupted threads with the same tool calls; such a
  call is answered from here, with no request. The same id asking for something
  else (agent models reuse ids like ``call_0``) is a new call.
- ``spending``: one entry per attempt that made (or is making) images: how many and
  what they cost. A budget counts them over the scope; a per-thread budget keeps
  its thread's entries under a kind of their own and reads only those.

A budget check is race-free without a lock: a call first writes its reservation,
then counts everything, itself included. Two calls racing for the last image
both see each other and both refuse; neither can overspend. A reservation left
by a worker that died mid-call stops counting after ``_STALE_AFTER``.
"""

from __future__ import annotations

import hashlib
import json
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

    def refusal(self, entries: list[dict[str, Any]]) -> str | None:
        """Why these entries (the new reservation among them) break the budget, or None.

        ``entries`` are what the budget counts over: the scope's, or with ``per="thread"``
        the thread's (the ledger keeps those under a kind of their own)."""
        now = time.time()
        counted = [
            entry
            for entry in entries
            if not (entry.get("state") == "reserved" and now - _number(entry, "at") > _STALE_AFTER)
        ]
        where = "for this conversation" if self.per == "thread" else "for this user"
        others = [entry for entry in counted if entry.get("state") != "reserved"]
        images = sum(int(_number(entry, "images")) for entry in counted)
        if self.max_images is not None and images > self.max_images:
            left = self.max_images - sum(int(_number(entry, "images")) for entry in others)
            left = max(left, 0)
            return _refused(
                f"{self.max_images} images", where, f"{left} more image{'s' * (left != 1)}"
            )
        cost = sum(_number(entry, "cost_usd") for entry in counted)
        if self.max_cost_usd is not None and cost > self.max_cost_usd:
            left_usd = self.max_cost_usd - sum(_number(entry, "cost_usd") for entry in others)
            return _refused(f"${self.max_cost_usd:.2f}", where, f"${max(left_usd, 0):.2f} more")
        return None


def _refused(limit: str, where: str, left: str) -> str:
    if left.startswith(("0 ", "$0.00")):
        return (
            f"The image budget {where} ({limit}) is spent. Do not call generate_image again; "
            "tell the user no more images can be made."
        )
    return (
        f"That call would go over the image budget {where} ({limit}); it has room for {left}. "
        "Ask for fewer images (a smaller n), or tell the user."
    )


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
        self._call_key = json.dumps([thread, call_id])
        # One entry per attempt: a retry must not overwrite what a failed attempt paid.
        self._entry = f"{call_id or 'call'}:{uuid.uuid4().hex}"
        self._spending = SPENDING
        if budget is not None and budget.per == "thread":
            # A thread's budget reads its own entries only, not all of the user's.
            digest = hashlib.blake2b(str(thread).encode(), digest_size=8).hexdigest()
            self._spending = f"{SPENDING}-{digest}"

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
        self.images.write_note(self._spending, self._entry, self._reservation(images, cost_usd))
        refusal = self.budget.refusal(self.images.list_notes(self._spending))
        if refusal is not None:
            self.images.delete_note(self._spending, self._entry)
            raise BudgetSpentError(refusal)

    async def areserve(self, images: int, cost_usd: float) -> None:
        if self.budget is None:
            return
        await self.images.awrite_note(
            self._spending, self._entry, self._reservation(images, cost_usd)
        )
        refusal = self.budget.refusal(await self.images.alist_notes(self._spending))
        if refusal is not None:
            await self.images.adelete_note(self._spending, self._entry)
            raise BudgetSpentError(refusal)

    def _spent(self, images: int, cost_usd: float) -> dict[str, Any]:
        return {**self._reservation(images, cost_usd), "state": "spent"}

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

    def failed(self, cost_usd: float | None) -> None:
        """A failed call: what it may have cost stays spent; None (nothing billed) releases."""
        if cost_usd is None:
            self.release()
        else:
            self.settle(0, cost_usd)

    async def afailed(self, cost_usd: float | None) -> None:
        if cost_usd is None:
            await self.arelease()
        else:
            await self.asettle(0, cost_usd)


def _answered(note: dict[str, Any] | None, request: str) -> Answered | None:
    if note is None or note.get("request") != request:
        return None  # not answered, or the same id asking for something else: a new call
    sentence, handles = note.get("sentence"), note.get("handles")
    if not isinstance(sentence, str) or not isinstance(handles, list):
        return None  # a damaged note: answer the call afresh rather than fail it
    return Answered(sentence, [handle for handle in handles if isinstance(handle, str)])
