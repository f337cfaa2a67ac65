"""NanoBananaImageTool: an agent makes and edits pictures by handle, never by base64.

The agent (any tool-calling model) sees a one-sentence result naming a handle such
as ``img_3fa2c9d1``; the bytes live in a store and travel as the ToolMessage
artifact, where UIs can render them and no model is billed for them.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Annotated, Any, Literal

from langchain_core.callbacks import AsyncCallbackManagerForToolRun, CallbackManagerForToolRun
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool, InjectedToolArg, ToolException
from pydantic import BaseModel, Field, PrivateAttr, ValidationError, create_model

from langchain_nanobanana import _attachments
from langchain_nanobanana._backend import ImageBackend
from langchain_nanobanana._catalog import ALL_ASPECT_RATIOS, MAX_IMAGES_PER_CALL, find_model
from langchain_nanobanana._media import ACCEPTED_IMAGE_TYPES, sniff_mime_type
from langchain_nanobanana._no_image import MissingImage
from langchain_nanobanana._text import shorten
from langchain_nanobanana._urls import fetchable_by_openrouter
from langchain_nanobanana.chat_models import ChatNanoBanana
from langchain_nanobanana.errors import (
    OpenRouterAuthenticationError,
    OpenRouterError,
    OpenRouterPermissionDeniedError,
    OpenRouterRateLimitError,
)
from langchain_nanobanana.images import GeneratedImage, images_from
from langchain_nanobanana.scopes import ScopeRule, scope_of
from langchain_nanobanana.stores import HANDLE_EXAMPLE, ImageStore, UnknownImageError, as_backend

MAX_CONTENT_CHARS = 300
_MODEL_WORDS_CHARS = 160
_THUMBNAIL_PIXELS = 384

_DESCRIPTION = (
    "Create a new image from a text prompt, or edit/combine earlier images. "
    f"To edit, pass the handles of earlier images (like {HANDLE_EXAMPLE}) or https URLs in "
    "image_ids and describe the change in prompt. Returns the handle of the new image; refer to "
    "images only by handle and never write image data yourself."
)


def _args_schema(aspect_ratios: tuple[str, ...], max_images: int) -> type[BaseModel]:
    """The arguments the agent model sees, with this model's aspect ratios enumerated."""
    ratio_type = Literal[aspect_ratios]  # type: ignore[valid-type]
    count: dict[str, Any] = {}
    if max_images > 1:
        count["n"] = (
            int,
            Field(
                default=1,
                ge=1,
                le=max_images,
                description="How many different images to make (each gets its own handle).",
            ),
        )
    return create_model(
        "GenerateImageInput",
        **count,
        prompt=(str, Field(description="What to draw, or how to change the given images.")),
        image_ids=(
            list[str],
            Field(
                default_factory=list,
                description="Handles of earlier images (img_...) or https URLs to edit or combine.",
            ),
        ),
        aspect_ratio=(
            ratio_type | None,
            Field(default=None, description="Shape of the new image, e.g. 16:9 for landscape."),
        ),
        # LangGraph's tool node fills this in (store, tool call id, stream writer); the
        # marker keeps it out of the schema the agent model sees.
        runtime=(Annotated[Any, InjectedToolArg()], None),
    )


class NanoBananaImageTool(BaseTool):
    """Give an agent image generation and editing, by handle.

    Example (offline, with the emulator):

        .. code-block:: python

            from langchain_nanobanana import NanoBananaImageTool
            from langchain_nanobanana.testing import FakeOpenRouter

            tool = NanoBananaImageTool(llm=FakeOpenRouter().chat_model())
            message = tool.invoke(
                {"type": "tool_call", "id": "call_1", "name": "generate_image",
                 "args": {"prompt": "a nano banana dish", "aspect_ratio": "16:9"}}
            )
            message.content   # 'Created image img_1a2b3c4d... (1344x768 PNG). ...'
            message.artifact  # [{"type": "image", "base64": ..., "id": "img_1a2b3c4d...", ...}]

    Args:
        llm: the image model (a default ChatNanoBanana when omitted).
        store: where images are kept: any ``BaseStore[str, bytes]``
            (``DirectoryByteStore(path)`` for a folder), a LangGraph store
            (``PostgresStore``), an ``ObjectImageStore`` (a bucket) or another
            ``ImageBackend``. When omitted, the store the graph was compiled with
            (``ToolRuntime.store``, LangGraph Platform's store), else one in memory.
        scope: a function of the run's config that names whose images a call
            uses (``scopes.ScopeRule``); by default the user
            (``langgraph_auth_user_id``, then ``user_id``), else the thread.
        image_ttl: how long stored images live (None: until deleted).
        artifact_mode: ``"full"`` puts the image bytes in the artifact (for UIs);
            ``"reference"`` keeps only handle and metadata there, so checkpoints of
            long-running agents do not grow by megabytes per image; ``"url"`` is
            ``"reference"`` plus a freshly signed URL where the store signs them.
        show_image_to_model: also put a small copy of the image in the ToolMessage
            content, for multimodal agent models that should look at the result.
    """

    name: str = "generate_image"
    description: str = _DESCRIPTION
    response_format: Literal["content", "content_and_artifact"] = "content_and_artifact"
    handle_tool_error: Any = True
    handle_validation_error: Any = Field(default_factory=lambda: _invalid_arguments)
    llm: ChatNanoBanana = Field(default_factory=ChatNanoBanana)
    store: Any = None
    scope: ScopeRule | None = None
    image_ttl: timedelta | None = None
    artifact_mode: Literal["full", "reference", "url"] = "full"
    show_image_to_model: bool = False
    max_images_per_call: int = Field(default=4, ge=1, le=MAX_IMAGES_PER_CALL)
    """The most images one call may ask for (``n``); 1 hides ``n`` from the agent."""

    _own: ImageBackend = PrivateAttr()

    def model_post_init(self, context: Any, /) -> None:
        super().model_post_init(context)
        self._own = as_backend(self.store)  # refuses a store of the wrong kind now
        spec = find_model(self.llm.model)
        ratios = spec.aspect_ratios if spec else ALL_ASPECT_RATIOS
        self.args_schema = _args_schema(ratios, self.max_images_per_call)

    @property
    def images(self) -> ImageStore:
        """The images of calls made outside any run's scope (plain scripts):
        ``tool.images.get("img_...")``, ``.metadata(...)``. For a run's images use
        ``images_for(config)``."""
        return self.images_for(None)

    def images_for(self, config: RunnableConfig | None = None, *, store: Any = None) -> ImageStore:
        """The images one run may read and add to: its scope, on its store.

        Every store access of a call (sources, results, attachments, the
        middleware's) goes through here: the one place that answers "whose images
        are these?". ``store`` is the graph's own store (``ToolRuntime.store``),
        used when the tool was given none.
        """
        backend = self._own if self.store is not None or store is None else as_backend(store)
        return ImageStore(backend, scope=scope_of(config, self.scope), ttl=self.image_ttl)

    def register_attachments(
        self, message: HumanMessage, config: RunnableConfig | None = None
    ) -> HumanMessage:
        """The user's message with each attached image stored and replaced by its handle.

        Each image becomes a line such as ``[attached image img_1a2b3c4d... (1024x768
        JPEG)]``, so the agent can pass the handle in ``image_ids`` to edit the
        photo, and no base64 stays in the conversation. The handles are also
        listed in ``additional_kwargs["nanobanana_handles"]``. Every image-block
        form is recognised (standard, legacy, Anthropic, OpenAI, data URL).
        """
        return _attachments.register(message, self.images_for(config))

    # ------------------------------------------------------------ running

    def _request(self, prompt: str, sources: list[GeneratedImage | str]) -> HumanMessage:
        content: list[str | dict[str, Any]] = [{"type": "text", "text": prompt}]
        for source in sources:
            content.append(
                source.to_block()
                if isinstance(source, GeneratedImage)
                else {"type": "image", "url": source}
            )
        return HumanMessage(content=content)

    def _inner_config(self, run_manager: Any) -> RunnableConfig:
        # "nostream": when the agent is streamed, the image model's chunks (megabytes of
        # base64) must not be forwarded into the agent's message stream.
        return {"callbacks": run_manager.get_child() if run_manager else None, "tags": ["nostream"]}

    def _run(
        self,
        prompt: str,
        image_ids: list[str] | None = None,
        aspect_ratio: str | None = None,
        n: int = 1,
        *,
        config: RunnableConfig,  # exactly this hint: langchain-core passes the config by it
        run_manager: CallbackManagerForToolRun | None = None,
        runtime: Any = None,
    ) -> tuple[str | list[dict[str, Any]], list[dict[str, Any]]]:
        images = self.images_for(config, store=getattr(runtime, "store", None))
        sources = [_source(handle, images) for handle in image_ids or []]
        options = _call_options(aspect_ratio, n)
        with _as_tool_errors():
            answer = self.llm.invoke(
                [self._request(prompt, sources)], self._inner_config(run_manager), **options
            )
        made = _images_or_explain(answer)
        handles = [
            images.put(image.data, image.mime_type, **_provenance(prompt, image_ids, answer))
            for image in made
        ]
        urls = [images.url(handle) for handle in handles] if self.artifact_mode == "url" else []
        return self._result(answer, made, handles, image_ids or [], urls)

    async def _arun(
        self,
        prompt: str,
        image_ids: list[str] | None = None,
        aspect_ratio: str | None = None,
        n: int = 1,
        *,
        config: RunnableConfig,
        run_manager: AsyncCallbackManagerForToolRun | None = None,
        runtime: Any = None,
    ) -> tuple[str | list[dict[str, Any]], list[dict[str, Any]]]:
        images = self.images_for(config, store=getattr(runtime, "store", None))
        sources = [await _asource(handle, images) for handle in image_ids or []]
        options = _call_options(aspect_ratio, n)
        with _as_tool_errors():
            answer = await self.llm.ainvoke(
                [self._request(prompt, sources)], self._inner_config(run_manager), **options
            )
        made = _images_or_explain(answer)
        handles = [
            await images.aput(image.data, image.mime_type, **_provenance(prompt, image_ids, answer))
            for image in made
        ]
        urls = [await images.aurl(h) for h in handles] if self.artifact_mode == "url" else []
        return self._result(answer, made, handles, image_ids or [], urls)

    def _result(
        self,
        answer: AIMessage,
        images: list[GeneratedImage],
        handles: list[str],
        sources: list[str],
        urls: list[str | None],
    ) -> tuple[str | list[dict[str, Any]], list[dict[str, Any]]]:
        stored = [image.with_id(handle) for image, handle in zip(images, handles, strict=True)]
        sentence = _sentence(stored, sources, answer.text, _failed_requests(answer))
        artifact = [
            _artifact_block(image, self.artifact_mode, url)
            for image, url in zip(stored, urls or [None] * len(stored), strict=True)
        ]
        if not self.show_image_to_model:
            return sentence, artifact
        try:
            looks = [_thumbnail(image).to_block() for image in stored]
        except ValueError as error:
            kept = ", ".join(image.id or "" for image in stored)
            raise ToolException(
                f"The image was made and stored as {kept}, but cannot be shown: {error}"
            ) from error
        return [{"type": "text", "text": sentence}, *looks], artifact


# ---------------------------------------------------------------- helpers


def _source(reference: str, images: ImageStore) -> GeneratedImage | str:
    """An https URL as is; a handle as a URL OpenRouter can fetch where the store signs
    one (no megabytes of base64 in the request), else as its stored image. Anything
    else, another scope's handle included, is the agent's error and nothing is sent."""
    if reference.startswith("https://"):
        return reference
    try:
        url = images.url(reference)
        return url if url and fetchable_by_openrouter(url) else images.get(reference)
    except UnknownImageError as error:
        raise ToolException(str(error)) from None


async def _asource(reference: str, images: ImageStore) -> GeneratedImage | str:
    if reference.startswith("https://"):
        return reference
    try:
        url = await images.aurl(reference)
        return url if url and fetchable_by_openrouter(url) else await images.aget(reference)
    except UnknownImageError as error:
        raise ToolException(str(error)) from None


def _provenance(prompt: str, image_ids: list[str] | None, answer: AIMessage) -> dict[str, Any]:
    return {
        "prompt": prompt,
        "sources": list(image_ids or []),
        "model": answer.response_metadata.get("model_name"),
        "generation_id": answer.response_metadata.get("id"),
    }


def _invalid_arguments(error: ValidationError) -> str:
    """Arguments the schema refuses (a ratio the model lacks, too many images): the agent
    can fix them, so they come back as an error ToolMessage, not an exception."""
    problems = "; ".join(
        f"{'.'.join(map(str, problem['loc']))}: {problem['msg']}" for problem in error.errors()
    )
    return (
        f"The generate_image arguments were not valid ({shorten(problems, 200)}). "
        "Fix them and call again."
    )


def _call_options(aspect_ratio: str | None, n: int) -> dict[str, Any]:
    options: dict[str, Any] = {"aspect_ratio": aspect_ratio} if aspect_ratio else {}
    if n > 1:
        options["n"] = n
    return options


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


def _sentence(
    images: list[GeneratedImage], sources: list[str], said: str, failures: str = ""
) -> str:
    verb = "Edited " + ", ".join(sources) + " into" if sources else "Created"
    noun = "image" if len(images) == 1 else "images"
    sentence = f"{verb} {noun} {', '.join(image.describe() for image in images)}.{failures}"
    if said.strip():
        room = min(_MODEL_WORDS_CHARS, MAX_CONTENT_CHARS - len(sentence) - 20)
        if room > 20:
            sentence += f' The image model said: "{shorten(said, room)}"'
    return shorten(sentence, MAX_CONTENT_CHARS)


def _images_or_explain(answer: AIMessage) -> list[GeneratedImage]:
    images = images_from(answer)
    if not images:
        raise ToolException(MissingImage.of(answer).sentence())
    return images


@contextmanager
def _as_tool_errors() -> Iterator[None]:
    """Failures the agent can act on become ToolExceptions (and so error ToolMessages)."""
    try:
        yield
    except OpenRouterError as error:
        raise _tool_error(error) from error
    except ValueError as error:  # refused locally (a bad image or option): the agent can fix it
        raise ToolException(str(error)) from error


def _tool_error(error: OpenRouterError) -> Exception:
    """An error the agent can act on becomes a ToolMessage; a broken setup stays an exception."""
    if isinstance(error, OpenRouterAuthenticationError):
        return error
    if isinstance(error, OpenRouterRateLimitError):
        return ToolException(
            "The image service is rate-limiting requests right now; wait a minute before "
            "trying again, or continue without the image."
        )
    if isinstance(error, OpenRouterPermissionDeniedError):
        reasons = ", ".join(error.reasons) or "no reason given"
        return ToolException(
            f"The image request was refused by moderation ({reasons}). "
            "Rephrase the prompt without that content."
        )
    return ToolException(f"The image service failed: {shorten(error.message, 200)}")


def _artifact_block(image: GeneratedImage, mode: str, url: str | None) -> dict[str, Any]:
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


def _thumbnail(image: GeneratedImage) -> GeneratedImage:
    """A small JPEG of the image when Pillow is installed; the image itself otherwise.

    Raises ValueError for bytes that are not PNG, JPEG, WebP or GIF (SVG, HTML),
    that Pillow cannot decode, or that claim more pixels than Pillow's
    decompression-bomb guard allows (a 45-byte PNG can claim 100000x100000).
    """
    kind = sniff_mime_type(image.data[:16])
    if kind not in ACCEPTED_IMAGE_TYPES:
        raise ValueError(f"its bytes are {kind or 'no image type we know'}, not an image")
    try:
        from PIL import Image
    except ImportError:
        return image
    try:
        with warnings.catch_warnings():
            # Pillow only warns between its pixel limit and twice it: refuse those too.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            picture = Image.open(io.BytesIO(image.data)).convert("RGB")
        picture.thumbnail((_THUMBNAIL_PIXELS, _THUMBNAIL_PIXELS))
    except (
        OSError,
        ValueError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
        SyntaxError,
    ) as error:
        raise ValueError(f"Pillow cannot decode it ({type(error).__name__})") from None
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG", quality=80)
    return GeneratedImage(buffer.getvalue(), "image/jpeg", image.id)


__all__ = ["NanoBananaImageTool"]
