"""Images that stay with their owner, in every kind of store, and threads that outlive them."""

from __future__ import annotations

import asyncio
import base64
import secrets
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from langchain.agents import create_agent
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.runnables import RunnableConfig
from langchain_core.stores import InMemoryByteStore
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.store.base import BaseStore as LangGraphStore
from langgraph.store.memory import InMemoryStore

from langchain_nanobanana import NanoBananaImageTool
from langchain_nanobanana.images import images_from
from langchain_nanobanana.middleware import AttachedImagesMiddleware
from langchain_nanobanana.stores import (
    HANDLE_PATTERN,
    DirectoryByteStore,
    ImageStore,
    UnknownImageError,
)
from langchain_nanobanana.stores._backend import HandleTakenError
from langchain_nanobanana.testing import FakeOpenRouter, ScriptedAgentModel
from tests.support.pictures import picture


def _call(args: dict[str, Any], call_id: str | None = None) -> dict[str, Any]:
    """A tool call with its own id (the same id twice is one call, answered once)."""
    call_id = call_id or f"call_{uuid.uuid4().hex[:12]}"
    return {"type": "tool_call", "id": call_id, "name": "generate_image", "args": args}


def _user(user_id: str, thread: str = "t") -> RunnableConfig:
    return {"configurable": {"user_id": user_id, "thread_id": thread}}


def _handle_in(message: ToolMessage) -> str:
    return str(HANDLE_PATTERN.findall(str(message.content))[-1])


STORES = ["memory", "directory", "langgraph"]


def _store(kind: str, tmp_path: Path) -> Any:
    if kind == "memory":
        return InMemoryByteStore()
    if kind == "directory":
        return DirectoryByteStore(tmp_path / "images")
    return InMemoryStore()


# ---------------------------------------------------------------- scopes


@pytest.mark.parametrize("kind", STORES)
def test_another_users_handle_is_as_unknown_as_one_that_never_existed(
    fake: FakeOpenRouter, tmp_path: Path, kind: str
) -> None:
    tool = NanoBananaImageTool(llm=fake.chat_model(), store=_store(kind, tmp_path))
    alices = _handle_in(tool.invoke(_call({"prompt": "alice's cat"}), _user("alice")))
    sent_before = len(fake.requests)

    stolen = tool.invoke(_call({"prompt": "edit it", "image_ids": [alices]}), _user("bob"))
    never = f"img_{secrets.token_hex(16)}"
    invented = tool.invoke(_call({"prompt": "edit it", "image_ids": [never]}), _user("bob"))

    assert stolen.status == invented.status == "error"
    assert str(stolen.content).replace(alices, "X") == str(invented.content).replace(never, "X")
    assert len(fake.requests) == sent_before, "nothing was sent for either"
    with pytest.raises(UnknownImageError):
        tool.images_for(_user("bob")).get(alices)
    # Alice, on another thread, still has it: the owner is the user, not the thread.
    assert tool.images_for(_user("alice", thread="other")).get(alices).data[:4] == b"\x89PNG"


def test_a_thousand_guesses_find_nothing(fake: FakeOpenRouter) -> None:
    tool = NanoBananaImageTool(llm=fake.chat_model())
    owners = [tool.images_for(_user(f"user-{n}")) for n in range(50)]
    for images in owners:
        for _ in range(20):
            images.put(picture())
    mallory = _user("mallory")

    answers = [
        tool.invoke(_call({"prompt": "x", "image_ids": [f"img_{secrets.token_hex(16)}"]}), mallory)
        for _ in range(1000)
    ]

    assert {answer.status for answer in answers} == {"error"}
    assert all("No image has the handle" in str(answer.content) for answer in answers)
    assert fake.requests == []


def test_a_custom_scope_rule_shares_images_across_an_organisation(fake: FakeOpenRouter) -> None:
    tool = NanoBananaImageTool(
        llm=fake.chat_model(), scope=lambda config: ("org", config["configurable"]["org"])
    )
    made = _handle_in(
        tool.invoke(_call({"prompt": "logo"}), {"configurable": {"org": "acme", "user_id": "a"}})
    )
    colleague = {"configurable": {"org": "acme", "user_id": "b"}}
    rival = {"configurable": {"org": "globex", "user_id": "c"}}

    assert tool.images_for(colleague).get(made).data[:4] == b"\x89PNG"
    with pytest.raises(UnknownImageError):
        tool.images_for(rival).get(made)


# ------------------------------------------------------- LangGraph's store


def test_the_graphs_store_holds_the_images_under_the_nanobanana_namespace(
    fake: FakeOpenRouter,
) -> None:
    tool = NanoBananaImageTool(llm=fake.chat_model())  # no store= given
    graph_store = InMemoryStore()
    agent_model = ScriptedAgentModel(
        turns=[
            AIMessage(
                "", tool_calls=[{"name": "generate_image", "args": {"prompt": "a"}, "id": "c1"}]
            ),
            lambda messages: AIMessage("done"),
        ]
    )
    agent = create_agent(agent_model, tools=[tool], store=graph_store)

    state = agent.invoke({"messages": [HumanMessage("draw")]}, _user("alice"))

    handle = _handle_in(state["messages"][2])
    records = graph_store.search(("nanobanana", "user/alice", "records"))
    assert [item.key for item in records] == [handle]
    stored = graph_store.get(("nanobanana", "user/alice", "images"), handle)
    assert stored is not None
    assert base64.b64decode(stored.value["base64"]) == images_from(state["messages"][2])[0].data
    # The tool's own in-memory store was not used.
    with pytest.raises(UnknownImageError):
        tool.images_for(_user("alice")).get(handle)
    assert tool.images_for(_user("alice"), store=graph_store).get(handle).mime_type == "image/png"


def test_image_ttl_on_a_graph_store_without_ttl_support_still_answers_and_replays(
    fake: FakeOpenRouter,
) -> None:
    """InMemoryStore has no TTL: nothing is sent to it with one (LangGraph refuses it),
    and the expiry is kept in the record, as for byte stores."""
    from datetime import timedelta

    graph_store = InMemoryStore()
    assert not graph_store.supports_ttl
    tool = NanoBananaImageTool(
        llm=fake.chat_model(), store=graph_store, image_ttl=timedelta(days=1), max_images=3
    )
    call = _call({"prompt": "a"}, "call_ttl")

    first, again = tool.invoke(call, _user("alice")), tool.invoke(call, _user("alice"))

    assert first.status == again.status == "success"
    assert _handle_in(first) == _handle_in(again), "remembered, with its TTL"
    assert len(fake.requests) == 1
    assert "expires_at" in tool.images_for(_user("alice")).metadata(_handle_in(first))


class _LoosePrefixStore(InMemoryStore):
    """A LangGraph store whose prefix matching is by string, as a store may do it:
    ("nanobanana", "user/a") then also matches "user/ab"."""

    def search(
        self, namespace_prefix: Any, /, *, limit: int = 10, offset: int = 0, **_: Any
    ) -> Any:
        joined = ".".join(namespace_prefix)
        everything = super().search(("nanobanana",), limit=10_000)
        loose = [item for item in everything if ".".join(item.namespace).startswith(joined)]
        return loose[offset : offset + limit]

    def list_namespaces(self, *, prefix: Any = None, limit: int = 100, **_: Any) -> Any:
        joined = ".".join(prefix or ())
        listed = super().list_namespaces(prefix=("nanobanana",), limit=10_000)
        return [ns for ns in listed if ".".join(ns).startswith(joined)][:limit]


def test_a_store_that_matches_prefixes_loosely_still_keeps_scopes_and_kinds_apart() -> None:
    store = _LoosePrefixStore()
    a, ab = ImageStore(store, scope=("user", "a")), ImageStore(store, scope=("user", "ab"))
    kept = ab.put(picture())
    a.put(picture("blue"))
    a.write_note("calls", "one", {"images": 1})
    a.write_note("calls-0123", "other", {"images": 5})
    ab.write_note("calls", "theirs", {"images": 7})
    # What the backend is up against: each search here finds the neighbours too.
    assert len(store.search(("nanobanana", "user/a", "notes", "calls"))) == 2
    assert {i.namespace[1] for i in store.search(("nanobanana", "user/a"), limit=99)} == {
        "user/a",
        "user/ab",
    }

    assert a.list_notes("calls") == [{"images": 1}]
    assert a.forget() == 1
    assert ab.get(kept).data == picture()
    assert ab.list_notes("calls") == [{"images": 7}]


def test_a_scope_with_dots_and_slashes_is_one_namespace_label() -> None:
    store = InMemoryStore()
    images = ImageStore(store, scope=("user", "a.b/c%d"))
    handle = images.put(picture())
    namespaces = store.list_namespaces(prefix=("nanobanana",))
    assert set(namespaces) == {
        ("nanobanana", "user/a%2Eb%2Fc%25d", "records"),
        ("nanobanana", "user/a%2Eb%2Fc%25d", "images"),
    }
    assert images.get(handle).size == (64, 48)


# ----------------------------------------------------------------- minting


def test_a_forced_collision_does_not_overwrite_in_a_directory_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    images = ImageStore(DirectoryByteStore(tmp_path))
    first = images.put(picture("red"))
    minted = iter([first, first, "img_" + "ab" * 16])
    monkeypatch.setattr("langchain_nanobanana.stores.new_handle", lambda: next(minted))

    second = images.put(picture("blue"))

    assert second == "img_" + "ab" * 16
    assert images.get(first).data == picture("red")
    assert images.get(second).data == picture("blue")
    with pytest.raises(FileExistsError):
        DirectoryByteStore(tmp_path).create(
            next(iter(DirectoryByteStore(tmp_path).yield_keys())), b"x"
        )


def test_minting_gives_up_with_a_clear_error_when_every_handle_is_taken(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    images = ImageStore()

    def taken(*args: Any) -> None:
        raise HandleTakenError("img_x")

    monkeypatch.setattr(images.backend, "create", taken)
    with pytest.raises(RuntimeError, match="refused every new handle"):
        images.put(picture())


# ------------------------------------------------------------------ forget


@pytest.mark.parametrize("kind", STORES)
def test_forget_one_image_or_a_whole_user(tmp_path: Path, kind: str) -> None:
    store = _store(kind, tmp_path)
    alice = ImageStore(store, scope=("user", "alice"))
    bob = ImageStore(store, scope=("user", "bob"))
    kept, dropped, more = (
        alice.put(picture()),
        alice.put(picture("blue")),
        alice.put(picture("green")),
    )
    bobs = bob.put(picture())

    alice.delete(dropped)
    with pytest.raises(UnknownImageError):
        alice.get(dropped)
    assert alice.get(kept).data == picture()

    assert alice.forget() == 2
    for handle in (kept, more):
        with pytest.raises(UnknownImageError):
            alice.get(handle)
    assert bob.get(bobs).data == picture()


@pytest.mark.parametrize("kind", [*STORES, "bucket"])
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_forget_removes_a_users_data_but_keeps_what_they_spent(
    tmp_path: Path, kind: str, mode: str
) -> None:
    """A user who asks to be forgotten keeps their budget: the spending notes stay (they
    hold counts and amounts only), everything else goes."""
    import asyncio

    if kind == "bucket":
        from obstore.store import MemoryStore

        from langchain_nanobanana.object_store import ObjectImageStore

        store: Any = ObjectImageStore(MemoryStore())
    else:
        store = _store(kind, tmp_path)
    alice = ImageStore(store, scope=("user", "alice"))
    alice.put(picture())
    alice.write_note("calls", "c1", {"sentence": "Created image ..."})
    alice.write_note("spending-0123456789abcdef", "e1", {"images": 1, "cost_usd": 0.04})

    forgotten = alice.forget() if mode == "sync" else asyncio.run(alice.aforget())

    assert forgotten == 1
    assert alice.list_notes("calls") == []
    assert alice.list_notes("spending-0123456789abcdef") == [{"images": 1, "cost_usd": 0.04}]


@pytest.mark.parametrize("kind", STORES)
def test_an_expired_image_is_unknown(
    tmp_path: Path, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import timedelta

    images = ImageStore(_store(kind, tmp_path), ttl=timedelta(minutes=5))
    handle = images.put(picture())
    assert images.get(handle).data == picture()

    later = __import__("time").time() + 301
    monkeypatch.setattr("langchain_nanobanana.stores.time.time", lambda: later)
    with pytest.raises(UnknownImageError):
        images.get(handle)
    with pytest.raises(UnknownImageError):
        images.metadata(handle)


@pytest.mark.parametrize("kind", STORES)
def test_bytes_whose_record_is_gone_are_unknown_in_every_store(tmp_path: Path, kind: str) -> None:
    """The record holds the type and the expiry: bytes left without it (a sweep that took
    the record first, a half-done delete) are never served, expired or not."""
    from datetime import timedelta

    from langchain_nanobanana.scopes import scope_token
    from langchain_nanobanana.stores._langgraph import scope_label

    store = _store(kind, tmp_path)
    images = ImageStore(store, scope=("user", "alice"), ttl=timedelta(seconds=-1))
    handle = images.put(picture())
    if isinstance(store, LangGraphStore):
        store.delete(("nanobanana", scope_label(images.scope), "records"), handle)
        assert store.get(("nanobanana", scope_label(images.scope), "images"), handle)
    else:
        key = f"{scope_token(images.scope)}.{handle}"
        store.mdelete([f"{key}.meta.json"])
        assert store.mget([key]) != [None], "the bytes are still there"

    with pytest.raises(UnknownImageError):
        images.get(handle)
    with pytest.raises(UnknownImageError):
        asyncio.run(images.aget(handle))


def test_an_image_from_langgraphs_store_keeps_the_base64_it_is_stored_as() -> None:
    """LangGraph's values are JSON, so the image is base64 there already: a block or a
    request built from it reuses that text instead of encoding the bytes again."""
    from langchain_nanobanana.stores._langgraph import scope_label

    store = InMemoryStore()
    images = ImageStore(store, scope=("user", "alice"))
    handle = images.put(picture())
    held = store.get(("nanobanana", scope_label(images.scope), "images"), handle)
    assert held is not None

    image = images.get(handle)

    assert image.data == picture()
    assert image.encoded == held.value["base64"] == base64.b64encode(picture()).decode()
    assert image.to_block()["base64"] is held.value["base64"]


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_an_answers_base64_is_what_langgraphs_store_keeps(mode: str) -> None:
    """An image that arrived as base64 (a model's answer) is stored as that very text, not
    encoded again beside it: 34 MB at the moment a 4K answer is stored."""
    from langchain_nanobanana.stores._langgraph import scope_label

    store = InMemoryStore()
    images = ImageStore(store, scope=("user", "alice"))
    (answer,) = images_from([{"type": "image", "base64": base64.b64encode(picture()).decode()}])

    if mode == "sync":
        handle = images.put_image(answer, prompt="a banana")
    else:
        handle = asyncio.run(images.aput_image(answer, prompt="a banana"))

    held = store.get(("nanobanana", scope_label(images.scope), "images"), handle)
    assert held is not None and held.value["base64"] is answer.encoded
    assert images.get(handle).data == picture()
    assert images.metadata(handle)["prompt"] == "a banana"


# --------------------------------------------------- threads that go on


def _photo_message(text: str, photo: bytes) -> HumanMessage:
    block = {"type": "image", "base64": base64.b64encode(photo).decode(), "mime_type": "image/png"}
    return HumanMessage([{"type": "text", "text": text}, block])


def _handles_in(messages: Sequence[BaseMessage]) -> list[str]:
    return [h for m in messages for h in HANDLE_PATTERN.findall(str(m.content))]


def _edit_the_first_handle(messages: list[BaseMessage]) -> AIMessage:
    args = {"prompt": "edit", "image_ids": [_handles_in(messages)[0]]}
    return AIMessage("", tool_calls=[{"name": "generate_image", "args": args, "id": "again"}])


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_thread_whose_images_vanished_keeps_working(fake: FakeOpenRouter, mode: str) -> None:
    checkpointer = InMemorySaver()
    config = _user("alice", thread="long-lived")

    def agent_on_a_new_worker(turns: list[Any]) -> tuple[Any, ScriptedAgentModel]:
        tool = NanoBananaImageTool(llm=fake.chat_model())  # a fresh in-memory store
        model = ScriptedAgentModel(turns=turns)
        agent = create_agent(
            model,
            tools=[tool],
            middleware=[AttachedImagesMiddleware(tool)],
            checkpointer=checkpointer,
        )
        return agent, model

    def run(agent: Any, message: HumanMessage) -> dict[str, Any]:
        if mode == "sync":
            return dict(agent.invoke({"messages": [message]}, config))
        return dict(asyncio.run(agent.ainvoke({"messages": [message]}, config)))

    first, _ = agent_on_a_new_worker([lambda m: AIMessage("nice photo")])
    run(first, _photo_message("here is my cat", picture("orange")))

    # "Restart": the new worker's store never saw the photo.
    second, model = agent_on_a_new_worker([_edit_the_first_handle, lambda m: AIMessage("sorry")])
    sent_before = len(fake.requests)
    state = run(second, HumanMessage("make my cat blue"))

    (handle,) = set(_handles_in(state["messages"][:1]))
    shown = [b for m in model.seen[0] if isinstance(m.content, list) for b in m.content]
    assert {"type": "text", "text": f"[image {handle} is no longer available]"} in shown
    tool_message = next(m for m in state["messages"] if isinstance(m, ToolMessage))
    assert tool_message.status == "error"
    # The thread's history names the attachment (its line), but never held its bytes: gone.
    assert str(tool_message.content).startswith(f"Image {handle} is gone:")
    assert state["messages"][-1].content == "sorry"
    assert len(fake.requests) == sent_before


def test_an_attached_image_that_does_not_decode_is_kept_as_a_note(fake: FakeOpenRouter) -> None:
    tool = NanoBananaImageTool(llm=fake.chat_model())
    model = ScriptedAgentModel(turns=[lambda m: AIMessage("ok")])
    agent = create_agent(model, tools=[tool], middleware=[AttachedImagesMiddleware(tool)])
    broken = HumanMessage(
        [
            {"type": "text", "text": "look"},
            {"type": "image", "base64": "not base64 at all!!", "mime_type": "image/png"},
        ]
    )

    state = agent.invoke({"messages": [broken]})

    (stored,) = [m for m in state["messages"] if isinstance(m, HumanMessage)]
    assert stored.content[0] == {"type": "text", "text": "look"}
    note = stored.content[1]
    assert isinstance(note, dict) and note["type"] == "text"
    assert note["text"].startswith("[an attached image could not be read and was left out:")
    assert state["messages"][-1].content == "ok"


# ------------------------------------------------------- async all the way


class _AsyncOnlyByteStore(InMemoryByteStore):
    """Sync I/O fails loudly: the async paths must never use it."""

    def mget(self, keys: Sequence[str]) -> list[bytes | None]:
        raise AssertionError("sync mget on the event loop")

    def mset(self, key_value_pairs: Sequence[tuple[str, bytes]]) -> None:
        raise AssertionError("sync mset on the event loop")

    async def amget(self, keys: Sequence[str]) -> list[bytes | None]:
        return InMemoryByteStore.mget(self, keys)

    async def amset(self, key_value_pairs: Sequence[tuple[str, bytes]]) -> None:
        InMemoryByteStore.mset(self, key_value_pairs)


class _AsyncOnlyGraphStore(InMemoryStore):
    def batch(self, ops: Any) -> Any:
        raise AssertionError("sync LangGraph store call on the event loop")

    async def abatch(self, ops: Any) -> Any:
        return InMemoryStore.batch(self, ops)


@pytest.mark.parametrize("store", [_AsyncOnlyByteStore, _AsyncOnlyGraphStore])
def test_the_async_agent_uses_only_the_stores_async_methods(
    fake: FakeOpenRouter, store: type[Any]
) -> None:
    kept = store()
    graph_store = kept if isinstance(kept, LangGraphStore) else None
    tool = NanoBananaImageTool(llm=fake.chat_model(), store=None if graph_store else kept)

    def edit_photo(messages: list[BaseMessage]) -> AIMessage:
        return _edit_the_first_handle(messages)

    model = ScriptedAgentModel(turns=[edit_photo, lambda m: AIMessage("done")])
    agent = create_agent(
        model, tools=[tool], middleware=[AttachedImagesMiddleware(tool)], store=graph_store
    )
    photo = picture("purple")

    state = asyncio.run(agent.ainvoke({"messages": [_photo_message("hat", photo)]}, _user("a")))

    tool_message = next(m for m in state["messages"] if isinstance(m, ToolMessage))
    assert tool_message.status == "success", tool_message.content
    sent = fake.requests[-1].body["messages"][-1]["content"][1]["image_url"]["url"]
    assert base64.b64decode(sent.split(",", 1)[1]) == photo
    assert images_from(model.seen[0][0])[0].data == photo


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_where_hooks_cannot_see_the_config_attachments_still_land_with_their_owner(
    fake: FakeOpenRouter, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    """Python 3.10 does not carry LangGraph's config into async code (get_config raises
    there): the middleware takes it as the node's injected config parameter, and its
    model calls use what before_agent saw, so the user's photo is stored, shown to the
    model and edited in the user's scope."""

    def no_config() -> Any:
        raise RuntimeError("Called get_config outside of a runnable context")

    monkeypatch.setattr("langchain_nanobanana.middleware.get_config", no_config)
    tool = NanoBananaImageTool(llm=fake.chat_model())
    model = ScriptedAgentModel(turns=[_edit_the_first_handle, lambda m: AIMessage("done")])
    agent = create_agent(
        model,
        tools=[tool],
        middleware=[AttachedImagesMiddleware(tool)],
        checkpointer=InMemorySaver(),
    )
    config: RunnableConfig = {"configurable": {"thread_id": "t-310", "user_id": "ann"}}

    request = {"messages": [_photo_message("hat", picture("navy"))]}
    state = (
        agent.invoke(request, config)
        if mode == "sync"
        else asyncio.run(agent.ainvoke(request, config))
    )
    handle = _handles_in(state["messages"][:1])[0]
    assert tool.images_for(config).get(handle).data == picture("navy")

    tool_message = next(m for m in state["messages"] if isinstance(m, ToolMessage))
    assert tool_message.status == "success", tool_message.content
    assert images_from(model.seen[0][0])[0].data == picture("navy")


@pytest.mark.parametrize(
    ("declared", "data"),
    [
        ("text/html", b"<html><script>alert(1)</script></html>"),
        ("image/svg+xml", b'<svg xmlns="http://www.w3.org/2000/svg"><script/></svg>'),
        ("image/png", b"<html>labelled as a PNG</html>"),
    ],
)
def test_an_attachment_that_is_no_image_is_never_stored_or_shown(
    fake: FakeOpenRouter, declared: str, data: bytes
) -> None:
    from langchain_nanobanana._agent import attachments as _attachments

    images = ImageStore()
    block = {"type": "image", "base64": base64.b64encode(data).decode(), "mime_type": declared}
    message = _attachments.register(HumanMessage([block]), images)

    (line,) = message.content
    assert isinstance(line, dict)
    assert line["text"].startswith("[an attached image could not be read and was left out:")
    assert message.additional_kwargs["nanobanana_handles"] == []
    assert list(images.backend.store.yield_keys()) == []  # type: ignore[attr-defined]


def test_the_bytes_decide_the_stored_type() -> None:
    images = ImageStore()
    handle = images.put(picture(), "image/jpeg")
    assert images.metadata(handle)["mime_type"] == "image/png"
    assert images.get(handle).mime_type == "image/png"
    with pytest.raises(ValueError, match="Only PNG, JPEG, WebP and GIF"):
        images.put(b"<html></html>", "image/png")
