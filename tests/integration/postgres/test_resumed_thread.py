"""A thread checkpointed in PostgreSQL and resumed in another process, with the default
tool (images in memory): an earlier image is edited by its handle, taken from the
thread's own history; a handle whose bytes the history lacks is said to be gone."""

from __future__ import annotations

from typing import Any

from tests.support.workers import last_json, run_worker

# One process per turn, as a server restarted between a user's messages. argv: the
# database, the thread, what the agent model does ("draw", "edit", "edit-unknown"), and
# the tool's artifact_mode.
_TURN = """
import hashlib, json, sys, warnings

from langchain.agents import create_agent
from langchain_core.messages import AIMessage, ToolMessage
from langgraph.checkpoint.postgres import PostgresSaver

from langchain_nanobanana import NanoBananaImageTool
from langchain_nanobanana.images import images_from
from langchain_nanobanana.stores import HANDLE_PATTERN
from langchain_nanobanana.testing import FakeOpenRouter, ScriptedAgentModel

database, thread, action, mode = sys.argv[1:5]
UNKNOWN = "img_" + "0" * 32


def earlier_handle(messages):
    tool_messages = [m for m in messages if isinstance(m, ToolMessage)]
    return HANDLE_PATTERN.findall(str(tool_messages[0].content))[0]


def call(args):
    return AIMessage("", tool_calls=[{"name": "generate_image", "args": args, "id": action}])


first_turn = {
    "draw": lambda m: call({"prompt": "a banana"}),
    "edit": lambda m: call({"prompt": "make it blue", "image_ids": [earlier_handle(m)]}),
    "edit-unknown": lambda m: call({"prompt": "make it blue", "image_ids": [UNKNOWN]}),
}[action]
fake = FakeOpenRouter()
# Each thread plays the script from its start.
agent_model = ScriptedAgentModel(turns=[first_turn, AIMessage("done")])
tool = NanoBananaImageTool(llm=fake.chat_model(), artifact_mode=mode)  # no store=
config = {"configurable": {"thread_id": thread, "user_id": "alice"}}
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    with PostgresSaver.from_conn_string(database) as saver:
        saver.setup()
        agent = create_agent(agent_model, tools=[tool], checkpointer=saver)
        state = agent.invoke({"messages": [("user", action)]}, config)
        if action == "draw":
            # Another thread, another call of the same tool: the warning is not said again.
            again = {"configurable": {**config, "thread_id": thread + "-again"}}
            agent.invoke({"messages": [("user", "again")]}, again)

answer = [m for m in state["messages"] if isinstance(m, ToolMessage)][-1]
sent = [
    hashlib.sha256(image.data).hexdigest()
    for image in images_from(fake.requests[0].body["messages"][-1]["content"])
] if fake.requests else []
made = images_from(answer)
print(json.dumps({
    "status": answer.status,
    "content": answer.content,
    "made": [hashlib.sha256(image.data).hexdigest() for image in made],
    "sources_sent": sent,
    "alice_has": [
        hashlib.sha256(tool.images_for(config).get(h).data).hexdigest()
        for h in set(HANDLE_PATTERN.findall(str(answer.content)))
        if tool.images_for(config).find(h)
    ],
    "warnings": [str(w.message) for w in caught if "NanoBananaImageTool" in str(w.message)],
}))
"""


def _turn(postgres_db: str, thread: str, action: str, mode: str = "full") -> dict[str, Any]:
    result: dict[str, Any] = last_json(run_worker(_TURN, postgres_db, thread, action, mode))
    return result


def test_a_resumed_thread_edits_an_earlier_image_by_handle(postgres_db: str) -> None:
    drawn = _turn(postgres_db, "t-1", "draw")
    assert drawn["status"] == "success"
    (original,) = drawn["made"]

    edited = _turn(postgres_db, "t-1", "edit")  # a new process: its memory store is empty

    assert edited["status"] == "success", edited["content"]
    assert edited["content"].startswith("Edited img_")
    assert edited["sources_sent"] == [original], "the image model got the earlier image"
    assert len(edited["alice_has"]) == 2, "stored again in alice's scope, beside the new one"
    assert original in edited["alice_has"]


def test_the_setup_warns_once_naming_the_fix(postgres_db: str) -> None:
    drawn = _turn(postgres_db, "t-2", "draw")
    (warning,) = drawn["warnings"]
    assert "PostgresSaver" in warning
    assert "store=" in warning


def test_gone_is_told_apart_from_never_was(postgres_db: str) -> None:
    # "reference" mode keeps no bytes in the thread: after a restart the image is gone.
    assert _turn(postgres_db, "t-3", "draw", "reference")["status"] == "success"
    gone = _turn(postgres_db, "t-3", "edit", "reference")
    assert gone["status"] == "error"
    assert " is gone: its bytes are no longer stored" in gone["content"]

    never = _turn(postgres_db, "t-3", "edit-unknown", "reference")
    assert never["status"] == "error"
    assert never["content"].startswith("No image has the handle 'img_000")
