"""LangChain integration for Gemini image models ("Nano Banana") through OpenRouter."""

from langchain_nanobanana.chat_models import ChatNanoBanana
from langchain_nanobanana.images import GeneratedImage, images_from
from langchain_nanobanana.tools import NanoBananaImageTool

__all__ = ["ChatNanoBanana", "GeneratedImage", "NanoBananaImageTool", "images_from"]
