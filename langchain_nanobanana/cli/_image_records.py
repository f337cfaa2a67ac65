"""Each image's own share of an answer: its generation id, text, tokens and cost.

An answer for ``-n N`` sums its requests' usage and cost. The command writes one
record per image, so the records must add up to the sum, never repeat it: each image
gets the request that made it (``response_metadata["request_answers"]`` lists them
in order when there were several), and a request that made several images shares its
cost and tokens evenly among them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import AIMessage

from langchain_nanobanana.images import GeneratedImage


@dataclass(frozen=True)
class ImageShare:
    """One image and its part of what its request said and cost."""

    image: GeneratedImage
    generation_id: str | None
    text: str
    input_tokens: int | None
    output_tokens: int | None
    cost_usd: float | None


def image_shares(answer: AIMessage, images: Sequence[GeneratedImage]) -> list[ImageShare]:
    """One share per image of ``answer``, in order; together they add up to the answer's."""
    requests = _requests(answer)
    if requests is None or sum(request["images"] for request in requests) != len(images):
        requests = [_whole(answer, len(images))]
    shares: list[ImageShare] = []
    position = 0
    for request in requests:
        count = request["images"]
        if not count:
            continue
        usage: Mapping[str, Any] = request.get("usage") or {}
        inputs = _split(usage.get("input_tokens"), count)
        outputs = _split(usage.get("output_tokens"), count)
        cost = request.get("cost")
        each = float(cost) / count if isinstance(cost, (int, float)) else None
        for number in range(count):
            shares.append(
                ImageShare(
                    image=images[position],
                    generation_id=request.get("id"),
                    text=request.get("text") or "",
                    input_tokens=inputs[number],
                    output_tokens=outputs[number],
                    cost_usd=each,
                )
            )
            position += 1
    return shares


def _requests(answer: AIMessage) -> list[dict[str, Any]] | None:
    """The requests of a fan-out, each with its image count; None for a single request."""
    listed = answer.response_metadata.get("request_answers")
    if isinstance(listed, list) and all(
        isinstance(entry, dict) and isinstance(entry.get("images"), int) for entry in listed
    ):
        return listed
    return None


def _whole(answer: AIMessage, images: int) -> dict[str, Any]:
    """The answer as the one request that made all ``images``."""
    return {
        "id": answer.response_metadata.get("id"),
        "cost": answer.response_metadata.get("cost"),
        "usage": dict(answer.usage_metadata) if answer.usage_metadata else None,
        "text": answer.text,
        "images": images,
    }


def _split(total: Any, parts: int) -> list[int | None]:
    """``total`` in ``parts`` whole numbers that add up to it (the first ones take the rest)."""
    if not isinstance(total, int):
        return [None] * parts
    each, rest = divmod(total, parts)
    return [each + (1 if number < rest else 0) for number in range(parts)]
