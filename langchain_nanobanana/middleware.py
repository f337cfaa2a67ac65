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

from collections.abc import Awaitable, Callable
from typing import Any

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

from langchain_nanobanana._attachments import has_unregistered_images, with_pictures
from langchain_nanobanana.tools import NanoBananaImageTool


class AttachedImagesMiddleware(AgentMiddleware[AgentState[Any], Any]):
    """Stores the images users attach and hands the agent their handles.

    Before the agent starts, each user message carrying images is replaced (same
    id) by ``tool.register_attachments(message)``: every image became a line such
    as ``[attached image img_1a2b3c4d (1024x768 JPEG)]`` and its bytes went into
    the tool's store. So
    the agent can pass that handle in ``image_ids`` to edit the photo, and the
    agent state (and every checkpoint of it) holds no base64.

    With ``show_attachments_to_model=True`` (the default) the pictures are put
    back next to their lines in each request to the agent model, so a
    multimodal model still sees them; only the stored state stays lean.
    """

    def __init__(
        self, tool: NanoBananaImageTool, *, show_attachments_to_model: bool = True
    ) -> None:
        super().__init__()
        self.image_tool = tool
        self.show_attachments_to_model = show_attachments_to_model

    def before_agent(self, state: AgentState[Any], runtime: Runtime[Any]) -> dict[str, Any] | None:
        config = _run_config()
        replaced = [
            self.image_tool.register_attachments(message, config)
            for message in state["messages"]
            if isinstance(message, HumanMessage) and has_unregistered_images(message)
        ]
        return {"messages": replaced} if replaced else None

    def wrap_model_call(
        self, request: ModelRequest[Any], handler: Callable[[ModelRequest[Any]], ModelResponse[Any]]
    ) -> ModelResponse[Any]:
        return handler(self._with_pictures(request))

    async def awrap_model_call(
        self,
        request: ModelRequest[Any],
        handler: Callable[[ModelRequest[Any]], Awaitable[ModelResponse[Any]]],
    ) -> ModelResponse[Any]:
        return await handler(self._with_pictures(request))

    def _with_pictures(self, request: ModelRequest[Any]) -> ModelRequest[Any]:
        if not self.show_attachments_to_model:
            return request
        images = self.image_tool.images_for(_run_config())
        return request.override(messages=[with_pictures(m, images) for m in request.messages])


def _run_config() -> RunnableConfig | None:
    """The config of the graph run this hook is part of (None outside of one)."""
    try:
        return get_config()
    except RuntimeError:
        return None
