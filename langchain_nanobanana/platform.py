"""Glue for a LangGraph server (``langgraph dev``, LangGraph Platform): whose images, and routes.

``pip install "langchain-nanobanana[platform]"``. Two pieces, one per file of a
deployment (``examples/langgraph/`` is a whole one):

``auth.py``: ``protect_images(auth)`` adds the store rule to the app's
``langgraph_sdk.Auth``, so through the server's store API a user reaches only the
image namespaces of their own scope; the rest of the store keeps the app's rules.

    auth = Auth()

    @auth.authenticate
    async def authenticate(authorization: str | None) -> str: ...

    protect_images(auth)

``graph.py``: ``images_app(tool)`` is an HTTP app for ``langgraph.json``'s
``"http"`` key, behind the server's auth:

- ``GET /nanobanana/images/{handle}``: the image's bytes with their type (a
  bucket that signs URLs: a redirect to a fresh signed URL) to its owner; 404 to
  everyone else, exactly as for a handle that never existed;
- ``POST /nanobanana/images``: the body is one image's bytes; checked by those
  bytes, stored in the caller's scope, answered with its handle. A UI attaches
  photos by handle, so no photo ever enters a checkpoint, run record or stream.

    "auth": {"path": "./auth.py:auth"},
    "http": {"app": "./graph.py:app", "enable_custom_route_auth": true}

``app`` is ``images_app()`` for a tool with the default settings (the server's
store, the authenticated user as scope, no TTL): ``"app":
"langchain_nanobanana.platform:app"``.

What this relies on in LangGraph's server (langgraph-api 0.16; tested against it):
the store the server gives graphs is the one custom routes reach through
``langgraph.config.get_store()`` (the server sets it for every request; else
``langgraph_api.store.get_store()`` is asked); the authenticated user is the
request's ``user`` (Starlette's ``request.user``, ``.identity``); and a store
request is judged by the most specific handler of ``Auth._handlers``, which
``protect_images`` wraps.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

try:
    from langgraph_sdk import Auth
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, RedirectResponse, Response
    from starlette.routing import Route
except ImportError as missing:  # the optional dependencies of this module
    raise ImportError(
        "langchain_nanobanana.platform needs langgraph-sdk and starlette, which this package "
        "does not install by default: pip install 'langchain-nanobanana[platform]'."
    ) from missing
from langchain_core.runnables import RunnableConfig

from langchain_nanobanana._agent.attachments import HANDLES_KEY, attachment_line
from langchain_nanobanana._content.media import ACCEPTED_IMAGE_TYPES, sniff_mime_type
from langchain_nanobanana.images import GeneratedImage
from langchain_nanobanana.scopes import Scope, ScopeRule, scope_of
from langchain_nanobanana.stores import ImageStore
from langchain_nanobanana.stores._namespace_access import RefusedError, judge
from langchain_nanobanana.tools import NanoBananaImageTool

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
"""The largest photo ``POST /nanobanana/images`` takes by default (20 MiB)."""
_STORE_ACTIONS = ("get", "search", "list_namespaces", "put", "delete")
StoreHandler = Callable[..., Awaitable[Any]]


# ---------------------------------------------------------------- the store rule


def protect_images(auth: Auth, *, scope: ScopeRule | None = None) -> Auth:
    """Close the image namespaces of the server's store to everyone but their owner.

    Registers a handler for each store action (get, search, list_namespaces, put,
    delete). A request that can reach ``("nanobanana", ...)`` is judged here:
    reads, searches and listings reach only the caller's own scope (a search or
    listing of ``("nanobanana",)`` is narrowed to it; one that would cover every
    scope, such as a listing with no prefix, is refused); nobody writes image
    namespaces through the store API; a user may delete their own images. Every
    other request goes to the app's own store handler, whether it was registered
    before this call (``@auth.on.store``, ``@auth.on.store.get``, ...) or after it
    (``@auth.on.store``, ``@auth.on``), so ``protect_images`` composes with the
    app's rules in either order; only a handler for one store action registered
    after it (``@auth.on.store.get``) is refused, by LangGraph, as a second handler
    for that action. A refusal is HTTP 403 with a sentence.

    ``scope`` is the tool's scope rule, when it has its own; it is given the
    config a run of this user gets (``langgraph_auth_user_id``,
    ``langgraph_auth_user``, ``langgraph_auth_permissions``). Returns ``auth``.
    """
    for action in _STORE_ACTIONS:
        earlier = auth._handlers.pop(("store", action), None)
        handler = _store_rule(auth, action, scope, earlier[-1] if earlier else None)
        auth._handlers[("store", action)] = [handler]
    auth._handler_cache.clear()
    return auth


def _store_rule(
    auth: Auth, action: str, rule: ScopeRule | None, earlier: StoreHandler | None
) -> StoreHandler:
    async def nanobanana_images(ctx: Auth.types.AuthContext, value: Any) -> Any:
        try:
            verdict = judge(action, value, _scope_of_user(ctx.user, ctx.permissions, rule))
        except RefusedError as refused:
            raise Auth.exceptions.HTTPException(status_code=403, detail=str(refused)) from None
        if verdict == "ours":
            return None
        app_rule = earlier or _app_rule(auth, action)
        return None if app_rule is None else await app_rule(ctx=ctx, value=value)

    return nanobanana_images


def _app_rule(auth: Auth, action: str) -> StoreHandler | None:
    """The handler the server would pick for this store action without ours."""
    for key in (("store", "*"), ("*", action), ("*", "*")):
        if key in auth._handlers:
            return auth._handlers[key][-1]
    return auth._global_handlers[-1] if auth._global_handlers else None


def _scope_of_user(user: Any, permissions: Any, rule: ScopeRule | None) -> Scope | None:
    """The scope a run of this user gets; None for no user (or an unusable rule's answer)."""
    config = _user_config(user, permissions)
    if config is None:
        return None
    try:
        return scope_of(config, rule)
    except (ValueError, KeyError, TypeError):
        return None


def _user_config(user: Any, permissions: Any) -> RunnableConfig | None:
    """What the server puts in the config of this user's runs (None for no user)."""
    identity = _identity(user)
    if identity is None:
        return None
    return {
        "configurable": {
            "langgraph_auth_user_id": identity,
            "langgraph_auth_user": user,
            "langgraph_auth_permissions": list(permissions or []),
        }
    }


def _identity(user: Any) -> str | None:
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    try:
        identity = user.identity
    except (AttributeError, NotImplementedError):
        return None
    return identity if isinstance(identity, str) and identity else None


# ---------------------------------------------------------------- the image routes


def images_app(
    tool: NanoBananaImageTool | None = None, *, max_upload_bytes: int = MAX_UPLOAD_BYTES
) -> Starlette:
    """The image routes (see the module docstring) for ``tool``'s store, scope rule and TTL.

    Without ``tool``: the server's store, the authenticated user as scope, no TTL,
    as a tool built with no ``store=``, ``scope=`` or ``image_ttl=`` has.
    """
    routes = _ImageRoutes(tool, max_upload_bytes)
    return Starlette(
        routes=[
            Route("/nanobanana/images/{handle}", routes.show, methods=["GET"]),
            Route("/nanobanana/images", routes.upload, methods=["POST"]),
        ]
    )


class _ImageRoutes:
    def __init__(self, tool: NanoBananaImageTool | None, max_upload_bytes: int) -> None:
        self.tool = tool
        self.max_upload_bytes = max_upload_bytes

    async def show(self, request: Request) -> Response:
        images = await self._images(request)
        if isinstance(images, Response):
            return images
        handle = request.path_params["handle"]
        image = await images.afind(handle)
        if image is None or sniff_mime_type(image.data[:16]) not in ACCEPTED_IMAGE_TYPES:
            return _refusal(404, "No image has this handle.")
        if images.gives_urls:
            url = await images.aurl(handle)
            if url:
                return RedirectResponse(url, status_code=307, headers={"Cache-Control": "no-store"})
        headers = {
            # A handle always names the same bytes, but only its owner may see them.
            "Cache-Control": "private, max-age=3600",
            "X-Content-Type-Options": "nosniff",
        }
        return Response(image.data, media_type=image.mime_type, headers=headers)

    async def upload(self, request: Request) -> Response:
        images = await self._images(request)
        if isinstance(images, Response):
            return images
        if request.headers.get("content-type", "").startswith("multipart/"):
            return _refusal(415, "Send the image's bytes as the request body, not as a form.")
        data = await _body(request, self.max_upload_bytes)
        if data is None:
            return _refusal(413, f"An upload is at most {self.max_upload_bytes} bytes.")
        try:
            handle = await images.aput(data, None, origin="upload")
        except ValueError as refused:
            return _refusal(415, str(refused))
        image = GeneratedImage.from_bytes(data, handle)
        size = image.size
        answer = {
            "handle": handle,
            "mime_type": image.mime_type,
            "width": size[0] if size else None,
            "height": size[1] if size else None,
            "bytes": len(data),
            # What to put in the user's message: the line the agent reads, and the key
            # under which AttachedImagesMiddleware finds the handle to show the photo.
            "content_block": attachment_line(image),
            "additional_kwargs": {HANDLES_KEY: [handle]},
        }
        return JSONResponse(answer, status_code=201)

    async def _images(self, request: Request) -> ImageStore | Response:
        """The caller's images, or the answer that refuses them."""
        permissions = getattr(request.scope.get("auth"), "scopes", None)
        config = _user_config(request.scope.get("user"), permissions)
        rule = self.tool.scope if self.tool is not None else None
        scope = _scope_of_user(request.scope.get("user"), permissions, rule)
        if config is None or scope is None:
            return _refusal(
                403,
                "The image routes answer only authenticated users: set "
                '"enable_custom_route_auth": true under "http" in langgraph.json.',
            )
        if self.tool is not None and self.tool.store is not None:
            return self.tool.images_for(config)  # the tool's own store: a bucket, a folder
        store = await _server_store()
        if store is None:
            return _refusal(503, "No LangGraph store: run the image routes in a LangGraph server.")
        if self.tool is not None:
            return self.tool.images_for(config, store=store)
        return ImageStore(store, scope=scope)


async def _server_store() -> Any:
    """The store the server gives its graphs, as a custom route reaches it."""
    from langgraph.config import get_store

    try:
        return get_store()
    except (RuntimeError, KeyError, AttributeError):
        pass
    try:
        from langgraph_api.store import (  # type: ignore[import-untyped,import-not-found,unused-ignore]
            get_store as server_store,
        )
    except ImportError:
        return None
    return await server_store()


async def _body(request: Request, limit: int) -> bytes | None:
    """The request body, or None once it is longer than ``limit`` (read no further)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    received = bytearray()
    async for chunk in request.stream():
        received += chunk
        if len(received) > limit:
            return None
    return bytes(received)


def _refusal(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status)


app = images_app()
"""The image routes for a tool with the default settings; see the module docstring."""

__all__ = ["MAX_UPLOAD_BYTES", "app", "images_app", "protect_images"]
