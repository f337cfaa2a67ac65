"""LangChain integration for Gemini image models ("Nano Banana") through OpenRouter."""

from langchain_nanobanana.chat_models import ChatNanoBanana

__all__ = ["ChatNanoBanana"]
