"""The image tool's inner model call, traced without the pictures.

A tracer (LangSmith, Langfuse, any callback handler) records every chat-model
run's inputs and outputs. For the tool's inner call those are the edit's source
images and the new images: megabytes of base64 per call, which tracer users see
as 413s, upload time-outs and unusable run views. So the inner call runs with
no callbacks and tracing switched off, and this module reports the run itself,
under the tool's run, with every image block replaced by a small placeholder
(``images.redact_images``). Usage, cost, model, finish reason and timing are all kept.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForToolRun, CallbackManagerForToolRun
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, LLMResult
from langchain_core.runnables import RunnableConfig

from langchain_nanobanana.chat_models import ChatNanoBanana
from langchain_nanobanana.images import redact_images

_QUIET: RunnableConfig = {"callbacks": [], "tags": ["nostream"]}
"""``callbacks=[]``, not None: None would inherit the tool's own callbacks from the
run context. "nostream": no chunk of the inner call reaches an agent's message stream."""


class InnerRun:
    """One inner call's trace: started before the request, ended once the images are
    stored (so the placeholders can name their handles)."""

    def __init__(self, run: Any) -> None:
        self._run = run

    def end(self, answer: AIMessage, handles: list[str]) -> None:
        if self._run is not None:
            self._run.on_llm_end(_result(answer, handles))

    def fail(self, error: BaseException) -> None:
        if self._run is not None:
            self._run.on_llm_error(error)

    async def aend(self, answer: AIMessage, handles: list[str]) -> None:
        if self._run is not None:
            await self._run.on_llm_end(_result(answer, handles))

    async def afail(self, error: BaseException) -> None:
        if self._run is not None:
            await self._run.on_llm_error(error)


def _result(answer: AIMessage, handles: list[str]) -> LLMResult:
    """The answer as traced: its images (in order) as placeholders named by their handles."""
    traced = redact_images(answer)
    if isinstance(traced.content, list):
        named = iter(handles)
        for block in traced.content:
            if isinstance(block, dict) and block.get("extras", {}).get("omitted"):
                block["file_id"] = next(named, block["file_id"])
    return LLMResult(generations=[[ChatGeneration(message=traced)]])


def _start_arguments(llm: ChatNanoBanana, messages: list[BaseMessage]) -> tuple[Any, ...]:
    return (llm._serialized, [redact_images(messages)])


def _start_keywords(llm: ChatNanoBanana, options: dict[str, Any]) -> dict[str, Any]:
    params = llm._get_invocation_params(**options)
    return {
        "invocation_params": params,
        "options": {key: params[key] for key in options if key in params},
        "name": llm.get_name(),
        "run_id": uuid.uuid4(),
        "batch_size": 1,
    }


def _child(run_manager: Any, llm: ChatNanoBanana, options: dict[str, Any]) -> Any:
    manager = run_manager.get_child()
    # The metadata tracers read a model run's provider and model name (and so its cost) from.
    manager.add_metadata(dict(llm._get_ls_params(**options)), inherit=False)
    return manager


@contextmanager
def _untraced() -> Iterator[None]:
    """No automatic tracer (LANGSMITH_TRACING) for the inner call either."""
    try:
        from langsmith.run_helpers import tracing_context
    except ImportError:  # pragma: no cover - langsmith comes with langchain-core
        yield
        return
    with tracing_context(enabled=False):
        yield


def start(
    llm: ChatNanoBanana,
    messages: list[BaseMessage],
    options: dict[str, Any],
    run_manager: CallbackManagerForToolRun | None,
) -> InnerRun:
    if run_manager is None:
        return InnerRun(None)
    manager = _child(run_manager, llm, options)
    (run,) = manager.on_chat_model_start(
        *_start_arguments(llm, messages), **_start_keywords(llm, options)
    )
    return InnerRun(run)


async def astart(
    llm: ChatNanoBanana,
    messages: list[BaseMessage],
    options: dict[str, Any],
    run_manager: AsyncCallbackManagerForToolRun | None,
) -> InnerRun:
    if run_manager is None:
        return InnerRun(None)
    manager = _child(run_manager, llm, options)
    (run,) = await manager.on_chat_model_start(
        *_start_arguments(llm, messages), **_start_keywords(llm, options)
    )
    return InnerRun(run)


def invoke(llm: ChatNanoBanana, messages: list[BaseMessage], options: dict[str, Any]) -> AIMessage:
    """The call itself, with no callbacks and no automatic tracing."""
    with _untraced():
        return llm.invoke(messages, _QUIET, **options)


async def ainvoke(
    llm: ChatNanoBanana, messages: list[BaseMessage], options: dict[str, Any]
) -> AIMessage:
    with _untraced():
        return await llm.ainvoke(messages, _QUIET, **options)
