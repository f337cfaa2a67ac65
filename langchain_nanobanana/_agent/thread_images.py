"""What a thread's own history knows of its images, for handles the store no longer has.

A tool with no lasting store (the default: in memory) loses its images when the
process ends, while a checkpointer keeps the thread: in the default ``"full"``
artifact mode each ToolMessage artifact still holds its image's bytes. The tool's
runtime sees the thread's state, so a handle missing from the store is looked up
there, stored again under the same handle and used. A handle the history names but
holds no bytes for (``"reference"`` mode, an attachment) is an image that is gone,
which the agent is told in other words than for a handle no image ever had.

Only the thread's own messages are read, and what is found is stored in the run's
own scope: a history naming someone else's handle reaches nothing of theirs.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import BaseMessage, HumanMessage, ToolMessage
from langchain_core.tools import ToolException

from langchain_nanobanana._agent.attachments import HANDLES_KEY
from langchain_nanobanana._content.image_blocks import UnusableImageBlockError, read_image_block
from langchain_nanobanana.images import GeneratedImage, images_from
from langchain_nanobanana.stores import HANDLE_PATTERN, UnknownImageError
from langchain_nanobanana.stores._backend import ImageBackend

_CHECKPOINTER_KEY = "__pregel_checkpointer"
"""Where LangGraph puts the graph's checkpointer in a run's ``configurable``."""


@dataclass(frozen=True)
class ThreadHistory:
    """The messages of the run's thread, as the tool's runtime sees them (none outside
    a graph)."""

    messages: Sequence[BaseMessage] = ()

    @classmethod
    def of(cls, runtime: Any) -> ThreadHistory:
        state = getattr(runtime, "state", None)
        messages = state.get("messages") if isinstance(state, dict) else None
        messages = getattr(state, "messages", None) if messages is None else messages
        if not isinstance(messages, (list, tuple)):
            return cls()
        return cls(tuple(m for m in messages if isinstance(m, BaseMessage)))

    def image(self, handle: str) -> GeneratedImage | None:
        """The image a ToolMessage artifact holds under ``handle`` (the newest), if any."""
        if not HANDLE_PATTERN.fullmatch(handle):
            return None
        for message in reversed(self.messages):
            if not isinstance(message, ToolMessage) or handle not in _ids_in(message.artifact):
                continue
            try:
                found = [i for i in images_from(message.artifact) if i.id == handle]
            except ValueError:  # damaged base64 in a checkpoint: not this image
                continue
            if found:
                return found[0]
        return None

    def mentions(self, handle: str) -> bool:
        """Whether an image ever had ``handle`` in this thread: a tool result or an
        artifact named it, or the middleware registered it as a user's attachment. What
        a user typed or the agent model wrote proves nothing: either may name any
        handle, and another user's must stay exactly as unknown as one never made."""
        if not HANDLE_PATTERN.fullmatch(handle):
            return False
        for message in self.messages:
            if isinstance(message, ToolMessage) and (
                handle in _text_of(message.content) or handle in _ids_in(message.artifact)
            ):
                return True
            registered = message.additional_kwargs.get(HANDLES_KEY)
            if isinstance(message, HumanMessage) and handle in (registered or ()):
                return True
        return False

    def missing(self, error: UnknownImageError) -> ToolException:
        """What the agent is told of a handle neither the store nor the history holds."""
        if self.mentions(error.handle):
            return ToolException(
                f"Image {error.handle} is gone: its bytes are no longer stored (the image store "
                "was reset, or the image expired or was deleted). Ask the user to attach it "
                "again, or create a new image."
            )
        return ToolException(str(error))


def _ids_in(artifact: Any) -> set[str]:
    blocks = artifact if isinstance(artifact, list) else [artifact]
    ids = set()
    for block in blocks:
        try:
            reference = read_image_block(block)
        except UnusableImageBlockError:
            continue
        if reference is not None and reference.id:
            ids.add(reference.id)
        if isinstance(block, dict) and isinstance(block.get("file_id"), str):
            ids.add(block["file_id"])
    return ids


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            part if isinstance(part, str) else str(part.get("text", ""))
            for part in content
            if isinstance(part, (str, dict))
        )
    return ""


def in_memory(backend: ImageBackend) -> bool:
    """Whether the images live only as long as this process: the default store, or a
    LangGraph or langchain-core in-memory one."""
    from langchain_core.stores import InMemoryBaseStore

    store = getattr(backend, "store", None)
    if isinstance(store, InMemoryBaseStore):
        return True
    try:
        from langgraph.store.memory import InMemoryStore
    except ImportError:
        return False
    return isinstance(store, InMemoryStore)


def lasting_checkpointer(config: Any) -> str | None:
    """The class name of the run's checkpointer when it outlives the process (anything
    but LangGraph's in-memory saver); None otherwise, or outside a graph."""
    configurable = config.get("configurable") if isinstance(config, dict) else None
    checkpointer = (configurable or {}).get(_CHECKPOINTER_KEY)
    try:
        from langgraph.checkpoint.base import BaseCheckpointSaver
        from langgraph.checkpoint.memory import InMemorySaver
    except ImportError:
        return None
    if not isinstance(checkpointer, BaseCheckpointSaver) or isinstance(checkpointer, InMemorySaver):
        return None
    return type(checkpointer).__name__


def warn_images_will_not_last(checkpointer: str) -> None:
    warnings.warn(
        f"NanoBananaImageTool keeps its images in memory, but this graph keeps its threads in "
        f"{checkpointer}: after a restart a resumed thread finds an image only where its own "
        "history holds the bytes (artifact_mode='full'). Give the images a lasting store: "
        "NanoBananaImageTool(store=...) or create_agent(..., store=...), e.g. a PostgresStore.",
        UserWarning,
        stacklevel=4,
    )
