"""Agent middleware that lets an agent edit the photos a user attaches.

Needs ``langchain`` (1.x), which this package does not depend on: install the
``[agents]`` extra, and import this module only in apps that use
``langchain.agents.create_agent``.

    tool = NanoBananaImageTool(llm=ChatNanoBanana())
    agent = create_agent(model, tools=[tool], middleware=[AttachedImagesMiddleware(tool)])
    photo = {"type": "image", "base64": ..., "mime_type": "image/jpeg"}
    request = HumanMessage([{"type": "text", "text": "make my cat blue"}, photo])
    agent.invoke({"messages": [request]})
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, Optional

try:
    from langchain.agents.middleware import (
        AgentMiddleware,
        AgentState,
        ModelRequest,
        ModelResponse,
    )
except ImportError as missing:  # the one optional dependency of this module
    raise ImportError(
        "langchain_nanobanana.middleware needs langchain 1.x, which this package does not "
        "install by default: pip install 'langchain-nanobanana[agents]'."
    ) from missing
from langchain_core.messages import HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.config import get_config
from langgraph.runtime import Runtime

from langchain_nanobanana._agent.attachments import (
    AGENT_VIEW_BOUND,
    AgentView,
    aregister,
    awith_pictures,
    has_unregistered_images,
    register,
    with_pictures,
)
from langchain_nanobanana._content.image_formats import SizeBound
from langchain_nanobanana.stores import ImageStore
from langchain_nanobanana.tools import NanoBananaImageTool


class AttachedImagesMiddleware(AgentMiddleware[AgentState[Any], Any]):
    """Stores the images users attach and hands the agent their handles.

    Before the agent starts, each user message carrying images is replaced (same
    id) by one where every image became a line such as ``[attached image img_1a2b...
    (1024x768 JPEG)]`` and its bytes went into the tool's store, in the run's scope
    (the same owner the tool's calls have). So the agent can pass that handle in
    ``image_ids`` to edit the photo, and the agent state holds no base64 from then
    on. What LangGraph kept before this hook ran still holds the photo: the run's
    input (a server's run record), the input checkpoint's pending write and the
    first loop checkpoint, and a stream's first ``values`` event. A UI that uploads
    photos first (``langchain_nanobanana.platform``'s ``POST /nanobanana/images``)
    and sends only their handles keeps them out of all of these; see
    docs/deployment.md, "Attachments and checkpoints". The async agent uses only
    the store's async methods.

    With ``show_attachments_to_model=True`` (the default) the pictures are put
    back next to their lines in each request to the agent model, so a
    multimodal model still sees them; only the stored state stays lean. What it
    sees is a copy no larger than ``attachment_long_side`` pixels (1024) and
    ``attachment_max_bytes`` (200,000: about 270,000 characters of base64), within
    what common agent models take, since each turn sends and bills it again; the
    stored photo stays whole for edits. The copy is made with Pillow
    (``[pillow]``); without it a photo over the bound is shown as its line only.
    ``attachment_long_side=None`` shows photos whole. A picture whose bytes are
    gone is shown as ``[image img_... is no longer available]``, and an attached
    image that does not decode stays a line of text that says so: neither ends
    the thread.
    """

    def __init__(
        self,
        tool: NanoBananaImageTool,
        *,
        show_attachments_to_model: bool = True,
        attachment_long_side: int | None = AGENT_VIEW_BOUND.long_side,
        attachment_max_bytes: int = AGENT_VIEW_BOUND.max_bytes,
    ) -> None:
        super().__init__()
        if attachment_long_side is not None and attachment_long_side < 1:
            raise ValueError("attachment_long_side must be a number of pixels, 1 or more.")
        if attachment_max_bytes < 1:
            raise ValueError("attachment_max_bytes must be a number of bytes, 1 or more.")
        self.image_tool = tool
        self.show_attachments_to_model = show_attachments_to_model
        self._view = AgentView(
            None
            if attachment_long_side is None
            else SizeBound(attachment_long_side, attachment_max_bytes)
        )
        # The last run's config per thread, for model calls that cannot see their own
        # (Python 3.10 async); bounded, newest last.
        self._configs: OrderedDict[str, RunnableConfig] = OrderedDict()

    # LangGraph gives a node the run's config when its function has a ``config``
    # parameter, typed exactly so ("Optional[RunnableConfig]" as written here): the one
    # way an async hook sees it on Python 3.10.
    def before_agent(
        self,
        state: AgentState[Any],
        runtime: Runtime[Any],
        config: Optional[RunnableConfig] = None,  # noqa: UP045 (the form LangGraph matches)
    ) -> dict[str, Any] | None:
        config = self._remember(config or _run_config(runtime), runtime)
        images = self.image_tool.images_for(config, store=runtime.store)
        replaced = [
            register(message, images)
            for message in state["messages"]
            if isinstance(message, HumanMessage) and has_unregistered_images(message)
        ]
        return {"messages": replaced} if replaced else None

    async def abefore_agent(
        self,
        state: AgentState[Any],
        runtime: Runtime[Any],
        config: Optional[RunnableConfig] = None,  # noqa: UP045
    ) -> dict[str, Any] | None:
        config = self._remember(config or _run_config(runtime), runtime)
        images = self.image_tool.images_for(config, store=runtime.store)
        replaced = [
            await aregister(message, images)
            for message in state["messages"]
            if isinstance(message, HumanMessage) and has_unregistered_images(message)
        ]
        return {"messages": replaced} if replaced else None

    def _remember(
        self, config: RunnableConfig | None, runtime: Runtime[Any]
    ) -> RunnableConfig | None:
        thread = _thread_of(runtime)
        if config is not None and thread is not None:
            configurable = config.get("configurable") or {}
            kept: RunnableConfig = {
                "configurable": {k: v for k, v in configurable.items() if not k.startswith("__")}
            }
            self._configs[thread] = kept
            self._configs.move_to_end(thread)
            while len(self._configs) > _REMEMBERED_THREADS:
                self._configs.popitem(last=False)
        return config

    def wrap_model_call(
        self, request: ModelRequest[Any], handler: Callable[[ModelRequest[Any]], ModelResponse[Any]]
    ) -> ModelResponse[Any]:
        if not self.show_attachments_to_model:
            return handler(request)
        images = self._images(request)
        return handler(
            request.override(
                messages=[with_pictures(m, images, self._view) for m in request.messages]
            )
        )

    async def awrap_model_call(
        self,
        request: ModelRequest[Any],
        handler: Callable[[ModelRequest[Any]], Awaitable[ModelResponse[Any]]],
    ) -> ModelResponse[Any]:
        if not self.show_attachments_to_model:
            return await handler(request)
        images = self._images(request)
        messages = [await awith_pictures(m, images, self._view) for m in request.messages]
        return await handler(request.override(messages=messages))

    def _images(self, request: ModelRequest[Any]) -> ImageStore:
        config = (
            _current_config()
            # Python 3.10 async: what this thread's before_agent saw
            or self._configs.get(_thread_of(request.runtime) or "")
            or _config_from(request.runtime)
        )
        return self.image_tool.images_for(config, store=request.runtime.store)


_REMEMBERED_THREADS = 10_000


def _thread_of(runtime: Runtime[Any] | None) -> str | None:
    execution = getattr(runtime, "execution_info", None)
    thread = getattr(execution, "thread_id", None)
    return None if thread is None else str(thread)


def _current_config() -> RunnableConfig | None:
    try:
        return get_config()
    except RuntimeError:
        return None


def _run_config(runtime: Runtime[Any] | None) -> RunnableConfig | None:
    """The config of the graph run this hook is part of (None outside of one)."""
    return _current_config() or _config_from(runtime)


def _config_from(runtime: Runtime[Any] | None) -> RunnableConfig | None:
    """Where the run's config cannot be seen, its thread and authenticated user from
    the runtime, so the default scope rule finds the same owner as the tool."""
    if runtime is None:
        return None
    configurable: dict[str, Any] = {}
    execution = getattr(runtime, "execution_info", None)
    if execution is not None and execution.thread_id is not None:
        configurable["thread_id"] = execution.thread_id
    server = getattr(runtime, "server_info", None)
    user = getattr(server, "user", None) if server is not None else None
    if user is not None and getattr(user, "identity", None):
        configurable["langgraph_auth_user_id"] = user.identity
    return {"configurable": configurable} if configurable else None
