"""What the emulated model answers to a valid chat request: text, image, usage, cost."""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import math
import re
from dataclasses import dataclass
from typing import Any

from langchain_nanobanana._catalog.models import ModelSpec
from langchain_nanobanana._content.dimensions import image_dimensions
from langchain_nanobanana.testing._pictures import draw
from langchain_nanobanana.testing._schema_instance import instance_for

INPUT_IMAGE_TOKENS = 258
"""Gemini bills a small input image as 258 tokens."""


@dataclass
class Answer:
    text: str
    image_png: bytes | None
    prompt_tokens: int
    text_tokens: int
    image_tokens: int
    cost: float
    prompt_cost: float
    finish_reason: str = "stop"
    native_finish_reason: str = "STOP"
    refusal: str | None = None
    reasoning: str | None = None
    reasoning_details: list[dict[str, Any]] | None = None
    tool_calls: list[dict[str, Any]] | None = None
    reasoning_tokens: int = 0

    @property
    def completion_tokens(self) -> int:
        return self.text_tokens + self.image_tokens + self.reasoning_tokens

    def unbilled(self) -> None:
        """No picture after all (blocked, failed): nothing is billed, as the one recorded
        blocked image (IMAGE_RECITATION, ``content_filter``) shows: $0."""
        self.image_png, self.image_tokens = None, 0
        self.cost = self.prompt_cost = 0.0

    @property
    def image_data_url(self) -> str | None:
        return None if self.image_png is None else _data_url(self.image_png)


# The same request always draws the same picture, so repeated requests (benchmarks,
# soaks) reuse it: the emulator's own CPU time must not be what a benchmark measures.
@functools.lru_cache(maxsize=16)
def _picture(
    width: int, height: int, seed: str, noise: bool, text: tuple[tuple[str, str], ...]
) -> bytes:
    return draw(width, height, seed.encode(), noise=noise, text=dict(text))


def picture(
    width: int, height: int, seed: str, *, noise: bool = False, text: dict[str, str] | None = None
) -> bytes:
    """A PNG of that size, the same for the same seed (and drawn once for it)."""
    return _picture(width, height, seed, noise, tuple((text or {}).items()))


@functools.lru_cache(maxsize=16)
def _data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def _tokens(text: str) -> int:
    return math.ceil(len(text) / 4)


def _parts(message: dict[str, Any]) -> list[dict[str, Any]]:
    content = message.get("content")
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [part for part in content or [] if isinstance(part, dict)]


def _image_source(part: dict[str, Any]) -> bytes:
    """The bytes of a data-URL image, or the URL itself for a remote one (never fetched)."""
    url = str((part.get("image_url") or {}).get("url", ""))
    if url.startswith("data:"):
        return base64.b64decode(url.partition(",")[2])
    return url.encode()


def _prompt_of(messages: list[dict[str, Any]]) -> tuple[str, list[bytes]]:
    """The text and the input images of the last user message."""
    for message in reversed(messages):
        if message.get("role") == "user":
            parts = _parts(message)
            text = " ".join(str(p.get("text", "")) for p in parts if p.get("type") == "text")
            images = [_image_source(p) for p in parts if p.get("type") == "image_url"]
            return text, images
    return "", []


def _closest_ratio(spec: ModelSpec, width: int, height: int) -> str:
    def distance(ratio: str) -> float:
        w, h = spec.pixel_size(ratio)
        return abs(math.log((w / h) / (width / height)))

    return min(spec.aspect_ratios, key=distance)


def _reply_text(body: dict[str, Any], prompt: str, reply_text: str) -> str:
    """JSON for structured output, else the configured reply.

    In JSON mode a real model follows the prompt's instructions; the emulator
    imitates that by answering with each quoted key the prompt names
    ("... with 'setup' and 'punchline' keys").
    """
    response_format = body.get("response_format")
    if not isinstance(response_format, dict):
        return reply_text
    if response_format.get("type") == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema") or {}
        return json.dumps(instance_for(schema))
    keys = re.findall(r"['\"]([A-Za-z_][A-Za-z0-9_]*)['\"]", prompt) or ["result"]
    return json.dumps(dict.fromkeys(keys, "banana"))


# OpenAI's image models on chat completions (recorded, openai/gpt-5-image-mini): a
# reasoning summary and an encrypted part, both of format openai-responses-v1, and
# native_finish_reason "completed".
_OPENAI_SUMMARY = "**Drawing the picture**\n\nThe user asked for an image; I will make it."


def _openai_reasoning(seed: str) -> list[dict[str, Any]]:
    digest = hashlib.sha256(seed.encode()).hexdigest()
    return [
        {
            "type": "reasoning.summary",
            "summary": _OPENAI_SUMMARY,
            "format": "openai-responses-v1",
            "index": 0,
        },
        {
            "type": "reasoning.encrypted",
            "data": "gAAAAA" + base64.urlsafe_b64encode(digest.encode()).decode(),
            "id": f"rs_{digest[:40]}",
            "format": "openai-responses-v1",
            "index": 0,
        },
    ]


def _tool_to_call(body: dict[str, Any]) -> dict[str, Any] | None:
    """The tool the emulated model calls: the one ``tool_choice`` names, else the first
    tool, unless the choice is "none" or the last turn already brought a tool's result."""
    tools = [tool for tool in body.get("tools") or [] if isinstance(tool, dict)]
    choice = body.get("tool_choice", "auto")
    last = body["messages"][-1] if body["messages"] else {}
    if not tools or choice == "none" or (isinstance(last, dict) and last.get("role") == "tool"):
        return None
    if isinstance(choice, dict):
        named = (choice.get("function") or {}).get("name")
        return next((t for t in tools if (t.get("function") or {}).get("name") == named), None)
    return tools[0]


def _tool_call(tool: dict[str, Any], seed: str) -> dict[str, Any]:
    function = tool.get("function") or {}
    parameters = function.get("parameters") or {"type": "object", "properties": {}}
    digest = hashlib.sha256(seed.encode()).hexdigest()
    return {
        "id": f"call_{digest[:24]}",
        "type": "function",
        "index": 0,
        "function": {
            "name": function.get("name", ""),
            "arguments": json.dumps(instance_for(parameters), separators=(",", ":")),
        },
    }


def compose(body: dict[str, Any], spec: ModelSpec, *, reply_text: str, noise: bool) -> Answer:
    """The answer for a request that passed validation."""
    messages = body["messages"]
    prompt, sources = _prompt_of(messages)
    modalities = body.get("modalities") or ["text"]
    tool = _tool_to_call(body)
    wants_image = "image" in modalities and not body.get("response_format") and tool is None
    text = _reply_text(body, prompt, reply_text) if "text" in modalities and tool is None else ""
    for stop in body.get("stop") or []:
        if stop and stop in text:
            text = text[: text.index(stop)]

    all_text = " ".join(
        str(p.get("text", "")) for m in messages for p in _parts(m) if p.get("type") == "text"
    )
    input_images = sum(1 for m in messages for p in _parts(m) if p.get("type") == "image_url")
    prompt_tokens = _tokens(all_text) + INPUT_IMAGE_TOKENS * input_images
    image_config = body.get("image_config") or {}
    image_size = image_config.get("image_size")
    image_tokens = spec.image_tokens(image_size) if wants_image else 0
    finish, native = "stop", "STOP"
    max_tokens = body.get("max_tokens")
    if isinstance(max_tokens, int) and max_tokens < _tokens(text) + image_tokens:
        text, wants_image, image_tokens = text[: max_tokens * 4], False, 0
        finish, native = "length", "MAX_TOKENS"

    image_png = None
    if wants_image:
        ratio = image_config.get("aspect_ratio")
        source_size = image_dimensions(sources[0]) if sources else None
        if ratio is None and source_size:
            ratio = _closest_ratio(spec, *source_size)
        width, height = spec.pixel_size(ratio, image_size)
        source_hashes = ",".join(hashlib.sha256(s).hexdigest() for s in sources)
        seed_material = json.dumps(
            [spec.id, prompt, body.get("seed"), width, height, source_hashes]
        )
        metadata = {
            "prompt": prompt,
            "seed": str(body.get("seed")),
            "model": spec.id,
            "sources": source_hashes,
        }
        image_png = _picture(width, height, seed_material, noise, tuple(metadata.items()))

    seed = json.dumps([spec.id, prompt, body.get("seed")])
    openai = spec.id.startswith("openai/")
    reasoning_details = _openai_reasoning(seed) if openai else None
    reasoning_tokens = _tokens(_OPENAI_SUMMARY) if openai else 0
    tool_calls = [_tool_call(tool, seed)] if tool is not None else None
    if tool_calls:
        finish = "tool_calls"
    if openai and native == "STOP":
        native = "completed"

    text_tokens = _tokens(text)
    prompt_cost = prompt_tokens * spec.prices.prompt
    image_cost = spec.image_price(image_size) if image_tokens else 0.0
    cost = prompt_cost + (text_tokens + reasoning_tokens) * spec.prices.text_output + image_cost
    return Answer(
        text,
        image_png,
        prompt_tokens,
        text_tokens,
        image_tokens,
        round(cost, 10),
        round(prompt_cost, 10),
        finish,
        native,
        reasoning=_OPENAI_SUMMARY if openai else None,
        reasoning_details=reasoning_details,
        tool_calls=tool_calls,
        reasoning_tokens=reasoning_tokens,
    )
