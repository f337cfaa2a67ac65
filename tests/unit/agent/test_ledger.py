"""The ledger's ordered reservations, step by step: the interleavings a race can produce,
played in a fixed order."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from langchain_nanobanana._agent.ledger import Budget, BudgetSpentError, Ledger, next_ticket
from langchain_nanobanana.stores import ImageStore

ROOM_FOR_ONE = Budget(max_images=1, key="t")


class _Paused(ImageStore):
    """An image store whose ``list_notes`` can hold one thread at a chosen listing."""

    def __init__(self) -> None:
        super().__init__()
        self.hold: dict[tuple[str, int], threading.Event] = {}
        self.reached: dict[tuple[str, int], threading.Event] = {}
        self._listings: dict[str, int] = {}

    def list_notes(self, kind: str) -> list[dict[str, Any]]:
        name = threading.current_thread().name
        number = self._listings[name] = self._listings.get(name, 0) + 1
        listed = super().list_notes(kind)
        if (name, number) in self.reached:
            self.reached[name, number].set()
        if (name, number) in self.hold:
            self.hold[name, number].wait(5)
        return listed


def _ledger(images: ImageStore, entry: str) -> Ledger:
    ledger = Ledger(images, None, None, ROOM_FOR_ONE, None, "asked")
    ledger._entry = entry  # a fixed tie-break: "a" is ordered before "b" on equal tickets
    return ledger


def _reserve(ledger: Ledger, outcomes: dict[str, str]) -> None:
    try:
        ledger.reserve(1, 0.0)
        outcomes[ledger._entry] = "admitted"
    except BudgetSpentError:
        outcomes[ledger._entry] = "refused"


def test_a_call_that_read_the_tickets_before_another_wrote_its_own_is_waited_for() -> None:
    """The dangerous interleaving: A announces and reads the tickets (none), then stalls;
    B announces, draws the same ticket and lists while A is still without one. B must
    wait for A's ticket: A is ordered first (same ticket, A's id first), so B is refused.
    Without the wait both would go, over a budget of one."""
    images = _Paused()
    a_read, b_listed = threading.Event(), threading.Event()
    images.reached["a", 1] = a_read  # A's first listing: the one its ticket comes from
    images.hold["a", 1] = b_listed
    images.reached["b", 2] = b_listed  # B's listing after its own ticket
    outcomes: dict[str, str] = {}

    first = threading.Thread(target=_reserve, args=(_ledger(images, "a"), outcomes), name="a")
    second = threading.Thread(target=_reserve, args=(_ledger(images, "b"), outcomes), name="b")
    first.start()
    assert a_read.wait(5)
    second.start()
    first.join(10)
    second.join(10)

    assert outcomes == {"a": "admitted", "b": "refused"}


def test_the_later_ticket_is_refused_when_both_are_seen() -> None:
    images = ImageStore()
    outcomes: dict[str, str] = {}
    _reserve(_ledger(images, "b"), outcomes)
    _reserve(_ledger(images, "a"), outcomes)  # a smaller id, but a later (higher) ticket
    assert outcomes == {"b": "admitted", "a": "refused"}


def test_tickets_go_above_every_ticket_in_sight() -> None:
    entries = [{"ticket": 3}, {"ticket": None}, {"ticket": True}, {}, {"ticket": 7}]
    assert next_ticket(entries) == 8
    assert next_ticket([]) == 1


def test_entries_of_an_older_version_without_order_count_first() -> None:
    old = {"images": 1, "cost_usd": 0.0, "state": "spent"}
    mine = {"images": 1, "cost_usd": 0.0, "state": "reserved", "ticket": 1, "entry": "x"}
    assert ROOM_FOR_ONE.refusal([old, mine], mine) is not None


@pytest.mark.parametrize("amount", [float("nan"), float("inf"), -1.0, True, "0.5", None])
def test_a_stored_amount_that_is_not_a_number_counts_nothing(amount: Any) -> None:
    odd = {"images": amount, "cost_usd": amount, "state": "spent", "ticket": 1, "entry": "o"}
    mine = {"images": 1, "cost_usd": 0.04, "state": "reserved", "ticket": 2, "entry": "m"}
    assert Budget(max_images=1, max_cost_usd=0.05).refusal([odd, mine], mine) is None


def test_refusals_say_what_was_asked_and_what_is_left() -> None:
    spent = {"images": 3, "cost_usd": 0.12, "state": "spent", "ticket": 1, "entry": "s"}
    mine = {"images": 4, "cost_usd": 0.16, "state": "reserved", "ticket": 2, "entry": "m"}
    by_images = Budget(max_images=5, per="thread").refusal([spent, mine], mine)
    by_cost = Budget(max_cost_usd=0.20).refusal([spent, mine], mine)
    assert by_images == (
        "This call asked for 4 images, but the image budget for this conversation (5 images) "
        "has room for 2 more images. Call again with n=2 or fewer, or tell the user."
    )
    assert by_cost == (
        "This call asked for 4 images (about $0.16), but the cost budget for this user "
        "($0.20) has $0.08 left, enough for 2 images. Call again with n=2 or fewer, or tell "
        "the user."
    )


def test_a_budget_is_named_by_its_key_and_for_a_thread_by_the_thread_too() -> None:
    kinds = {
        Budget(key="a").kind(None),
        Budget(key="b").kind(None),
        Budget(key="a", per="thread").kind("t1"),
        Budget(key="a", per="thread").kind("t2"),
    }
    assert len(kinds) == 4
    assert Budget(key="a").kind("t1") == Budget(key="a").kind("t2"), "per scope: no thread"
    assert all(kind.startswith("spending-") and len(kind) <= 40 for kind in kinds)
