"""What the agent and the app see of a finished image call: a sentence and an artifact.

The agent gets one short sentence that names each new image by handle (never its
bytes); the app gets the ToolMessage artifact, whose blocks hold the bytes
(``"full"``) or only the handle, size and, where the store signs one, a URL.
"""

from __future__ import annotations

from typing import Any

from langchain_core.messages import AIMessage, ToolMessage

from langchain_nanobanana._content.image_formats import SizeBound, downscaled, pillow_installed
from langchain_nanobanana._content.media import ACCEPTED_IMAGE_TYPES, sniff_mime_type
from langchain_nanobanana._content.text import shorten
from langchain_nanobanana._content.urls import without_signature
from langchain_nanobanana.images import GeneratedImage

MAX_CONTENT_CHARS = 300
_MODEL_WORDS_CHARS = 160
_THUMBNAIL = SizeBound(long_side=384, max_bytes=100_000)


def provenance(prompt: str, image_ids: list[str] | None, answer: AIMessage) -> dict[str, Any]:
    return {
        "prompt": prompt,
        "sources": list(image_ids or []),
        "model": answer.response_metadata.get("model_name"),
        "generation_id": answer.response_metadata.get("id"),
    }


def _failed_requests(answer: AIMessage) -> str:
    """What a partly failed call for several images says about the rest."""
    errors = answer.response_metadata.get("errors") or []
    if not errors:
        return ""
    requests = answer.response_metadata.get("requests", len(errors))
    return (
        f" {len(errors)} of {requests} requests failed "
        f"({shorten(str(errors[0].get('message', '')), 80)}); ask again for the rest."
    )


def sentence(images: list[GeneratedImage], sources: list[str], answer: AIMessage) -> str:
    """What the agent is told of the stored images: their handles, what failed, what the
    image model said."""
    verb = "Edited " + ", ".join(sources) + " into" if sources else "Created"
    noun = "image" if len(images) == 1 else "images"
    described = ", ".join(image.describe() for image in images)
    sentence = f"{verb} {noun} {described}.{_failed_requests(answer)}"
    said = answer.text
    if said.strip():
        room = min(_MODEL_WORDS_CHARS, MAX_CONTENT_CHARS - len(sentence) - 20)
        if room > 20:
            sentence += f' The image model said: "{shorten(said, room)}"'
    return shorten(sentence, MAX_CONTENT_CHARS)


def artifact_block(image: GeneratedImage, mode: str, url: str | None) -> dict[str, Any]:
    if mode == "full":
        return image.to_block()
    # The handle stands in for the bytes: file_id is "an id in a file storage system".
    # A signed URL expires, so it never stands alone: the handle re-signs it later.
    block: dict[str, Any] = {"type": "image"}
    if url:
        block["url"] = url
    block.update(
        file_id=image.id,
        id=image.id,
        mime_type=image.mime_type,
        extras={"width": image.width, "height": image.height, "bytes": len(image.data)},
    )
    return block


def with_signed_urls(output: Any, signed: dict[str, str]) -> Any:
    """The tool's ToolMessage with each image's signed URL in its artifact block, as a
    new message: the one the callbacks got keeps the URLs without their signatures."""
    if not signed or not isinstance(output, ToolMessage) or not isinstance(output.artifact, list):
        return output
    artifact = [
        {**block, "url": signed[block["id"]]}
        if isinstance(block, dict) and block.get("id") in signed
        else block
        for block in output.artifact
    ]
    return output.model_copy(update={"artifact": artifact})


def thumbnail(image: GeneratedImage) -> GeneratedImage:
    """A small JPEG of the image when Pillow is installed; the image itself otherwise.

    Raises ValueError for bytes that are not PNG, JPEG, WebP or GIF (SVG, HTML),
    that Pillow cannot decode, or that claim more pixels than Pillow's
    decompression-bomb guard allows (a 45-byte PNG can claim 100000x100000).
    """
    kind = sniff_mime_type(image.data[:16])
    if kind not in ACCEPTED_IMAGE_TYPES:
        raise ValueError(f"its bytes are {kind or 'no image type we know'}, not an image")
    if not pillow_installed():
        return image
    return GeneratedImage(downscaled(image.data, _THUMBNAIL), "image/jpeg", image.id)


def progress_images(images: list[GeneratedImage], urls: list[str | None]) -> list[dict[str, Any]]:
    """What a "done" progress event says of each new image (never its bytes)."""
    described = []
    for image, url in zip(images, urls, strict=True):
        entry: dict[str, Any] = {
            "handle": image.id,
            "width": image.width,
            "height": image.height,
            "mime_type": image.mime_type,
        }
        if url:
            entry["url"] = without_signature(url)  # the artifact alone holds the signed URL
        described.append(entry)
    return described
