"""The example app (examples/langgraph) on a real ``langgraph dev`` server, driven as a UI would.

The server is langgraph-cli's in-memory runtime on loopback, its image model the
emulator served by this test process (so what the tool sent is read from its
recorded requests), its agent the example's scripted model. Two users, alice and
bob, each with a bearer token, speak to it through ``langgraph_sdk`` and plain HTTP.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import shutil
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from langchain_nanobanana.stores import HANDLE_PATTERN
from langchain_nanobanana.testing import FakeOpenRouter, describe_image
from tests.support import REPOSITORY
from tests.support.pictures import picture

if sys.version_info < (3, 11):  # langgraph-api, the server, needs Python 3.11
    pytest.skip("langgraph dev runs on Python 3.11 and later", allow_module_level=True)

from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient

from tests.support.langgraph_server import LangGraphDev

pytestmark = pytest.mark.slow

EXAMPLE = REPOSITORY / "examples" / "langgraph"
TOKENS = {"alice": "alice-token-for-tests", "bob": "bob-token-for-tests"}


def _deploy(folder: Path, base_url: str, **settings: str) -> Path:
    """A copy of the example app with its .env written as a deployer writes it."""
    app = folder / "app"
    shutil.copytree(EXAMPLE, app, ignore=shutil.ignore_patterns(".env", ".langgraph_api"))
    env = {
        "OPENROUTER_BASE_URL": base_url,
        "OPENROUTER_API_KEY": "sk-or-fake-key",
        "NANOBANANA_AGENT_MODEL": "scripted",
        "NANOBANANA_EXAMPLE_TOKENS": ",".join(f"{u}:{t}" for u, t in TOKENS.items()),
        **settings,
    }
    (app / ".env").write_text("".join(f"{name}={value}\n" for name, value in env.items()))
    return app


@pytest.fixture(scope="module")
def emulator() -> Iterator[tuple[FakeOpenRouter, str]]:
    fake = FakeOpenRouter()
    with fake.serve() as base_url:
        yield fake, base_url


@pytest.fixture(scope="module")
def server(
    emulator: tuple[FakeOpenRouter, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LangGraphDev]:
    dev = LangGraphDev(_deploy(tmp_path_factory.mktemp("deployment"), emulator[1]), {})
    dev.start()
    try:
        yield dev
    finally:
        dev.stop()


def _client(server: LangGraphDev, user: str) -> LangGraphClient:
    return get_client(url=server.url, headers=_auth(user))


def _auth(user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[user]}"}


@pytest.fixture
async def http(server: LangGraphDev) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
        yield client


async def _run(
    client: LangGraphClient, thread: str, message: dict[str, Any] | str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """One run of the agent, streamed: (the thread's messages after it, its custom events)."""
    if isinstance(message, str):
        message = {"role": "user", "content": message}
    custom = []
    async for part in client.runs.stream(
        thread, "agent", input={"messages": [message]}, stream_mode=["custom", "values"]
    ):
        if part.event == "custom":
            custom.append(part.data)
        assert part.event != "error", part.data
    state = await client.threads.get_state(thread)
    return state["values"]["messages"], custom


def _made(messages: list[dict[str, Any]]) -> str:
    """The handle of the image the last tool call made."""
    tool = [m for m in messages if m["type"] == "tool"][-1]
    assert tool["status"] == "success", tool["content"]
    return HANDLE_PATTERN.findall(tool["content"])[-1]


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def _image(http: httpx.AsyncClient, user: str, handle: str) -> httpx.Response:
    return await http.get(f"/nanobanana/images/{handle}", headers=_auth(user))


# ------------------------------------------------------------ one user's day


async def test_draw_then_edit_by_handle_then_a_photo_uploaded_and_edited(
    server: LangGraphDev, emulator: tuple[FakeOpenRouter, str], http: httpx.AsyncClient
) -> None:
    fake, base_url = emulator
    alice = _client(server, "alice")
    thread = (await alice.threads.create())["thread_id"]

    messages, progress = await _run(alice, thread, "draw a banana on a plate")
    drawn = _made(messages)
    assert [event["event"] for event in progress] == ["started", "done"]
    assert progress[-1]["images"][0]["handle"] == drawn
    shown = await _image(http, "alice", drawn)
    assert (shown.status_code, shown.headers["content-type"]) == (200, "image/png")
    assert describe_image(shown.content)["prompt"] == "draw a banana on a plate"

    # A later run edits it by handle, through a 502 injected into the running emulator.
    async with httpx.AsyncClient() as control:
        queued = await control.post(f"{base_url}/_emulator/faults", json=["502"])
    assert queued.json()["queued_faults"] == 1
    before = len(fake.requests)
    messages, _ = await _run(alice, thread, "make the plate blue")
    edited = _made(messages)
    assert len(fake.requests) - before == 2  # the 502, then the retried answer
    edited_png = (await _image(http, "alice", edited)).content
    assert describe_image(edited_png)["sources"] == _sha(shown.content)

    # A photo uploaded through the route, then named in a message by its handle.
    photo = picture("red", (320, 240), "JPEG")
    uploaded = await http.post(
        "/nanobanana/images",
        content=photo,
        headers={**_auth("alice"), "Content-Type": "image/jpeg"},
    )
    assert uploaded.status_code == 201, uploaded.text
    answer = uploaded.json()
    assert (answer["mime_type"], answer["width"], answer["height"]) == ("image/jpeg", 320, 240)
    assert (await _image(http, "alice", answer["handle"])).content == photo
    message = {
        "role": "user",
        "content": [{"type": "text", "text": "put my cat on the plate"}, answer["content_block"]],
        "additional_kwargs": answer["additional_kwargs"],
    }
    messages, _ = await _run(alice, thread, message)
    from_photo = (await _image(http, "alice", _made(messages))).content
    assert describe_image(from_photo)["sources"] == _sha(photo)

    # No checkpoint of the thread holds image bytes.
    history = await alice.threads.get_history(thread, limit=100)
    for encoded in (shown.content, edited_png, photo, from_photo):
        assert base64.b64encode(encoded).decode()[:200] not in json.dumps(history)


async def test_an_upload_that_is_no_image_is_refused_by_its_bytes(http: httpx.AsyncClient) -> None:
    html = b"<html><script>alert(1)</script></html>"
    refused = await http.post(
        "/nanobanana/images", content=html, headers={**_auth("alice"), "Content-Type": "image/png"}
    )
    assert refused.status_code == 415
    assert "PNG, JPEG, WebP and GIF" in refused.json()["detail"]
    anonymous = await http.post("/nanobanana/images", content=picture("red"))
    assert anonymous.status_code == 401


async def test_no_token_no_entry_not_even_as_langgraph_studio(http: httpx.AsyncClient) -> None:
    studio = {"x-auth-scheme": "langsmith"}  # let in without a token unless the app says no
    assert (await http.post("/threads", json={}, headers=studio)).status_code == 401
    assert (await http.post("/store/namespaces", json={})).status_code == 401


# ------------------------------------------------------------ another user


async def test_bob_is_refused_alices_images_through_runs_the_store_api_and_the_route(
    server: LangGraphDev, emulator: tuple[FakeOpenRouter, str], http: httpx.AsyncClient
) -> None:
    fake, _ = emulator
    alice, bob = _client(server, "alice"), _client(server, "bob")
    thread = (await alice.threads.create())["thread_id"]
    handle = _made((await _run(alice, thread, "draw a secret"))[0])
    namespace = ["nanobanana", "user/alice", "images"]
    assert (await alice.store.get_item(namespace, handle))["key"] == handle

    # Through a run: bob's agent names alice's handle; nothing is sent for it.
    bobs = (await bob.threads.create())["thread_id"]
    before = len(fake.requests)
    message = {"role": "user", "content": f"[attached image {handle} (1024x1024 PNG)]"}
    async for _ in bob.runs.stream(bobs, "agent", input={"messages": [message]}):
        pass
    refusal = [m for m in (await bob.threads.get_state(bobs))["values"]["messages"]][-2]
    assert (refusal["type"], refusal["status"]) == ("tool", "error")
    assert f"No image has the handle '{handle}'" in refusal["content"]
    assert len(fake.requests) == before

    # Through the store API: get, search, namespace listings.
    for read in (
        bob.store.get_item(namespace, handle),
        bob.store.search_items(["nanobanana", "user/alice"]),
        bob.store.list_namespaces(prefix=["nanobanana", "user/alice"]),
        bob.store.list_namespaces(),
        bob.store.search_items([]),
        bob.store.list_namespaces(prefix=["nanobanana", "*"]),
    ):
        with pytest.raises(Exception) as refused:  # noqa: PT011 (the SDK's 403 error)
            await read
        assert getattr(refused.value, "response", None) is not None
        assert refused.value.response.status_code == 403  # type: ignore[attr-defined]
    listed = await bob.store.list_namespaces(prefix=["nanobanana"])
    assert all(ns[1] == "user/bob" for ns in listed["namespaces"])
    found = await bob.store.search_items(["nanobanana"])
    assert found["items"] == [] or all(i["namespace"][1] == "user/bob" for i in found["items"])

    # Nobody writes image namespaces by hand, not even their own.
    with pytest.raises(Exception) as written:  # noqa: PT011
        await alice.store.put_item(["nanobanana", "user/alice", "notes", "spending"], "x", {})
    assert written.value.response.status_code == 403  # type: ignore[attr-defined]

    # Through the image route: exactly as unknown as a handle that never existed.
    stolen, never = await _image(http, "bob", handle), await _image(http, "bob", "img_" + "0" * 32)
    assert (
        (stolen.status_code, stolen.json())
        == (never.status_code, never.json())
        == (
            404,
            {"detail": "No image has this handle."},
        )
    )
    assert (await _image(http, "alice", handle)).status_code == 200


# ------------------------------------------------------------ a restart


async def test_after_a_restart_the_thread_continues_from_the_runtime_on_disk(
    server: LangGraphDev, http: httpx.AsyncClient
) -> None:
    alice = _client(server, "alice")
    thread = (await alice.threads.create())["thread_id"]
    drawn = _made((await _run(alice, thread, "draw a lighthouse"))[0])

    server.restart()
    assert (server.folder / ".langgraph_api").is_dir()

    messages, _ = await _run(alice, thread, "make it night")
    assert [m["content"] for m in messages if m["type"] == "human"] == [
        "draw a lighthouse",
        "make it night",
    ]
    night = (await _image(http, "alice", _made(messages))).content
    assert describe_image(night)["sources"] == _sha((await _image(http, "alice", drawn)).content)


# ------------------------------------------------------------ a budget under concurrency


async def test_four_concurrent_one_image_runs_with_room_for_two_make_exactly_two(
    tmp_path: Path,
) -> None:
    fake = FakeOpenRouter(latency=1.0)  # the four runs overlap at the image model
    with fake.serve() as base_url:
        app = _deploy(tmp_path, base_url, NANOBANANA_MAX_IMAGES_PER_USER="2")
        dev = LangGraphDev(app, {}, "--n-jobs-per-worker", "4")
        dev.start()
        try:
            alice = _client(dev, "alice")
            threads = [(await alice.threads.create())["thread_id"] for _ in range(4)]
            runs = await asyncio.gather(
                *[
                    alice.runs.wait(thread, "agent", input={"messages": [f"draw banana {n}"]})
                    for n, thread in enumerate(threads)
                ]
            )
        finally:
            dev.stop()
    tool_messages = [[m for m in run["messages"] if m["type"] == "tool"][-1] for run in runs]
    made = [m for m in tool_messages if m["status"] == "success"]
    refused = [m for m in tool_messages if m["status"] == "error"]
    assert (len(made), len(refused)) == (2, 2), [m["content"] for m in tool_messages]
    assert len([r for r in fake.requests if r.path.endswith("/chat/completions")]) == 2
