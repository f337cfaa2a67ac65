"""langchain_nanobanana.platform in process: the store rule's verdicts and how it composes with an
app's own handlers, and the image routes on a tool's own store. The same pieces on a real
``langgraph dev`` server: tests/integration/test_langgraph_server.py."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from langchain_core.stores import InMemoryByteStore
from langgraph_sdk import Auth
from obstore.store import MemoryStore
from starlette.testclient import TestClient
from starlette.types import Receive, Scope, Send

from langchain_nanobanana import NanoBananaImageTool
from langchain_nanobanana.object_store import ObjectImageStore
from langchain_nanobanana.platform import images_app, protect_images
from langchain_nanobanana.stores import ImageStore
from langchain_nanobanana.testing import FakeOpenRouter
from tests.support.pictures import picture

ACTIONS = ("get", "search", "list_namespaces", "put", "delete")


@dataclass
class _User:
    """What an authenticated user is to LangGraph's server: an identity."""

    identity: str
    is_authenticated: bool = True


async def _ask(auth: Auth, action: str, value: dict[str, Any], user: str = "alice") -> Any:
    """Run the handler the server picks first for a store action (the most specific)."""
    handler = auth._handlers[("store", action)][-1]
    context = Auth.types.AuthContext(
        user=_User(user),
        permissions=[],
        resource="store",
        action=action,  # type: ignore[arg-type]
    )
    return await handler(ctx=context, value=value)


async def _refused(auth: Auth, action: str, value: dict[str, Any], user: str = "alice") -> str:
    with pytest.raises(Auth.exceptions.HTTPException) as refused:
        await _ask(auth, action, value, user)
    assert refused.value.status_code == 403
    return str(refused.value.detail)


# ---------------------------------------------------------------- verdicts


async def test_a_user_reads_their_own_images_and_nobody_elses() -> None:
    auth = protect_images(Auth())
    own = {"namespace": ("nanobanana", "user/alice", "images"), "key": "img_x"}
    assert await _ask(auth, "get", own) is None
    other = {"namespace": ("nanobanana", "user/bob", "images"), "key": "img_x"}
    assert "Only your own image namespaces" in await _refused(auth, "get", other)
    wildcard = {"namespace": ("nanobanana", "*", "images"), "key": "img_x"}
    await _refused(auth, "get", wildcard)


@pytest.mark.parametrize("action", ["search", "list_namespaces"])
async def test_a_search_or_listing_of_every_scope_is_narrowed_or_refused(action: str) -> None:
    auth = protect_images(Auth())
    everyone = {"namespace": ("nanobanana",)}
    assert await _ask(auth, action, everyone) is None
    assert everyone["namespace"] == ("nanobanana", "user/alice")
    for covering in (None, (), ("*",), ("nano",), ("nanobanana", "*"), ("nanobanana", "user/bob")):
        await _refused(auth, action, {"namespace": covering, "suffix": ("images",)})


async def test_nobody_writes_image_namespaces_and_only_own_images_are_deleted() -> None:
    auth = protect_images(Auth())
    for kind in ("images", "records", "notes"):
        put = {"namespace": ("nanobanana", "user/alice", kind), "key": "k", "value": {}}
        assert "upload one to /nanobanana/images" in await _refused(auth, "put", put)
    for kind in ("images", "records"):
        assert await _ask(auth, "delete", {"namespace": ("nanobanana", "user/alice", kind)}) is None
    spending = {"namespace": ("nanobanana", "user/alice", "notes", "spending"), "key": "k"}
    await _refused(auth, "delete", spending)
    await _refused(auth, "delete", {"namespace": ("nanobanana", "user/bob", "images")})


async def test_what_users_spent_is_open_to_no_one() -> None:
    """The budgets' entries live under ("nanobanana_spent", <digest of the scope>, ...):
    no user reads, rewrites or deletes them (which would reset a budget)."""
    from langchain_nanobanana._agent.ledger import Budget
    from langchain_nanobanana.scopes import scope_token

    auth = protect_images(Auth())
    own = ("nanobanana_spent", scope_token(("user", "alice")), Budget().kind(None))
    for action in ("get", "put", "delete"):
        said = await _refused(auth, action, {"namespace": own, "key": "k", "value": {}})
        assert "image budgets" in said
    for prefix in (own[:1], own[:2], ("nanobanana_",)):
        for action in ("search", "list_namespaces"):
            assert "image budgets" in await _refused(auth, action, {"namespace": prefix})


async def test_a_user_without_an_identity_reaches_no_image_namespace() -> None:
    auth = protect_images(Auth())
    own = {"namespace": ("nanobanana", "user/", "images"), "key": "img_x"}
    assert "authenticated user" in await _refused(auth, "get", own, user="")
    assert await _ask(auth, "get", {"namespace": ("notes",), "key": "k"}, user="") is None


async def test_the_tools_own_scope_rule_decides_whose_images_a_user_reaches() -> None:
    def by_organisation(config: Any) -> tuple[str, str]:
        return ("org", config["configurable"]["langgraph_auth_user_id"].split("@")[1])

    auth = protect_images(Auth(), scope=by_organisation)
    team = {"namespace": ("nanobanana", "org/acme", "records"), "key": "img_x"}
    assert await _ask(auth, "get", team, user="alice@acme") is None
    await _refused(auth, "get", team, user="mallory@evil")


# ---------------------------------------------------------------- composition


async def test_the_apps_store_handler_registered_before_judges_the_rest_of_the_store() -> None:
    auth = Auth()
    judged: list[tuple[str, tuple[str, ...]]] = []

    @auth.on.store()
    async def per_user(ctx: Auth.types.AuthContext, value: Any) -> None:
        judged.append((ctx.action, tuple(value["namespace"])))
        value["namespace"] = (ctx.user.identity, *value["namespace"])

    @auth.on.store.get
    async def gets(ctx: Auth.types.AuthContext, value: Any) -> bool:
        judged.append(("specific get", tuple(value["namespace"])))
        return False

    protect_images(auth)

    memories = {"namespace": ("memories",), "key": "k", "value": {}}
    assert await _ask(auth, "put", memories) is None
    assert memories["namespace"] == ("alice", "memories")
    assert await _ask(auth, "get", {"namespace": ("memories",), "key": "k"}) is False
    assert await _ask(auth, "get", {"namespace": ("nanobanana", "user/alice", "images")}) is None
    assert judged == [("put", ("memories",)), ("specific get", ("memories",))]


async def test_an_app_handler_registered_after_is_asked_too_and_a_clash_is_an_error() -> None:
    auth = protect_images(Auth())

    @auth.on
    async def owner_only(ctx: Auth.types.AuthContext, value: Any) -> dict[str, str]:
        return {"owner": ctx.user.identity}

    assert await _ask(auth, "search", {"namespace": ("memories",)}) == {"owner": "alice"}
    assert await _ask(auth, "search", {"namespace": ("nanobanana",)}) is None
    with pytest.raises(ValueError, match="already set for store, get"):

        @auth.on.store.get
        async def too_late(ctx: Auth.types.AuthContext, value: Any) -> None: ...


def test_every_store_action_is_covered() -> None:
    auth = protect_images(Auth())
    assert {action for _, action in auth._handlers} == set(ACTIONS)


# ---------------------------------------------------------------- the routes


class _SignedIn:
    """Sets the request's user as the server's auth middleware does."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        user = scope.get("headers") and dict(scope["headers"]).get(b"x-test-user")
        if user:
            scope["user"] = _User(user.decode())
        await self.app(scope, receive, send)


def _routes(tool: NanoBananaImageTool, **options: Any) -> TestClient:
    return TestClient(_SignedIn(images_app(tool, **options)))


@pytest.fixture
def byte_store() -> InMemoryByteStore:
    return InMemoryByteStore()


@pytest.fixture
def routes(byte_store: InMemoryByteStore) -> Iterator[TestClient]:
    tool = NanoBananaImageTool(llm=FakeOpenRouter().chat_model(), store=byte_store)
    with _routes(tool, max_upload_bytes=50_000) as client:
        yield client


def test_an_upload_is_stored_in_the_callers_scope_and_shown_only_to_them(
    routes: TestClient, byte_store: InMemoryByteStore
) -> None:
    photo = picture("navy", (90, 60), "JPEG")
    answer = routes.post("/nanobanana/images", content=photo, headers={"x-test-user": "alice"})
    assert answer.status_code == 201
    handle = answer.json()["handle"]
    assert answer.json()["content_block"] == {
        "type": "text",
        "text": f"[attached image {handle} (90x60 JPEG)]",
    }
    assert ImageStore(byte_store, scope=("user", "alice")).get(handle).data == photo

    shown = routes.get(f"/nanobanana/images/{handle}", headers={"x-test-user": "alice"})
    assert (shown.status_code, shown.content) == (200, photo)
    assert shown.headers["content-type"] == "image/jpeg"
    assert shown.headers["x-content-type-options"] == "nosniff"
    assert (
        routes.get(f"/nanobanana/images/{handle}", headers={"x-test-user": "bob"}).status_code
        == 404
    )
    assert routes.get(f"/nanobanana/images/{handle}").status_code == 403


def test_uploads_too_large_as_forms_or_without_a_user_are_refused(routes: TestClient) -> None:
    alice = {"x-test-user": "alice"}
    big = picture("red", (400, 400), "PNG") + b"\0" * 60_000
    assert routes.post("/nanobanana/images", content=big, headers=alice).status_code == 413
    form = routes.post(
        "/nanobanana/images", files={"file": ("a.png", picture("red"))}, headers=alice
    )
    assert form.status_code == 415
    assert routes.post("/nanobanana/images", content=picture("red")).status_code == 403
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"></svg>'
    assert routes.post("/nanobanana/images", content=svg, headers=alice).status_code == 415


def test_a_bucket_with_urls_answers_with_a_redirect_to_the_images_url() -> None:
    bucket = ObjectImageStore(MemoryStore(), public_url="https://cdn.example.com/")
    tool = NanoBananaImageTool(llm=FakeOpenRouter().chat_model(), store=bucket)
    handle = tool.images_for({"configurable": {"user_id": "alice"}}).put(picture("red"))
    with _routes(tool) as client:
        shown = client.get(
            f"/nanobanana/images/{handle}", headers={"x-test-user": "alice"}, follow_redirects=False
        )
        assert shown.status_code == 307
        assert shown.headers["location"].startswith("https://cdn.example.com/nanobanana/")
        assert shown.headers["location"].endswith(handle)
        other = client.get(f"/nanobanana/images/{handle}", headers={"x-test-user": "bob"})
        assert other.status_code == 404
