"""Odd ids, scope rules, URLs that only look public, and signed URLs that must not leak.

- Ids (user, thread, tool call) are checked where a run's scope is decided, before
  anything is paid for: a ValueError that names the field, never a UnicodeEncodeError
  or a database error after the image was paid.
- The server's authenticated id wins; present but empty, the call fails.
- A host is public only when it plainly is (``127.1`` is loopback, ``*.nip.io`` is
  anything); ``public_url`` must be a plain http(s) base.
- A signed URL's signature is only in the artifact the caller gets: not in the tool's
  end callback, the progress events, the agent's sentence, the stored provenance or
  the ledger.
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import ToolMessage
from langchain_core.runnables import RunnableConfig
from langchain_core.stores import InMemoryByteStore

from langchain_nanobanana import NanoBananaImageTool
from langchain_nanobanana._agent.ledger import CALLS
from langchain_nanobanana._content.urls import (
    checked_public_url,
    fetchable_by_openrouter,
    without_signature,
)
from langchain_nanobanana.scopes import Scope, default_scope, scope_of
from langchain_nanobanana.stores import ImageStore
from langchain_nanobanana.stores._byte_store import ByteStoreBackend
from langchain_nanobanana.testing import FakeOpenRouter
from tests.support.pictures import picture


def _call(call_id: str = "c1", **args: Any) -> dict[str, Any]:
    return {"type": "tool_call", "id": call_id, "name": "generate_image", "args": args}


def _run(tool: NanoBananaImageTool, call: dict[str, Any], config: Any, mode: str) -> ToolMessage:
    if mode == "sync":
        return tool.invoke(call, config)
    return asyncio.run(tool.ainvoke(call, config))


# ---------------------------------------------------------------- the auth id


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_an_empty_authenticated_id_fails_closed(fake: FakeOpenRouter, mode: str) -> None:
    tool = NanoBananaImageTool(llm=fake.chat_model())
    config = {"configurable": {"langgraph_auth_user_id": "", "user_id": "alice"}}
    with pytest.raises(ValueError, match=r"langgraph_auth_user_id.*empty"):
        _run(tool, _call(prompt="a"), config, mode)
    assert fake.requests == []


def test_the_authenticated_id_wins_and_only_a_missing_one_falls_back() -> None:
    both = {"configurable": {"langgraph_auth_user_id": "bob", "user_id": "alice"}}
    assert default_scope(both) == ("user", "bob")
    absent = {"configurable": {"langgraph_auth_user_id": None, "user_id": "alice"}}
    assert default_scope(absent) == ("user", "alice")
    with pytest.raises(ValueError, match="langgraph_auth_user_id"):
        default_scope({"configurable": {"langgraph_auth_user_id": True}})


# ---------------------------------------------------------------- scope rules


@pytest.mark.parametrize("returned", [None, True, False, 5, 2.5, b"alice", {"alice"}])
def test_a_rule_that_returns_no_string_or_tuple_is_a_value_error(returned: Any) -> None:
    with pytest.raises(ValueError, match="scope rule returned"):
        scope_of({}, lambda config: returned)


def test_true_and_the_string_true_are_not_one_scope() -> None:
    assert scope_of({"configurable": {"user_id": "True"}}) == ("user", "True")
    with pytest.raises(ValueError, match="user_id"):
        scope_of({"configurable": {"user_id": True}})
    with pytest.raises(ValueError, match="scope rule returned True"):
        scope_of({}, lambda config: True)


# ---------------------------------------------------------------- odd ids


ODD = {
    "a lone surrogate": "ab\ud800cd",
    "a NUL": "ab\x00cd",
    "a line break": "ab\ncd",
    "a megabyte": "x" * 1_000_000,
}


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("field", ["user_id", "thread_id", "tool_call_id"])
@pytest.mark.parametrize("odd", list(ODD))
def test_an_odd_id_is_a_value_error_naming_its_field_before_anything_is_paid(
    fake: FakeOpenRouter, odd: str, field: str, mode: str
) -> None:
    tool = NanoBananaImageTool(llm=fake.chat_model(), max_images=3)
    configurable = {"user_id": "alice", "thread_id": "t1"}
    call_id = "c1"
    if field == "tool_call_id":
        call_id = ODD[odd]
    else:
        configurable[field] = ODD[odd]

    with pytest.raises(ValueError, match=field) as refused:
        _run(tool, _call(call_id, prompt="a"), {"configurable": configurable}, mode)

    assert len(str(refused.value)) < 300, "the id is not repeated back whole"
    assert fake.requests == []


@pytest.mark.parametrize("label", list(ODD.values()))
def test_an_image_store_refuses_an_odd_scope_label(label: str) -> None:
    with pytest.raises(ValueError, match="The scope is"):
        ImageStore(scope=("user", label))


# ---------------------------------------------------------------- public hosts


@pytest.mark.parametrize(
    "host",
    [
        "127.1",
        "10.1",
        "0x7f.1",
        "0x7f000001",
        "2130706433",
        "0177.0.0.1",
        "127.000.000.001",
        "localhost.",
        "LOCALHOST",
        "minio.localhost.",
        "bucket.internal.",
        "nas.local",
        "printer.home.arpa",
        "10.0.0.1.nip.io",
        "anything.nip.io.",
        "127.0.0.1.sslip.io",
        "app.localtest.me",
        "[::ffff:127.0.0.1]",
        "[::ffff:7f00:1]",
        "[::1]",
        "[fd00::1]",
        "[fe80::1]",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "intranet",
        "8.8.8",
        "0x08.0x08.0x08.0x08",
        "xn--nxasmq6b.example.test",
        "exa_mple.com",
        "b\u00fccher.de",
    ],
)
def test_a_host_that_is_not_plainly_public_is_not_sent_as_a_url(host: str) -> None:
    assert fetchable_by_openrouter(f"https://{host}/a.png") is False


@pytest.mark.parametrize(
    "url",
    [
        "https://cdn.example.com/a.png",
        "https://cdn.example.com./a.png",
        "https://8.8.8.8/a.png",
        "https://[2001:4860:4860::8888]/a.png",
        "https://my-bucket.s3.eu-west-1.amazonaws.com/k?X-Amz-Signature=1",
    ],
)
def test_a_public_host_is(url: str) -> None:
    assert fetchable_by_openrouter(url) is True


@pytest.mark.parametrize(
    "url",
    ["http://cdn.example.com/a", "https://user@cdn.example.com/a", "https://[::1/a", "ftp://x/a"],
)
def test_only_plain_https_without_credentials_is_sent_as_a_url(url: str) -> None:
    assert fetchable_by_openrouter(url) is False


# ---------------------------------------------------------------- public_url


@pytest.mark.parametrize(
    "base",
    [
        "https://cdn.example.com/?sig=1",
        "https://cdn.example.com/images?",
        "https://cdn.example.com/#top",
        "//cdn.example.com/",
        "javascript:alert(1)",
        "data:text/html,hi",
        "https://user:pass@cdn.example.com/",
        "ftp://cdn.example.com/",
        "cdn.example.com/images",
        "https://cdn.example.com/a b",
        "",
    ],
)
def test_public_url_must_be_a_plain_http_base(base: str) -> None:
    from obstore.store import MemoryStore

    from langchain_nanobanana.object_store import ObjectImageStore

    with pytest.raises(ValueError, match="public_url"):
        ObjectImageStore(MemoryStore(), public_url=base)
    with pytest.raises(ValueError, match="public_url"):
        checked_public_url(base)


def test_a_public_url_function_is_checked_as_its_urls_come() -> None:
    from obstore.store import MemoryStore

    from langchain_nanobanana.object_store import ObjectImageStore

    backend = ObjectImageStore(MemoryStore(), public_url=lambda path: f"https://x.example?p={path}")
    images = ImageStore(backend, scope=("user", "a"))
    handle = images.put(picture())
    with pytest.raises(ValueError, match="public_url"):
        images.url(handle)


# ---------------------------------------------------------------- signed URLs

SIGNATURE = "X-Amz-Signature=0123456789abcdef"


class _SigningBackend(ByteStoreBackend):
    """A byte store that signs URLs, as a bucket does."""

    @property
    def gives_urls(self) -> bool:
        return True

    def url(self, scope: Scope, handle: str) -> str | None:
        return f"https://bucket.example.com/{handle}?X-Amz-Expires=60&{SIGNATURE}"

    async def aurl(self, scope: Scope, handle: str) -> str | None:
        return self.url(scope, handle)


class _Ends(BaseCallbackHandler):
    def __init__(self) -> None:
        self.outputs: list[Any] = []

    def on_tool_end(self, output: Any, **kwargs: Any) -> None:
        self.outputs.append(output)


def _everything(value: Any) -> str:
    return json.dumps(value, default=repr)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_signed_url_is_in_the_artifact_and_nowhere_else(fake: FakeOpenRouter, mode: str) -> None:
    tool = NanoBananaImageTool(
        llm=fake.chat_model(), store=_SigningBackend(InMemoryByteStore()), artifact_mode="url"
    )
    ends, events = _Ends(), []
    runtime = SimpleNamespace(stream_writer=events.append, store=None, tool_call_id="c1")
    config: RunnableConfig = {"callbacks": [ends], "configurable": {"user_id": "alice"}}

    made = _run(tool, _call(prompt="a", runtime=runtime), config, mode)

    assert made.status == "success"
    assert SIGNATURE in made.artifact[0]["url"], "the caller gets a URL it can load"
    assert SIGNATURE not in str(made.content)
    (ended,) = ends.outputs
    assert SIGNATURE not in _everything(ended.artifact) + str(ended.content)
    assert ended.artifact[0]["url"].startswith("https://bucket.example.com/img_")
    assert SIGNATURE not in _everything(events)
    assert [event["event"] for event in events] == ["started", "done"]


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_signed_url_passed_as_a_source_is_kept_only_in_the_request(
    fake: FakeOpenRouter, mode: str
) -> None:
    tool = NanoBananaImageTool(llm=fake.chat_model(), max_images=5, image_ttl=timedelta(days=1))
    source = f"https://photos.example.com/cat.png?X-Amz-Expires=60&{SIGNATURE}"
    ends, events = _Ends(), []
    runtime = SimpleNamespace(stream_writer=events.append, store=None, tool_call_id="c1")
    alice: RunnableConfig = {"callbacks": [ends], "configurable": {"user_id": "alice"}}

    made = _run(tool, _call(prompt="edit", image_ids=[source], runtime=runtime), alice, mode)

    assert made.status == "success"
    assert SIGNATURE in json.dumps(fake.requests[-1].body), "OpenRouter must fetch it"
    images = tool.images_for(alice)
    handle = made.artifact[0]["id"]
    stored = {
        "content": str(made.content),
        "callback": _everything(ends.outputs),
        "progress": _everything(events),
        "provenance": _everything(images.metadata(handle)),
        "ledger": _everything([n for n in images.list_notes(CALLS)]),
    }
    assert {where: SIGNATURE in text for where, text in stored.items()} == dict.fromkeys(
        stored, False
    )
    assert images.metadata(handle)["sources"] == [without_signature(source)]
    assert "https://photos.example.com/cat.png" in str(made.content)
