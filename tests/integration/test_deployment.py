"""Two workers, one PostgreSQL: a thread made on one worker is resumed and edited on another.

Each worker is its own OS process with its own agent, tool and middleware, sharing only
the database (LangGraph's PostgresSaver and PostgresStore), as on LangGraph Platform or
any app with several workers. The image service is each worker's own emulator, so what a
worker sent is read from its own recorded requests.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
from PIL import Image

from tests.support.workers import last_json, run_worker

_COMMON = """
import asyncio, base64, hashlib, json, sys
from langchain.agents import create_agent
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_nanobanana import NanoBananaImageTool
from langchain_nanobanana.middleware import AttachedImagesMiddleware
from langchain_nanobanana.stores import HANDLE_PATTERN
from langchain_nanobanana.testing import FakeOpenRouter, ScriptedAgentModel

URL = sys.argv[1]

def call(args, call_id):
    return AIMessage("", tool_calls=[{"name": "generate_image", "args": args, "id": call_id}])

def sent_images(request):
    parts = request.body["messages"][-1]["content"]
    urls = [p["image_url"]["url"] for p in parts if p.get("type") == "image_url"]
    return [hashlib.sha256(base64.b64decode(u.split(",", 1)[1])).hexdigest() for u in urls]
"""

# Worker 1, sync: the user attaches a photo and asks for a new image in thread T; then
# user B, given A's handles, asks for an edit.
FIRST_WORKER = (
    _COMMON
    + """
from langgraph.checkpoint.postgres import PostgresSaver
from langgraph.store.postgres import PostgresStore

photo = open(sys.argv[2], "rb").read()
config = {"configurable": {"thread_id": "T", "user_id": "alice"}}
with PostgresSaver.from_conn_string(URL) as saver, PostgresStore.from_conn_string(URL) as store:
    saver.setup()
    store.setup()
    fake = FakeOpenRouter()
    tool = NanoBananaImageTool(llm=fake.chat_model(), artifact_mode="reference")
    model = ScriptedAgentModel(turns=[call({"prompt": "a dish"}, "w1-c1"), AIMessage("made")])
    agent = create_agent(
        model, tools=[tool], middleware=[AttachedImagesMiddleware(tool)],
        checkpointer=saver, store=store,
    )
    image = {"type": "image", "base64": base64.b64encode(photo).decode(), "mime_type": "image/png"}
    asking = HumanMessage([{"type": "text", "text": "my cat"}, image])
    state = agent.invoke({"messages": [asking]}, config)
    attached = HANDLE_PATTERN.findall(str(state["messages"][0].content))[0]
    made = HANDLE_PATTERN.findall(str(state["messages"][2].content))[-1]
    stored = tool.images_for(config, store=store).get(made).data
    alices_requests = len(fake.requests)
    bob = {"configurable": {"thread_id": "B1", "user_id": "bob"}}
    stolen = call({"prompt": "edit", "image_ids": [attached, made]}, "w1-bob")
    bobs = create_agent(
        ScriptedAgentModel(turns=[stolen, AIMessage("ok")]), tools=[tool], store=store
    ).invoke({"messages": [HumanMessage("hi")]}, bob)
    refusal = next(m for m in bobs["messages"] if isinstance(m, ToolMessage))
    print(json.dumps({
        "attached": attached, "made": made,
        "made_sha": hashlib.sha256(stored).hexdigest(), "requests": alices_requests,
        "bob_status": refusal.status, "bob_requests": len(fake.requests) - alices_requests,
    }))
"""
)

# Worker 2, async: resumes thread T, edits both images by the handles in the thread; then
# user B, given A's handles, asks for the same.
SECOND_WORKER = (
    _COMMON
    + """
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.store.postgres import AsyncPostgresStore

def edit_both(messages):
    handles = []
    for message in messages:
        for handle in HANDLE_PATTERN.findall(str(message.content)):
            if handle not in handles:
                handles.append(handle)
    return call({"prompt": "put the cat on the dish", "image_ids": handles}, "w2-c1")

async def main():
    async with AsyncPostgresSaver.from_conn_string(URL) as saver, \\
            AsyncPostgresStore.from_conn_string(URL) as store:
        fake = FakeOpenRouter()
        tool = NanoBananaImageTool(llm=fake.chat_model(), artifact_mode="reference")
        def agent(turns):
            return create_agent(
                ScriptedAgentModel(turns=turns), tools=[tool],
                middleware=[AttachedImagesMiddleware(tool)], checkpointer=saver, store=store,
            )
        alice = {"configurable": {"thread_id": "T", "user_id": "alice"}}
        state = await agent([edit_both, AIMessage("edited")]).ainvoke(
            {"messages": [HumanMessage("now put my cat on the dish")]}, alice
        )
        edit = next(m for m in state["messages"][-3:] if isinstance(m, ToolMessage))
        sent = sent_images(fake.requests[-1])
        sources = [*state["messages"][-3].tool_calls[0]["args"]["image_ids"]]

        bob = {"configurable": {"thread_id": "B", "user_id": "bob"}}
        before = len(fake.requests)
        stolen = call({"prompt": "edit", "image_ids": sources}, "w2-bob")
        bobs = await agent([stolen, AIMessage("ok")]).ainvoke(
            {"messages": [HumanMessage("hi")]}, bob
        )
        refusal = next(m for m in bobs["messages"] if isinstance(m, ToolMessage))
        print(json.dumps({
            "sources": sources, "status": edit.status, "sent": sent,
            "bob_status": refusal.status, "bob_said": str(refusal.content),
            "bob_requests": len(fake.requests) - before,
        }))

asyncio.run(main())
"""
)


def _photo() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (320, 240), "orange").save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.slow
def test_a_thread_moves_between_workers_and_stays_with_its_owner(
    postgres_db: str, tmp_path: Path
) -> None:
    photo = _photo()
    photo_file = tmp_path / "cat.png"
    photo_file.write_bytes(photo)

    first = last_json(run_worker(FIRST_WORKER, postgres_db, str(photo_file)))
    second = last_json(run_worker(SECOND_WORKER, postgres_db))

    assert first["requests"] == 1
    assert (first["bob_status"], first["bob_requests"]) == ("error", 0)
    # Worker 2 found both handles in the checkpointed thread and sent the stored bytes.
    assert second["sources"] == [first["attached"], first["made"]]
    assert second["status"] == "success"
    assert second["sent"] == [hashlib.sha256(photo).hexdigest(), first["made_sha"]]
    # User B on worker 2, given A's handles: the unknown-image sentence, nothing sent.
    assert second["bob_status"] == "error"
    assert second["bob_said"].startswith(f"No image has the handle '{first['attached']}'")
    assert second["bob_requests"] == 0
