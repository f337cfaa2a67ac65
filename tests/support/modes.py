"""One call in each of the four ways a user makes it: invoke, ainvoke, stream, astream."""

from __future__ import annotations

import asyncio
from typing import Any

from langchain_core.messages import AIMessage
from langchain_core.runnables import Runnable

from langchain_nanobanana import ChatNanoBanana
from tests.support import TEST_KEY

MODES = ["invoke", "ainvoke", "stream", "astream"]


def model(url: str, **fields: Any) -> ChatNanoBanana:
    settings: dict[str, Any] = {"api_key": TEST_KEY, "max_retries": 0, "timeout": 2.0}
    return ChatNanoBanana(base_url=url, **{**settings, **fields})


def run(llm: Runnable[Any, Any], mode: str, prompt: Any = "a banana") -> AIMessage:
    """One call in ``mode``; a stream's chunks summed into one message."""
    if mode == "invoke":
        return llm.invoke(prompt)
    if mode == "ainvoke":
        return asyncio.run(llm.ainvoke(prompt))
    if mode == "stream":
        chunks = list(llm.stream(prompt))
    else:

        async def collect() -> list[Any]:
            return [chunk async for chunk in llm.astream(prompt)]

        chunks = asyncio.run(collect())
    total = chunks[0]
    for chunk in chunks[1:]:
        total = total + chunk
    return AIMessage(
        content=total.content,
        additional_kwargs=total.additional_kwargs,
        tool_calls=total.tool_calls,
        invalid_tool_calls=total.invalid_tool_calls,
        response_metadata=total.response_metadata,
        usage_metadata=total.usage_metadata,
    )


def image_blocks(message: AIMessage) -> list[dict[str, Any]]:
    return [b for b in message.content if isinstance(b, dict) and b.get("type") == "image"]
