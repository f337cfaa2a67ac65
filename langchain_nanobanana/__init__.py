"""LangChain integration for Gemini image models ("Nano Banana") through OpenRouter."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from langchain_nanobanana.chat_models import ChatNanoBanana
from langchain_nanobanana.images import GeneratedImage, images_from

if TYPE_CHECKING:
    from langchain_nanobanana.tools import NanoBananaImageTool

# A library stays quiet unless the application configures logging.
logging.getLogger("langchain_nanobanana").addHandler(logging.NullHandler())


def __getattr__(name: str) -> Any:
    # The tool pulls in langchain-core's tool machinery; chat-only users skip that import.
    if name == "NanoBananaImageTool":
        from langchain_nanobanana.tools import NanoBananaImageTool

        return NanoBananaImageTool
    raise AttributeError(f"module 'langchain_nanobanana' has no attribute {name!r}")


__all__ = ["ChatNanoBanana", "GeneratedImage", "NanoBananaImageTool", "images_from"]
