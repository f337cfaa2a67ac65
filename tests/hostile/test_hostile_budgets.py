"""Budgets against a hostile server: what may have been billed is counted, what is
reported is checked, and no answer keeps more images than were asked for.

Each failure here ends the call with an error ToolMessage; what matters is what the
budget counted. A failure that may have been billed (the request went out whole and
its answer did not come back whole) counts the reservation at the estimate: under
``max_images=1`` the next call is refused and sends nothing. A failure that cannot
have been billed (an error status, a server nobody answers on) releases it.
"""

from __future__ import annotations

import asyncio
import base64
import json
import math
import socket
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from langchain_core.messages import ToolMessage
from langchain_core.runnables import RunnableConfig

from langchain_nanobanana import ChatNanoBanana, NanoBananaImageTool
from langchain_nanobanana._agent.ledger import Budget
from langchain_nanobanana.scopes import thread_of
from tests.support import TEST_KEY
from tests.support.hostile import PNG, Connection, HostileServer, answer, completion, held

ALICE: RunnableConfig = {"configurable": {"user_id": "alice", "thread_id": "t"}}
GOOD = ("image/png", base64.b64encode(PNG).decode())


def _tool(url: str, **fields: Any) -> NanoBananaImageTool:
    llm = ChatNanoBanana(api_key=TEST_KEY, base_url=url, max_retries=0, timeout=2, deadline=1.5)
    return NanoBananaImageTool(llm=llm, **fields)


def _call(call_id: str, **args: Any) -> dict[str, Any]:
    return {"type": "tool_call", "id": call_id, "name": "generate_image", "args": args}


def _run(tool: NanoBananaImageTool, call: dict[str, Any], mode: str) -> ToolMessage:
    if mode == "sync":
        return tool.invoke(call, ALICE)
    return asyncio.run(tool.ainvoke(call, ALICE))


def _spending(tool: NanoBananaImageTool, config: RunnableConfig = ALICE) -> list[dict[str, Any]]:
    budget = Budget(per=tool.budget_per, key=tool.budget_key or tool.name)
    return tool.images_for(config).list_notes(budget.kind(thread_of(config)))


# ---------------------------------------------------------------- the five failures


def _silent(connection: Connection) -> None:
    """Reads the request, answers nothing: the call's deadline expires."""
    connection.pause(5)


def _hangs_up(connection: Connection) -> None:
    """Reads the request and closes the connection without a word."""


def _cut_mid_answer(connection: Connection) -> None:
    body = json.dumps(completion()).encode()
    if connection.head(200, [("Content-Type", "application/json"), ("Content-Length", "99999")]):
        connection.send(body[: len(body) // 2])


def _one_good_one_bad(connection: Connection) -> None:
    bad = ("image/png", base64.b64encode(b"hello, not a picture").decode())
    answer(json.dumps(completion(images=[GOOD, bad], usage={"cost": 0.039})).encode())(connection)


POSSIBLY_BILLED: dict[str, Callable[[Connection], None]] = {
    "deadline expiry, nothing answered": _silent,
    "deadline expiry, answer trickling": held(completion(), seconds=5, every=0.05),
    "dropped connection": _hangs_up,
    "error after the answer began": _cut_mid_answer,
    "one good image beside a bad one": _one_good_one_bad,
}


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("failure", list(POSSIBLY_BILLED))
def test_a_failure_that_may_have_been_billed_leaves_the_budget_spent(
    failure: str, mode: str
) -> None:
    with HostileServer(POSSIBLY_BILLED[failure]) as server:
        tool = _tool(server.url, max_images=1)
        failed = _run(tool, _call("c1", prompt="a banana"), mode)
        sent = len(server.requests)
        refused = _run(tool, _call("c2", prompt="a banana"), mode)

        assert failed.status == "error"
        assert refused.status == "error"
        assert "is spent" in str(refused.content)
        assert len(server.requests) == sent == 1, "the refused call sent nothing"
    (entry,) = _spending(tool)
    assert (entry["state"], entry["images"]) == ("spent", 1)
    assert entry["cost_usd"] == pytest.approx(0.039, abs=0.002), "counted at the estimate"


def test_five_possibly_billed_failures_in_a_row_send_one_request() -> None:
    """The issue's case: five such calls under max_images=1 used to send five requests
    and record nothing."""
    failures = iter(POSSIBLY_BILLED.values())

    def play(connection: Connection) -> None:
        next(failures)(connection)

    with HostileServer(play) as server:
        tool = _tool(server.url, max_images=1)
        results = [_run(tool, _call(f"c{n}", prompt="a"), "sync") for n in range(5)]
        assert len(server.requests) == 1
    assert [r.status for r in results] == ["error"] * 5
    assert [(e["state"], e["images"]) for e in _spending(tool)] == [("spent", 1)]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("status", [400, 402, 429, 500, 503])
def test_an_error_status_is_not_billed_and_releases_the_reservation(status: int, mode: str) -> None:
    error = {"error": {"code": status, "message": "no"}}
    with HostileServer(answer(json.dumps(error).encode(), status=status)) as server:
        tool = _tool(server.url, max_images=1)
        assert _run(tool, _call("c1", prompt="a"), mode).status == "error"
    assert _spending(tool) == []


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_server_that_cannot_be_reached_is_not_billed(mode: str) -> None:
    tool = _tool(f"http://127.0.0.1:{_free_port()}/api/v1", max_images=1)
    assert _run(tool, _call("c1", prompt="a"), mode).status == "error"
    assert _spending(tool) == []


# ---------------------------------------------------------------- reported costs


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("cost", [math.nan, math.inf, -math.inf, -5.0, 1e308, 1e6])
def test_a_cost_that_is_not_a_cost_is_counted_at_the_estimate(cost: Any, mode: str) -> None:
    body = json.dumps(completion([GOOD], usage={"cost": cost})).encode()
    with HostileServer(answer(body)) as server:
        tool = _tool(server.url, max_cost_usd=0.1)  # room for two images at $0.039
        made = [_run(tool, _call(f"c{n}", prompt="a"), mode) for n in range(3)]
        assert len(server.requests) == 2

    assert [m.status for m in made] == ["success", "success", "error"]
    assert "$0.10" in str(made[2].content)
    assert [e["cost_usd"] for e in _spending(tool)] == [pytest.approx(0.039, abs=0.002)] * 2


def test_a_believable_cost_is_counted_as_reported() -> None:
    body = json.dumps(completion([GOOD], usage={"cost": 0.5})).encode()
    with HostileServer(answer(body)) as server:
        tool = _tool(server.url, max_cost_usd=10)
        assert _run(tool, _call("c1", prompt="a"), "sync").status == "success"
    assert [e["cost_usd"] for e in _spending(tool)] == [0.5]


# ---------------------------------------------------------------- more images than asked


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_thirty_image_answer_to_one_image_keeps_one(mode: str) -> None:
    body = json.dumps(completion([GOOD] * 30, usage={"cost": 0.039})).encode()
    with HostileServer(answer(body)) as server:
        tool = _tool(server.url, max_images=5)
        result = _run(tool, _call("c1", prompt="a"), mode)

    assert result.status == "success"
    assert len(result.artifact) == 1
    assert str(result.content).count("img_") == 1
    assert [(e["state"], e["images"]) for e in _spending(tool)] == [("spent", 1)]
    kept = tool.images_for(ALICE)
    assert kept.get(result.artifact[0]["id"]).data == PNG


# ---------------------------------------------------------------- refusals


def test_a_refusal_speaks_of_what_was_asked_and_sends_a_failed_event() -> None:
    with HostileServer(answer(json.dumps(completion()).encode())) as server:
        tool = _tool(server.url, max_images=1)
        events: list[dict[str, Any]] = []
        runtime = SimpleNamespace(stream_writer=events.append, store=None, tool_call_id="c2")
        assert _run(tool, _call("c1", prompt="a"), "sync").status == "success"
        refused = _run(tool, _call("c2", prompt="a", runtime=runtime), "sync")

    assert refused.content == (
        "This call asked for 1 image, but the image budget for this user (1 images) is "
        "spent. Do not call generate_image again; tell the user no more images can be made."
    )
    assert "smaller n" not in refused.content and "n=" not in refused.content
    assert [event["event"] for event in events] == ["failed"]
    assert events[0]["reason"] == refused.content
    assert events[0]["tool_call_id"] == "c2"
