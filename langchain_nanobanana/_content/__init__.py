"""LangChain content to and from OpenRouter's parts: the one image-block parser, media
sniffing, pixel sizes, URLs, and text made safe for a sentence."""
