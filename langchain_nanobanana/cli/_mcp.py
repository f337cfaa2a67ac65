"""``nanobanana mcp``: the image tool for MCP hosts, over stdio or streamable HTTP on loopback.

    nanobanana mcp --store ~/.nanobanana/images            # stdio, for a host's config file
    nanobanana mcp --http --port 8765 --save-dir ~/Pictures  # http://127.0.0.1:8765/mcp

Needs the official MCP SDK: ``pip install "langchain-nanobanana[mcp]"``.
"""

from __future__ import annotations

import argparse
import getpass
import socket
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from langchain_nanobanana._catalog.models import DEFAULT_MODEL
from langchain_nanobanana.cli._command import EXIT_OK, EXIT_USAGE, CommandError, chat_model

_HTTP_PORT = 8765


def mcp_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nanobanana mcp",
        description="Serve the generate_image tool to MCP hosts (Claude Desktop, IDEs, ...): "
        "over stdio, or over streamable HTTP on 127.0.0.1 with --http. Images are kept by "
        "handle and are resources at nanobanana://images/{handle}.",
    )
    parser.add_argument("--http", action="store_true", help="streamable HTTP on 127.0.0.1")
    parser.add_argument(
        "--port", type=int, default=_HTTP_PORT, help=f"with --http (default {_HTTP_PORT}; 0: any)"
    )
    parser.add_argument(
        "--store",
        help="where images are kept across restarts: a folder, or a bucket URL "
        "(s3://bucket/prefix, gs://..., az://...; needs the [obstore] extra); default: memory",
    )
    parser.add_argument("--save-dir", type=Path, help="also write each new image to this folder")
    parser.add_argument(
        "--allow-dir",
        type=Path,
        action="append",
        default=[],
        help="image_ids may name files under this folder (repeatable)",
    )
    parser.add_argument(
        "--user", default=None, help="whose images these are (default: your login name)"
    )
    parser.add_argument("--max-images", type=_count, help="budget: the most images for this user")
    parser.add_argument("--max-cost", type=_dollars, help="budget: the most USD for this user")
    parser.add_argument(
        "--thumbnail",
        action="store_true",
        help="answer with a small JPEG instead of the whole image (hosts with small limits)",
    )
    parser.add_argument("--model", default=DEFAULT_MODEL, help=f"default {DEFAULT_MODEL}")
    parser.add_argument(
        "--offline", action="store_true", help="use the built-in emulator (no key, no network)"
    )
    return parser


def run_mcp(argv: Sequence[str]) -> int:
    args = mcp_parser().parse_args(argv)
    try:
        import anyio

        from langchain_nanobanana.cli._mcp_server import ImageServer
    except ImportError:
        raise CommandError(
            "nanobanana mcp needs the MCP SDK: pip install 'langchain-nanobanana[mcp]'.",
            EXIT_USAGE,
        ) from None
    from langchain_nanobanana import NanoBananaImageTool

    for folder in [args.save_dir, *args.allow_dir]:
        if folder is not None and not folder.is_dir():
            raise CommandError(f"{folder} is not a folder.", EXIT_USAGE)
    tool = NanoBananaImageTool(
        llm=chat_model(offline=args.offline, model=args.model),
        store=_store(args.store),
        artifact_mode="reference",
        max_images=args.max_images,
        max_cost_usd=args.max_cost,
    )
    server = ImageServer(
        tool,
        args.user or _login(),
        thumbnails=args.thumbnail,
        save_dir=args.save_dir,
        allowed_dirs=tuple(args.allow_dir),
    )
    if args.http:
        listener = _listen(args.port)
        anyio.run(_serve_http, server, listener)
    else:
        anyio.run(_serve_stdio, server)
    return EXIT_OK


def _count(value: str) -> int:
    if not value.isdigit():
        raise argparse.ArgumentTypeError("use a whole number, 0 or more")
    return int(value)


def _dollars(value: str) -> float:
    try:
        dollars = float(value)
    except ValueError:
        dollars = -1.0
    if not 0 <= dollars < float("inf"):
        raise argparse.ArgumentTypeError("use a number of dollars, 0 or more")
    return dollars


def _store(given: str | None) -> Any:
    if given is None:
        return None
    if "://" in given:
        try:
            from obstore.store import from_url

            from langchain_nanobanana.object_store import ObjectImageStore
        except ImportError:
            raise CommandError(
                "A bucket store needs obstore: pip install 'langchain-nanobanana[obstore]'.",
                EXIT_USAGE,
            ) from None
        try:
            return ObjectImageStore(from_url(given))
        except Exception as error:  # obstore's own errors name the URL's problem
            said = str(error).splitlines()[0]
            raise CommandError(f"Cannot use the store {given}: {said}", EXIT_USAGE) from None
    from langchain_nanobanana.stores import DirectoryByteStore

    folder = Path(given).expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    return DirectoryByteStore(folder)


def _login() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name in a container
        return "local"


def _listen(port: int) -> socket.socket:
    listener = socket.socket()
    try:
        listener.bind(("127.0.0.1", port))
    except OSError as error:
        listener.close()
        raise CommandError(
            f"Cannot listen on 127.0.0.1:{port}: {error.strerror}; "
            "pass --port 0 for any free port.",
            EXIT_USAGE,
        ) from None
    # Listening now, before the address is printed: a client that connects at once waits
    # in the backlog until the server accepts, instead of being refused.
    listener.listen()
    return listener


async def _serve_stdio(server: Any) -> None:
    from mcp.server.stdio import stdio_server

    async with stdio_server() as (read, write):
        await server.server.run(read, write, server.server.create_initialization_options())


async def _serve_http(server: Any, listener: socket.socket) -> None:
    import uvicorn
    from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
    from mcp.server.transport_security import TransportSecuritySettings
    from starlette.applications import Starlette
    from starlette.routing import Route
    from starlette.types import Receive, Scope, Send

    # Only pages on this machine may call it: a web page elsewhere cannot rebind a name to
    # 127.0.0.1 and reach it through the browser.
    security = TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=["127.0.0.1:*", "localhost:*"],
        allowed_origins=["http://127.0.0.1:*", "http://localhost:*"],
    )
    sessions = StreamableHTTPSessionManager(app=server.server, security_settings=security)

    class Endpoint:  # an ASGI app, so Starlette hands it the raw request
        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            await sessions.handle_request(scope, receive, send)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with sessions.run():
            yield

    app = Starlette(routes=[Route("/mcp", endpoint=Endpoint())], lifespan=lifespan)
    port = listener.getsockname()[1]
    print(f"http://127.0.0.1:{port}/mcp", flush=True)
    print("nanobanana: MCP server on the address above; Ctrl-C stops it.", file=sys.stderr)
    config = uvicorn.Config(app, log_level="warning", lifespan="on")
    await uvicorn.Server(config).serve(sockets=[listener])
