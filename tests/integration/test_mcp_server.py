"""``nanobanana mcp`` driven by the official MCP client, over stdio and over streamable HTTP.

The server is the installed command in its own process; its image model is the
emulator served by this test process, so the image bytes a host gets are checked
against what the emulator drew and what it was sent.
"""

from __future__ import annotations

import base64
import hashlib
import io
import subprocess
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import pytest
from mcp import ClientSession, StdioServerParameters, types
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import McpError
from PIL import Image

from langchain_nanobanana.testing import FakeOpenRouter, describe_image
from tests.support.pictures import picture
from tests.support.program import COMMAND, environment

pytestmark = pytest.mark.slow

UNKNOWN = "img_" + "0" * 32


@pytest.fixture
def service(fake: FakeOpenRouter) -> Iterator[dict[str, str]]:
    with fake.serve() as base_url:
        yield environment(OPENROUTER_BASE_URL=base_url, OPENROUTER_API_KEY="sk-or-mcp-test")


@asynccontextmanager
async def _stdio(env: dict[str, str], *flags: str) -> AsyncIterator[ClientSession]:
    command, *arguments = COMMAND
    parameters = StdioServerParameters(command=command, args=[*arguments, "mcp", *flags], env=env)
    async with stdio_client(parameters) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        yield session


@contextmanager
def _http_server(env: dict[str, str], *flags: str) -> Iterator[str]:
    """``nanobanana mcp --http`` on any free port; yields the URL it prints."""
    process = subprocess.Popen(
        [*COMMAND, "mcp", "--http", "--port", "0", *flags],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().decode().strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/mcp"), url
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


@asynccontextmanager
async def _http(env: dict[str, str], *flags: str) -> AsyncIterator[ClientSession]:
    with _http_server(env, *flags) as url:
        async with (
            streamable_http_client(url) as (read, write, _),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            yield session


def _image(result: types.CallToolResult) -> tuple[str, bytes, str]:
    """(handle, image bytes, mime type) of a successful call's answer."""
    assert not result.isError, result.content
    text, image, link = result.content
    assert isinstance(text, types.TextContent)
    assert isinstance(image, types.ImageContent)
    assert isinstance(link, types.ResourceLink)
    assert str(link.uri) == f"nanobanana://images/{link.name}"
    assert link.name in text.text
    return link.name, base64.b64decode(image.data), image.mimeType


async def _resource(session: ClientSession, handle: str) -> bytes:
    read = await session.read_resource(f"nanobanana://images/{handle}")  # type: ignore[arg-type]
    (content,) = read.contents
    assert isinstance(content, types.BlobResourceContents)
    assert content.mimeType == "image/png"
    return base64.b64decode(content.blob)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def _make_edit_read_and_miss(session: ClientSession) -> str:
    """What every transport must do; returns the first image's handle."""
    listed = await session.list_tools()
    (tool,) = listed.tools
    assert tool.name == "generate_image"
    assert {"prompt", "image_ids", "aspect_ratio"} <= set(tool.inputSchema["properties"])
    assert "runtime" not in tool.inputSchema["properties"]

    progress: list[tuple[float, str | None]] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append((done, message))

    made = await session.call_tool(
        "generate_image",
        {"prompt": "a banana", "aspect_ratio": "16:9"},
        progress_callback=on_progress,
    )
    handle, png, mime_type = _image(made)
    assert mime_type == "image/png"
    assert (describe_image(png)["prompt"], describe_image(png)["width"]) == ("a banana", 1344)
    assert progress == [(1.0, "generating"), (2.0, "done")]

    edited = await session.call_tool(
        "generate_image", {"prompt": "make it blue", "image_ids": [handle]}
    )
    edited_handle, edited_png, _ = _image(edited)
    assert describe_image(edited_png)["sources"] == _sha(png)
    assert await _resource(session, handle) == png
    assert await _resource(session, edited_handle) == edited_png

    unknown = await session.call_tool("generate_image", {"prompt": "x", "image_ids": [UNKNOWN]})
    assert unknown.isError
    assert isinstance(unknown.content[0], types.TextContent)
    assert f"No image has the handle '{UNKNOWN}'" in unknown.content[0].text
    with pytest.raises(McpError, match="No image at"):
        await _resource(session, UNKNOWN)
    return handle


async def test_over_stdio_with_a_store_that_keeps_handles_across_restarts(
    service: dict[str, str], fake: FakeOpenRouter, tmp_path: Path
) -> None:
    store, saved = tmp_path / "store", tmp_path / "saved"
    saved.mkdir()
    async with _stdio(service, "--store", str(store), "--save-dir", str(saved)) as session:
        handle = await _make_edit_read_and_miss(session)
        first = await _resource(session, handle)
    assert (saved / f"{handle}.png").read_bytes() == first
    assert len(fake.requests) == 2  # the unknown handle was refused before any request

    # A new server on the same store, for the same user: the handle still names the image.
    async with _stdio(service, "--store", str(store), "--thumbnail") as session:
        assert await _resource(session, handle) == first
        edited = await session.call_tool(
            "generate_image", {"prompt": "at night", "image_ids": [handle]}
        )
        _, small, mime_type = _image(edited)
    assert mime_type == "image/jpeg"
    assert max(Image.open(io.BytesIO(small)).size) <= 384
    assert describe_image_of_last_request(fake)["sources"] == _sha(first)

    # Another user's server on the same store does not see it.
    async with _stdio(service, "--store", str(store), "--user", "someone-else") as session:
        with pytest.raises(McpError):
            await _resource(session, handle)


def describe_image_of_last_request(fake: FakeOpenRouter) -> dict[str, Any]:
    """What the emulator drew for the last chat request (thumbnails carry no PNG text)."""
    last = fake.requests[-1].body["messages"][-1]["content"]
    sources = [p["image_url"]["url"] for p in last if p.get("type") == "image_url"]
    return {"sources": ",".join(_sha(base64.b64decode(u.split(",", 1)[1])) for u in sources)}


async def test_over_http_with_files_from_an_allowed_folder_and_a_budget(
    service: dict[str, str], fake: FakeOpenRouter, tmp_path: Path
) -> None:
    allowed, elsewhere = tmp_path / "photos", tmp_path / "private"
    allowed.mkdir()
    elsewhere.mkdir()
    photo = picture("red", (320, 240), "JPEG")
    (allowed / "cat.jpg").write_bytes(photo)
    (elsewhere / "secret.jpg").write_bytes(photo)
    (allowed / "escape.jpg").symlink_to(elsewhere / "secret.jpg")

    flags = ("--allow-dir", str(allowed), "--max-images", "3")
    async with _http(service, *flags) as session:
        await _make_edit_read_and_miss(session)  # two images of the three

        from_file = await session.call_tool(
            "generate_image", {"prompt": "a hat", "image_ids": [str(allowed / "cat.jpg")]}
        )
        _, png, _ = _image(from_file)
        assert describe_image(png)["sources"] == _sha(photo)
        for outside in (
            elsewhere / "secret.jpg",
            allowed / "escape.jpg",
            allowed / ".." / "private",
        ):
            refused = await session.call_tool(
                "generate_image", {"prompt": "x", "image_ids": [str(outside)]}
            )
            assert refused.isError
            assert "allowed folder" in refused.content[0].text  # type: ignore[union-attr]

        sent = len(fake.requests)
        over = await session.call_tool("generate_image", {"prompt": "one more"})
        assert over.isError
        assert "budget" in over.content[0].text.lower()  # type: ignore[union-attr]
        assert len(fake.requests) == sent


def test_mcp_without_the_sdk_says_how_to_install_it(tmp_path: Path) -> None:
    blocker = tmp_path / "no_mcp"
    (blocker / "mcp").mkdir(parents=True)
    (blocker / "mcp" / "__init__.py").write_text("raise ImportError('not installed')\n")
    env = environment(PYTHONPATH=str(blocker), OPENROUTER_API_KEY="sk-or-x")
    done = subprocess.run(
        [*COMMAND, "mcp"], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert done.returncode == 2
    assert "pip install 'langchain-nanobanana[mcp]'" in done.stderr
