"""Agent middleware that lets an agent edit the photos a user attaches.

Needs ``langchain`` (1.x), which this package does not depend on: import this
module only in apps that use ``langchain.agents.create_agent``.

    tool = NanoBananaImageTool(llm=ChatNanoBanana())
    agent = create_agent(model, tools=[tool], middleware=[AttachedImagesMiddleware(tool)])
    photo = {"type": "image", "base64": ..., "mime_type": "image/jpeg"}
    request = HumanMessage([{"type": "text", "text": "make my cat blue"}, photo])
    agent.invoke({"messages": [request]})
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from langchain.agents.middleware import AgentMiddleware, AgentState, ModelRequest, ModelResponse
from langchain_core.messages import AnyMessage, HumanMessage
from langgraph.runtime import Runtime

from langchain_nanobanana.images import images_from
from langchain_nanobanana.tools import ATTACHMENT_LINE, HANDLES_KEY, NanoBananaImageTool


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
        replaced = [
            self.image_tool.register_attachments(message)
            for message in state["messages"]
            if isinstance(message, HumanMessage)
            and HANDLES_KEY not in message.additional_kwargs
            and images_from(message)
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
        messages = [self._restored(message) for message in request.messages]
        return request.override(messages=messages)

    def _restored(self, message: AnyMessage) -> AnyMessage:
        handles = (
            message.additional_kwargs.get(HANDLES_KEY)
            if isinstance(message, HumanMessage)
            else None
        )
        if not handles or isinstance(message.content, str):
            return message
        content: list[Any] = []
        for block in message.content:
            content.append(block)
            text = (
                block.get("text")
                if isinstance(block, dict) and block.get("type") == "text"
                else None
            )
            found = ATTACHMENT_LINE.match(text) if isinstance(text, str) else None
            if found and found.group(1) in handles:
                content.append(self.image_tool.images.get(found.group(1)).to_block())
        return message.model_copy(update={"content": content})
