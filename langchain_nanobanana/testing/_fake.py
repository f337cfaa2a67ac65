"""FakeOpenRouter: the public face of the emulator."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import httpx

from langchain_nanobanana._catalog.models import KNOWN_MODELS, ModelSpec
from langchain_nanobanana.testing._app import EmulatedOpenRouter, RecordedRequest
from langchain_nanobanana.testing._outcomes import Outcome
from langchain_nanobanana.testing._server import serve
from langchain_nanobanana.testing._transport import AsyncEmulatorTransport, EmulatorTransport

if TYPE_CHECKING:
    from langchain_nanobanana.chat_models import ChatNanoBanana

FAKE_API_KEY = "sk-or-fake-key"


class FakeOpenRouter:
    """An offline OpenRouter chat/completions endpoint for tests, demos and benchmarks.

    Args:
        reply_text: what the model says before its image ("" for image only).
        keep_alive_comments: ``: OPENROUTER PROCESSING`` lines opening each stream.
        leading_whitespace: bytes of padding before each non-streamed JSON body.
        latency: seconds every chat request waits before answering.
        noise: draw photo-like noise, so images are as large as real ones
            (about 2 MB of base64 at 1024x1024) instead of a few kilobytes.
        models: models to serve besides the package's catalog (say, one the package
            does not know, to see it discovered from the model lists).
        max_concurrent: play a busy account: at most this many generation requests
            (chat or Image API) are served at once, and those beyond are answered 429
            at once, in the recorded shape ("Provider returned error", the provider's
            text in ``metadata.raw``). None: no limit.
        retry_after: the ``Retry-After`` header (seconds) of those 429s; None sends
            none, as the recorded 429s do.

    Besides chat/completions it serves OpenRouter's Image API (``POST /images``,
    ``GET /images/models``), the model list and ``GET /generation``.

    ``provider`` routing (``max_price`` included) is recorded, not acted on: there is
    one emulated provider, and what OpenRouter answers when no provider is under a
    price cap is not documented (script it with ``Outcome.http_error``).
    """

    base_url = "https://openrouter.ai/api/v1"
    """Where in-process clients send requests (the transport never leaves the process)."""

    def __init__(
        self,
        *,
        reply_text: str = "Here is your image of the requested scene.",
        keep_alive_comments: int = 12,
        leading_whitespace: int = 0,
        latency: float = 0.0,
        noise: bool = False,
        models: Iterable[ModelSpec] = (),
        max_concurrent: int | None = None,
        retry_after: float | None = 1.0,
    ) -> None:
        if max_concurrent is not None and max_concurrent < 1:
            raise ValueError(f"max_concurrent must be at least 1 (or None), not {max_concurrent}.")
        self._app = EmulatedOpenRouter(
            reply_text=reply_text,
            keep_alive_comments=keep_alive_comments,
            leading_whitespace=leading_whitespace,
            latency=latency,
            noise=noise,
            models={**KNOWN_MODELS, **{spec.id: spec for spec in models}},
            max_concurrent=max_concurrent,
            retry_after=retry_after,
        )
        self.transport = EmulatorTransport(self._app)
        self.async_transport = AsyncEmulatorTransport(self._app)

    @property
    def reply_text(self) -> str:
        return self._app.reply_text

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received, oldest first (``Authorization`` shown as ``Bearer ***``)."""
        return self._app.requests

    @property
    def rate_limited(self) -> int:
        """Requests answered 429 because ``max_concurrent`` were being served already."""
        return self._app.rate_limited

    @property
    def generations(self) -> dict[str, dict[str, Any]]:
        """What ``GET /generation?id=...`` answers, by generation id."""
        return self._app.generations

    def enqueue(self, *outcomes: Outcome) -> None:
        """Script the next chat or Image API requests, one outcome each; later ones answer
        normally."""
        self._app.enqueue(*outcomes)

    def client(self) -> httpx.Client:
        return httpx.Client(transport=self.transport, base_url=self.base_url)

    def async_client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=self.async_transport, base_url=self.base_url)

    def chat_model(self, **fields: Any) -> ChatNanoBanana:
        """A ChatNanoBanana wired to this emulator in process; ``fields`` override defaults."""
        from langchain_nanobanana.chat_models import ChatNanoBanana

        defaults: dict[str, Any] = {
            "api_key": FAKE_API_KEY,
            "base_url": self.base_url,
            "http_client": self.client(),
            "http_async_client": self.async_client(),
        }
        return ChatNanoBanana(**{**defaults, **fields})

    @contextmanager
    def serve(self, port: int = 0) -> Iterator[str]:
        """Run the emulator as an HTTP server on 127.0.0.1; yields its base URL."""
        with serve(self._app, port) as base_url:
            yield base_url
