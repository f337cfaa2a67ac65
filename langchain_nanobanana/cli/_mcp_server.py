"""The image tool as an MCP server: ``generate_image``, and each image as a resource.

The MCP tool is ``NanoBananaImageTool`` itself, run once per request with the
request's own tool call id, so its scope, budgets, pay-once and store all apply.
Its answer is the tool's sentence, each new image as MCP image content (or a
thumbnail of it) and a link to the image's resource ``nanobanana://images/{handle}``.
While the model works, the tool's progress events become MCP progress
notifications for a host that sent a progress token.

Needs the official ``mcp`` SDK (``pip install "langchain-nanobanana[mcp]"``).
"""

from __future__ import annotations

import asyncio
import secrets
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mcp import types
from mcp.server.lowlevel import Server
from mcp.server.lowlevel.helper_types import ReadResourceContents
from mcp.shared.exceptions import McpError
from pydantic import AnyUrl

from langchain_nanobanana._agent.answer import thumbnail
from langchain_nanobanana._content.image_formats import extension_for
from langchain_nanobanana.cli._image_files import write_whole
from langchain_nanobanana.images import GeneratedImage
from langchain_nanobanana.stores import HANDLE_PATTERN, ImageStore
from langchain_nanobanana.tools import NanoBananaImageTool

RESOURCE_PREFIX = "nanobanana://images/"
_RECENT = 50
_RESOURCE_NOT_FOUND = -32002  # the MCP specification's code for an unknown resource


@dataclass
class _Runtime:
    """What a LangGraph tool node gives the tool, here given by the MCP request."""

    tool_call_id: str
    stream_writer: Any
    store: Any = None


class ImageServer:
    """An MCP server (``.server``) around one tool, for one user's scope."""

    def __init__(
        self,
        tool: NanoBananaImageTool,
        user: str,
        *,
        thumbnails: bool = False,
        save_dir: Path | None = None,
        allowed_dirs: tuple[Path, ...] = (),
    ) -> None:
        self.tool = tool
        self.config: dict[str, Any] = {"configurable": {"user_id": user}}
        self.thumbnails = thumbnails
        self.save_dir = save_dir
        self.allowed_dirs = tuple(folder.resolve() for folder in allowed_dirs)
        self._instance = secrets.token_hex(4)
        self._recent: deque[tuple[str, str]] = deque(maxlen=_RECENT)
        self.server: Server[Any, Any] = Server(
            "nanobanana",
            instructions=(
                "generate_image makes and edits pictures. Name earlier images by their "
                "handles (img_...) in image_ids to edit them."
            ),
        )
        # The SDK's decorator factories are untyped; what they register is typed here.
        self.server.list_tools()(self.list_tools)  # type: ignore[no-untyped-call]
        self.server.call_tool()(self.call_tool)
        self.server.list_resources()(self.list_resources)  # type: ignore[no-untyped-call]
        templates = self.server.list_resource_templates()  # type: ignore[no-untyped-call]
        templates(self.list_resource_templates)
        self.server.read_resource()(self.read_resource)  # type: ignore[no-untyped-call]

    @property
    def images(self) -> ImageStore:
        return self.tool.images_for(self.config)  # type: ignore[arg-type]

    # ------------------------------------------------------------ the tool

    async def list_tools(self) -> list[types.Tool]:
        schema = self.tool.tool_call_schema.model_json_schema()  # type: ignore[union-attr]
        schema.pop("title", None)
        return [
            types.Tool(name=self.tool.name, description=self.tool.description, inputSchema=schema)
        ]

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> types.CallToolResult:
        if name != self.tool.name:
            return _error(f"There is no tool {name!r}; the one tool is {self.tool.name!r}.")
        context = self.server.request_context
        try:
            sources = await self._sources(arguments.get("image_ids") or [])
        except ValueError as refused:
            return _error(str(refused))
        progress = _Progress(context)
        # One id per MCP request: a request answered before (in this process's
        # session) is answered again without paying twice.
        call_id = f"mcp_{self._instance}_{id(context.session):x}_{context.request_id}"
        runtime = _Runtime(call_id, progress.send)
        args = {**arguments, "image_ids": sources, "runtime": runtime}
        call = {"type": "tool_call", "id": call_id, "name": self.tool.name, "args": args}
        try:
            message = await self.tool.ainvoke(call, self.config)  # type: ignore[arg-type]
        finally:
            await progress.flush()
        if message.status == "error":
            return _error(str(message.content))
        handles = [block["id"] for block in message.artifact]
        return await self._answer(str(message.content), handles)

    async def _answer(self, sentence: str, handles: list[str]) -> types.CallToolResult:
        content: list[types.ContentBlock] = []
        saved = []
        for handle in handles:
            image = await self.images.aget(handle)
            self._recent.append((handle, image.mime_type))
            if self.save_dir is not None:
                saved.append(str(self._save(image)))
            shown = thumbnail(image) if self.thumbnails else image
            content.append(
                types.ImageContent(type="image", data=shown.base64, mimeType=shown.mime_type)
            )
            content.append(
                types.ResourceLink(
                    type="resource_link",
                    uri=AnyUrl(RESOURCE_PREFIX + handle),
                    name=handle,
                    mimeType=image.mime_type,
                )
            )
        if saved:
            sentence += " Saved as " + ", ".join(saved) + "."
        return types.CallToolResult(
            content=[types.TextContent(type="text", text=sentence), *content]
        )

    def _save(self, image: GeneratedImage) -> Path:
        assert self.save_dir is not None
        path = self.save_dir / f"{image.id}{extension_for(image.mime_type)}"
        write_whole(path, image.data)
        return path

    async def _sources(self, references: list[Any]) -> list[Any]:
        """``image_ids`` with each file under an allowed folder stored and named by handle."""
        sources = []
        for reference in references:
            if not self.allowed_dirs or not isinstance(reference, str) or _named(reference):
                sources.append(reference)
                continue
            sources.append(await self._stored_file(reference))
        return sources

    async def _stored_file(self, reference: str) -> str:
        data, name = await asyncio.to_thread(_read_allowed, reference, self.allowed_dirs)
        return await self.images.aput(data, None, origin="file", file=name)

    # ------------------------------------------------------------ resources

    async def list_resources(self) -> list[types.Resource]:
        """The images this server made lately (any other is read by its handle)."""
        return [
            types.Resource(uri=AnyUrl(RESOURCE_PREFIX + handle), name=handle, mimeType=mime_type)
            for handle, mime_type in reversed(self._recent)
        ]

    async def list_resource_templates(self) -> list[types.ResourceTemplate]:
        return [
            types.ResourceTemplate(
                uriTemplate=RESOURCE_PREFIX + "{handle}",
                name="image",
                description="An image made, edited or attached here, by its handle (img_...).",
            )
        ]

    async def read_resource(self, uri: AnyUrl) -> list[ReadResourceContents]:
        handle = str(uri).removeprefix(RESOURCE_PREFIX)
        image = await self.images.afind(handle) if str(uri).startswith(RESOURCE_PREFIX) else None
        if image is None:
            raise McpError(types.ErrorData(code=_RESOURCE_NOT_FOUND, message=f"No image at {uri}."))
        return [ReadResourceContents(content=image.data, mime_type=image.mime_type)]


def _named(reference: str) -> bool:
    """A handle or an https URL: what the tool itself reads."""
    return bool(HANDLE_PATTERN.fullmatch(reference)) or reference.startswith("https://")


def _read_allowed(reference: str, allowed_dirs: tuple[Path, ...]) -> tuple[bytes, str]:
    """The bytes and name of a file under an allowed folder (links resolved first)."""
    path = Path(reference).expanduser().resolve()
    if not any(path.is_relative_to(folder) for folder in allowed_dirs):
        raise ValueError(
            f"{reference!r} is no handle, https URL or file under an allowed folder "
            f"({', '.join(map(str, allowed_dirs))})."
        )
    try:
        return path.read_bytes(), path.name
    except OSError as error:
        raise ValueError(f"Cannot read {reference!r}: {error.strerror or error}.") from None


def _error(sentence: str) -> types.CallToolResult:
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=sentence)], isError=True
    )


class _Progress:
    """The tool's progress events as MCP progress notifications, when the host asked."""

    def __init__(self, context: Any) -> None:
        meta = context.meta
        self.token = meta.progressToken if meta is not None else None
        self.session = context.session
        self.request_id = context.request_id
        self.sent = 0
        self.tasks: list[asyncio.Task[None]] = []

    def send(self, event: dict[str, Any]) -> None:
        if self.token is None:
            return
        self.sent += 1  # progress must grow with every notification
        said = {
            "started": "generating",
            "heartbeat": f"still generating ({event.get('elapsed_s', 0):.0f} s)",
            "done": "done",
            "failed": f"failed: {event.get('reason', '')}",
        }.get(str(event.get("event")), str(event.get("event")))
        notification = self.session.send_progress_notification(
            self.token, self.sent, None, said, related_request_id=self.request_id
        )
        self.tasks.append(asyncio.get_running_loop().create_task(notification))

    async def flush(self) -> None:
        """Every notification out before the answer."""
        await asyncio.gather(*self.tasks, return_exceptions=True)
