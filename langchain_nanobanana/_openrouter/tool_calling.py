"""Tool calling on OpenRouter's image models: which may call tools, and the request's shape.

A few image models call tools (``openai/gpt-5-image-mini`` does, recorded); Gemini's
image models are not listed with ``tools`` and Gemini 3.1 Flash Lite Image answers 404
"No endpoints found that support tool use" (recorded). What OpenRouter's model list
says decides: a model listed without ``tools`` is refused before any request, one the
package knows nothing about is sent and the server's answer is mapped.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.utils.function_calling import convert_to_openai_tool


def check_tool_calling(model: str, calls_tools: bool | None, endpoint: str = "chat") -> None:
    """NotImplementedError when ``model`` (or the endpoint) is known not to call tools."""
    if endpoint != "chat":
        raise NotImplementedError(
            "Tools go to the chat endpoint only: OpenRouter's Image API does not call "
            "tools. Leave endpoint unset (or 'chat'), or drop the tools."
        )
    if calls_tools is False:
        msg = (
            f"{model!r} does not call tools: OpenRouter does not list tool use for it. "
            "Bind tools to an image model that calls them (e.g. 'openai/gpt-5-image-mini'), "
            "or give a tool-calling chat model the image tool "
            "(langchain_nanobanana.NanoBananaImageTool) instead."
        )
        raise NotImplementedError(msg)


def openai_tools(tools: Sequence[Any], *, strict: bool | None = None) -> list[dict[str, Any]]:
    """Tools in any form LangChain takes (functions, pydantic models, BaseTools, dicts) as
    the request's ``tools`` list."""
    return [convert_to_openai_tool(tool, strict=strict) for tool in tools]


def tool_choice_for(choice: str | bool | dict[str, Any] | None, tools: list[dict[str, Any]]) -> Any:
    """``tool_choice`` as chat completions takes it.

    ``"auto"``, ``"none"``, ``"required"`` (also ``"any"`` or ``True``: some tool must be
    called), or a tool's name (that tool must be called); a dict is sent as given.
    """
    if choice is None or isinstance(choice, dict):
        return choice
    if choice is True or choice == "any":
        return "required"
    if choice is False:
        return "none"
    if choice in ("auto", "none", "required"):
        return choice
    names = [tool["function"]["name"] for tool in tools if tool.get("type") == "function"]
    if choice not in names:
        msg = (
            f"tool_choice={choice!r} names no bound tool; use 'auto', 'none', 'required' "
            f"or one of: {', '.join(names) or '(no tools bound)'}."
        )
        raise ValueError(msg)
    return {"type": "function", "function": {"name": choice}}
