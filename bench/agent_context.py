"""How much an image costs an agent: context characters and checkpoint bytes.

Runs a scripted tool-calling agent (langchain ``create_agent`` with an in-memory
LangGraph checkpointer) that makes five images with NanoBananaImageTool against
the emulator (photo-sized PNGs, ``noise=True``), once per artifact mode, and
reports:
- characters the tool adds to the agent's context per image (ToolMessage content);
- the size of the checkpointed state after five images.

    python bench/agent_context.py            # prints a Markdown table
"""

from __future__ import annotations

import argparse
import platform
import time
from typing import Any

from langchain.agents import create_agent
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langgraph.checkpoint.memory import InMemorySaver

from langchain_nanobanana import NanoBananaImageTool
from langchain_nanobanana.testing import FakeOpenRouter, ScriptedAgentModel


def _next_picture(messages: list[BaseMessage]) -> AIMessage:
    """Ask for one image per turn, five times, then answer."""
    made = sum(isinstance(m, ToolMessage) for m in messages)
    if made >= 5:
        return AIMessage(content="All five are ready.")
    call = {
        "name": "generate_image",
        "args": {"prompt": f"picture number {made + 1}"},
        "id": f"c{made}",
    }
    return AIMessage(content="", tool_calls=[call])


def measure(mode: str) -> dict[str, Any]:
    fake = FakeOpenRouter(noise=True)
    tool = NanoBananaImageTool(llm=fake.chat_model(), artifact_mode=mode)  # type: ignore[arg-type]
    saver = InMemorySaver()
    agent = create_agent(
        ScriptedAgentModel(turns=[_next_picture] * 6), tools=[tool], checkpointer=saver
    )
    config = {"configurable": {"thread_id": mode}}
    state = agent.invoke({"messages": [HumanMessage("make five pictures")]}, config)  # type: ignore[arg-type]
    tool_messages = [m for m in state["messages"] if isinstance(m, ToolMessage)]
    checkpoint = saver.get_tuple(config)  # type: ignore[arg-type]
    assert checkpoint is not None
    _, serialized = saver.serde.dumps_typed(checkpoint.checkpoint)
    image_bytes = sum(len(tool.images.get(b["id"]).data) for m in tool_messages for b in m.artifact)
    return {
        "mode": mode,
        "images": len(tool_messages),
        "context_chars_per_image": max(len(str(m.content)) for m in tool_messages),
        "checkpoint_bytes": len(serialized),
        "image_bytes": image_bytes,
        "example": str(tool_messages[0].content),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.parse_args()
    rows = [measure("full"), measure("reference")]
    machine = f"{platform.machine()}, Python {platform.python_version()}"
    print(f"# Agent context and checkpoint size ({time.strftime('%Y-%m-%d')}, {machine})\n")
    print(
        "| artifact mode | images | context chars per image (max) "
        "| checkpoint after 5 images | image bytes stored |"
    )
    print("|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['mode']} | {row['images']} | {row['context_chars_per_image']} "
            f"| {row['checkpoint_bytes']:,} B | {row['image_bytes']:,} B |"
        )
    print(f"\nWhat the agent model sees per image: {rows[0]['example']!r}")


if __name__ == "__main__":
    main()
