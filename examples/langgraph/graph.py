"""The example deployment's graph: an agent that draws and edits pictures by handle.

``graph`` is the agent ``langgraph.json`` serves; ``app`` is the image routes
(``GET``/``POST /nanobanana/images``). ``NANOBANANA_AGENT_MODEL`` picks the agent
model: ``scripted`` (the default) plays a small script, offline and free; any other
value is a model for ``init_chat_model``, such as ``openai:gpt-5-mini`` (then its
package, ``langchain-openai``, and its key are needed).
"""

from __future__ import annotations

import os
from datetime import timedelta

from langchain.agents import create_agent
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage

from langchain_nanobanana import ChatNanoBanana, NanoBananaImageTool
from langchain_nanobanana.middleware import AttachedImagesMiddleware
from langchain_nanobanana.platform import images_app
from langchain_nanobanana.stores import HANDLE_PATTERN

tool = NanoBananaImageTool(
    llm=ChatNanoBanana(),  # OPENROUTER_API_KEY; OPENROUTER_BASE_URL points it at the emulator
    artifact_mode="reference",  # checkpoints keep handles, never image bytes
    max_images=int(os.environ.get("NANOBANANA_MAX_IMAGES_PER_USER", "50")),
    image_ttl=timedelta(days=30),
)


def scripted_turn(messages: list[BaseMessage]) -> AIMessage:
    """The offline agent: draw what the user asks, edit their photo or the last image.

    A message that starts with "draw" makes a new image; any other edits the photos
    attached to it or, without any, the newest image of the thread. After the tool
    answers, the agent repeats the tool's sentence.
    """
    last = messages[-1]
    if isinstance(last, ToolMessage):
        return AIMessage(last.text)
    texts = (
        [last.content]
        if isinstance(last.content, str)
        else [block.get("text", "") for block in last.content if isinstance(block, dict)]
    )
    attached = HANDLE_PATTERN.findall(" ".join(t for t in texts if t.startswith("[attached")))
    prompt = " ".join(t for t in texts if not t.startswith("[attached"))
    sources = attached or ([] if prompt.lower().startswith("draw") else _newest(messages))
    args: dict[str, object] = {"prompt": prompt.strip()}
    if sources:
        args["image_ids"] = sources
    call = {"name": tool.name, "args": args, "id": f"call_{last.id}"}  # stable when replayed
    return AIMessage("", tool_calls=[call])


def _newest(messages: list[BaseMessage]) -> list[str]:
    for message in reversed(messages):
        if isinstance(message, ToolMessage) and message.status == "success":
            handles = HANDLE_PATTERN.findall(message.text)
            return handles[-1:]
        if isinstance(message, HumanMessage) and (handles := HANDLE_PATTERN.findall(message.text)):
            return handles[-1:]
    return []


def agent_model() -> BaseChatModel:
    chosen = os.environ.get("NANOBANANA_AGENT_MODEL", "scripted")
    if chosen == "scripted":
        from langchain_nanobanana.testing import ScriptedAgentModel

        return ScriptedAgentModel(route=scripted_turn)
    # Online: the provider's package (langchain-openai, langchain-anthropic, ...) is
    # imported here, and only here.
    from langchain.chat_models import init_chat_model

    return init_chat_model(chosen)


graph = create_agent(
    agent_model(),
    tools=[tool],
    middleware=[AttachedImagesMiddleware(tool)],
    system_prompt=(
        "You make and edit pictures with generate_image. Refer to images only by their "
        "handles (img_...); pass the handles of attached photos in image_ids to edit them."
    ),
)
app = images_app(tool)
