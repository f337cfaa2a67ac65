"""NanoBananaImageTool: an agent makes and edits pictures by handle, never by base64.

The agent (any tool-calling model) sees a one-sentence result naming a handle such
as ``img_3fa2c9d1...``; the bytes live in a store and travel as the ToolMessage
artifact, where UIs can render them and no model is billed for them.
"""

from __future__ import annotations

import hashlib
import json
from contextvars import ContextVar
from datetime import timedelta
from typing import Annotated, Any, Literal

from langchain_core.callbacks import AsyncCallbackManagerForToolRun, CallbackManagerForToolRun
from langchain_core.messages import HumanMessage
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool, InjectedToolArg, ToolException
from pydantic import BaseModel, Field, PrivateAttr, create_model

from langchain_nanobanana._agent import answer as tool_answer
from langchain_nanobanana._agent import attachments, failures, quiet_trace, sources
from langchain_nanobanana._agent.call import ImageCall
from langchain_nanobanana._agent.ledger import Budget, Ledger
from langchain_nanobanana._agent.progress import ToolProgress, writer_of
from langchain_nanobanana._agent.sources import Sources
from langchain_nanobanana._agent.thread_images import (
    ThreadHistory,
    in_memory,
    lasting_checkpointer,
    warn_images_will_not_last,
)
from langchain_nanobanana._catalog.models import ALL_ASPECT_RATIOS, MAX_IMAGES_PER_CALL, find_model
from langchain_nanobanana._content.lent_images import lend
from langchain_nanobanana._content.urls import without_signature
from langchain_nanobanana.chat_models import ChatNanoBanana
from langchain_nanobanana.images import GeneratedImage
from langchain_nanobanana.scopes import ScopeRule, checked_id, scope_of, thread_of
from langchain_nanobanana.stores import HANDLE_EXAMPLE, ImageStore, as_backend
from langchain_nanobanana.stores._backend import ImageBackend

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
    handle_validation_error: Any = Field(default_factory=lambda: failures.invalid_arguments)
    llm: ChatNanoBanana = Field(default_factory=ChatNanoBanana)
    store: Any = None
    scope: ScopeRule | None = None
    image_ttl: timedelta | None = None
    artifact_mode: Literal["full", "reference", "url"] = "full"
    show_image_to_model: bool = False
    max_images_per_call: int = Field(default=4, ge=1, le=MAX_IMAGES_PER_CALL)
    """The most images one call may ask for (``n``); 1 hides ``n`` from the agent."""
    max_images: int | None = Field(default=None, ge=0)
    """Budget: the most images made per scope (or per thread, see ``budget_per``)."""
    max_cost_usd: float | None = Field(default=None, ge=0)
    """Budget: the most dollars spent per scope (or per thread)."""
    budget_per: Literal["scope", "thread"] = "scope"
    """What a budget counts over: the scope (by default the user) or the run's thread."""
    budget_key: str | None = Field(default=None, min_length=1, max_length=200)
    """Whose budget this is: tools with the same key share one (per scope or thread).
    By default the tool's ``name``, so each tool of a deployment has its own."""
    progress_every_s: float = Field(default=5.0, gt=0)
    """Seconds between heartbeat progress events while an image is generating."""

    _own: ImageBackend = PrivateAttr()
    _warned: bool = PrivateAttr(default=False)

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
        return attachments.register(message, self.images_for(config))

    # ------------------------------------------------------------ running

    def run(
        self, tool_input: Any, *args: Any, tool_call_id: str | None = None, **kwargs: Any
    ) -> Any:
        # The tool call's id reaches _run only through here when the tool is invoked
        # directly with a ToolCall (a graph's tool node also gives it in the runtime).
        # Signed URLs are added to the artifact here, after langchain-core has handed
        # the result to the callbacks (tracers) without them.
        signed: dict[str, str] = {}
        tokens = _CALL_ID.set(tool_call_id), _SIGNED.set(signed)
        try:
            output = super().run(tool_input, *args, tool_call_id=tool_call_id, **kwargs)
        finally:
            _CALL_ID.reset(tokens[0])
            _SIGNED.reset(tokens[1])
        return tool_answer.with_signed_urls(output, signed)

    async def arun(
        self, tool_input: Any, *args: Any, tool_call_id: str | None = None, **kwargs: Any
    ) -> Any:
        signed: dict[str, str] = {}
        tokens = _CALL_ID.set(tool_call_id), _SIGNED.set(signed)
        try:
            output = await super().arun(tool_input, *args, tool_call_id=tool_call_id, **kwargs)
        finally:
            _CALL_ID.reset(tokens[0])
            _SIGNED.reset(tokens[1])
        return tool_answer.with_signed_urls(output, signed)

    def _begin(
        self,
        config: RunnableConfig,
        runtime: Any,
        prompt: str,
        image_ids: list[str] | None,
        aspect_ratio: str | None,
        n: int,
    ) -> ImageCall:
        # Every id is checked here, before anything is paid for (ValueError naming it).
        images = self.images_for(config, store=getattr(runtime, "store", None))
        call_id = getattr(runtime, "tool_call_id", None) or _CALL_ID.get()
        if call_id is not None:
            call_id = checked_id(call_id, "tool_call_id")
        thread = thread_of(config)
        budget = (
            Budget(
                self.max_images, self.max_cost_usd, self.budget_per, self.budget_key or self.name
            )
            if self.max_images is not None or self.max_cost_usd is not None
            else None
        )
        sources = Sources.of(image_ids)
        asked = self._asked(prompt, sources.references, aspect_ratio, n)
        ledger = Ledger(images, call_id, thread, budget, self.image_ttl, asked)
        progress = ToolProgress(writer_of(runtime), call_id, self.progress_every_s)
        self._warn_once_if_images_will_not_last(images, config)
        history = ThreadHistory.of(runtime)
        return ImageCall(
            images, ledger, progress, prompt, sources, aspect_ratio, n, self._estimate(n), history
        )

    def _warn_once_if_images_will_not_last(self, images: ImageStore, config: Any) -> None:
        """Threads kept in a database with images kept in memory: said once, with the fix."""
        if self._warned or not in_memory(images.backend):
            return
        checkpointer = lasting_checkpointer(config)
        if checkpointer is not None:
            self._warned = True
            warn_images_will_not_last(checkpointer)

    def _asked(self, prompt: str, image_ids: list[str], aspect_ratio: str | None, n: int) -> str:
        """A digest of what a call asks for: a reused id asking for something else is new."""
        asked = [self.llm.model, prompt, image_ids, aspect_ratio, n]
        return hashlib.sha256(json.dumps(asked).encode("utf-8", "surrogatepass")).hexdigest()

    def _estimate(self, n: int) -> float:
        """What n images should cost, from the catalog's prices (0 for unknown models)."""
        spec = find_model(self.llm.model)
        if spec is None:
            return 0.0
        return n * spec.image_price(self.llm.image_size)

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
        call = self._begin(config, runtime, prompt, image_ids, aspect_ratio, n)
        answered = call.ledger.answered()
        if answered is not None:  # a retried attempt or a replayed thread: no second request
            stored = [image for h in answered.handles if (image := call.images.find(h))]
            urls = self._urls_of(call.images, [image.id or "" for image in stored])
            return self._present(answered.sentence, stored, urls)
        records = sources.records(call.images, call.sources.handles, call.history)
        call.sources.check_sizes(records, as_bytes=not call.images.gives_urls)
        call.reserve()
        call.progress.started(prompt, call.shown_ids)
        trace, answer = quiet_trace.InnerRun(None), None
        try:
            request, lent = call.request([sources.read(ref, call.images) for ref in call.image_ids])
            trace = quiet_trace.start(self.llm, request, call.options, run_manager)
            with call.progress.heartbeats(), failures.as_tool_errors(), lend(lent):
                answer = quiet_trace.invoke(self.llm, request, call.options)
            made, provenance = call.images_in(answer)
            handles = [call.images.put_image(i, **provenance) for i in made]
            urls = self._urls_of(call.images, handles)
        except BaseException as error:
            trace.fail(error)
            call.ledger.failed(call.failed(error, answer))
            raise
        trace.end(answer, handles)
        stored, sentence = call.result(made, handles, answer)
        call.ledger.settle(*call.spent(made, answer))
        call.ledger.remember(sentence, handles)
        call.progress.done(tool_answer.progress_images(stored, urls))
        return self._present(sentence, stored, urls)

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
        call = self._begin(config, runtime, prompt, image_ids, aspect_ratio, n)
        answered = await call.ledger.aanswered()
        if answered is not None:
            stored = [image for h in answered.handles if (image := await call.images.afind(h))]
            urls = await self._aurls_of(call.images, [image.id or "" for image in stored])
            return self._present(answered.sentence, stored, urls)
        records = await sources.arecords(call.images, call.sources.handles, call.history)
        call.sources.check_sizes(records, as_bytes=not call.images.gives_urls)
        await call.areserve()
        call.progress.started(prompt, call.shown_ids)
        trace, answer = quiet_trace.InnerRun(None), None
        try:
            request, lent = call.request(
                [await sources.aread(r, call.images) for r in call.image_ids]
            )
            trace = await quiet_trace.astart(self.llm, request, call.options, run_manager)
            async with call.progress.aheartbeats():
                with failures.as_tool_errors(), lend(lent):
                    answer = await quiet_trace.ainvoke(self.llm, request, call.options)
            made, provenance = call.images_in(answer)
            handles = [await call.images.aput_image(i, **provenance) for i in made]
            urls = await self._aurls_of(call.images, handles)
        except BaseException as error:
            await trace.afail(error)
            await call.ledger.afailed(call.failed(error, answer))
            raise
        await trace.aend(answer, handles)
        stored, sentence = call.result(made, handles, answer)
        await call.ledger.asettle(*call.spent(made, answer))
        await call.ledger.aremember(sentence, handles)
        call.progress.done(tool_answer.progress_images(stored, urls))
        return self._present(sentence, stored, urls)

    def _urls_of(self, images: ImageStore, handles: list[str]) -> list[str | None]:
        """A fresh URL per image in ``"url"`` mode (None where the store gives none)."""
        if self.artifact_mode != "url" or not images.gives_urls:
            return [None] * len(handles)
        return [images.url(handle) for handle in handles]

    async def _aurls_of(self, images: ImageStore, handles: list[str]) -> list[str | None]:
        if self.artifact_mode != "url" or not images.gives_urls:
            return [None] * len(handles)
        return [await images.aurl(handle) for handle in handles]

    def _present(
        self, sentence: str, stored: list[GeneratedImage], urls: list[str | None]
    ) -> tuple[str | list[dict[str, Any]], list[dict[str, Any]]]:
        """The ToolMessage's content and artifact for stored images."""
        # The callbacks see each URL without its signature; ``run`` puts the signed URLs
        # into the artifact the caller gets (and nowhere else).
        signed = _SIGNED.get()
        if signed is not None:
            pairs = zip(stored, urls, strict=True)
            signed.update({image.id: url for image, url in pairs if url and image.id})
        artifact = [
            tool_answer.artifact_block(image, self.artifact_mode, url and without_signature(url))
            for image, url in zip(stored, urls, strict=True)
        ]
        if not self.show_image_to_model:
            return sentence, artifact
        try:
            looks = [tool_answer.thumbnail(image).to_block() for image in stored]
        except ValueError as error:
            kept = ", ".join(image.id or "" for image in stored)
            raise ToolException(
                f"The image was made and stored as {kept}, but cannot be shown: {error}"
            ) from error
        return [{"type": "text", "text": sentence}, *looks], artifact


_CALL_ID: ContextVar[str | None] = ContextVar("nanobanana_tool_call_id", default=None)
_SIGNED: ContextVar[dict[str, str] | None] = ContextVar("nanobanana_signed_urls", default=None)
"""The signed URL of each image of the running call, by handle, for ``run`` to add."""
