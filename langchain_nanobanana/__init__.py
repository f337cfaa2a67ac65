"""LangChain integration for Gemini image models ("Nano Banana") through OpenRouter."""

import logging

from langchain_nanobanana.chat_models import ChatNanoBanana
from langchain_nanobanana.images import GeneratedImage, images_from
from langchain_nanobanana.tools import NanoBananaImageTool

# A library stays quiet unless the application configures logging.
logging.getLogger("langchain_nanobanana").addHandler(logging.NullHandler())

__all__ = ["ChatNanoBanana", "GeneratedImage", "NanoBananaImageTool", "images_from"]
