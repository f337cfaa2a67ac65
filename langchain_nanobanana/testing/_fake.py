"""FakeOpenRouter: the public face of the emulator."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from langchain_nanobanana._catalog.models import KNOWN_MODELS, ModelSpec
from langchain_nanobanana.testing._app import EmulatedOpenRouter, RecordedRequest
from langchain_nanobanana.testing._oracle import SchemaOracle
from langchain_nanobanana.testing._outcomes import Outcome
from langchain_nanobanana.testing._replay import Recordings
from langchain_nanobanana.testing._responses import WireShape
from langchain_nanobanana.testing._server import serve
from langchain_nanobanana.testing._transport import AsyncEmulatorTransport, EmulatorTransport

if TYPE_CHECKING:
    from langchain_nanobanana.chat_models import ChatNanoBanana

FAKE_API_KEY = "sk-or-fake-key"


class FakeOpenRouter:
    """An offline OpenRouter chat/completions endpoint for tests, demos and benchmarks.

    Args:
        reply_text: what the model says with its image ("" for image only).
        keep_alive_comments: ``: OPENROUTER PROCESSING`` lines opening each stream
            (a recorded Gemini stream opens with 19).
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
        text_before_image: stream the text in deltas before the image chunk. Recorded
            Gemini streams have no text deltas: the first data chunk carries the image
            (and any text) with the finish reason (the default).
        usage_cost: usage with ``cost``, ``cost_details`` and ``is_byok`` (newer
            recordings, the default); False: without them, as an older recording has it.
        media_type: ``media_type`` beside Image API images. None (default): as recorded
            and documented, absent from whole answers, present in stream events.
        provider_name: the ``provider`` of every answer. None (default): "Google" for
            Google's models (recorded; older recordings say "Google AI Studio"), "OpenAI"
            for OpenAI's.
        check_schema: hold this package's requests and the emulator's answers to
            OpenRouter's official SDK models (``openrouter`` must be installed): a request
            they refuse is answered 400, as OpenRouter's validation answers it, and every
            failure is kept (``testing._oracle.take_schema_violations``). None (default):
            on when ``NANOBANANA_SCHEMA_CHECK=1``.

    Each default is the form recorded in live OpenRouter traffic; the options give the
    other forms seen, so a client can be tested against both.

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
        keep_alive_comments: int = 19,
        leading_whitespace: int = 0,
        latency: float = 0.0,
        noise: bool = False,
        models: Iterable[ModelSpec] = (),
        text_before_image: bool = False,
        usage_cost: bool = True,
        media_type: bool | None = None,
        provider_name: str | None = None,
        check_schema: bool | None = None,
        max_concurrent: int | None = None,
        retry_after: float | None = 1.0,
    ) -> None:
        if max_concurrent is not None and max_concurrent < 1:
            raise ValueError(f"max_concurrent must be at least 1 (or None), not {max_concurrent}.")
        if check_schema is None:
            check_schema = os.environ.get("NANOBANANA_SCHEMA_CHECK", "") in ("1", "true")
        self._app = EmulatedOpenRouter(
            reply_text=reply_text,
            keep_alive_comments=keep_alive_comments,
            leading_whitespace=leading_whitespace,
            latency=latency,
            noise=noise,
            models={**KNOWN_MODELS, **{spec.id: spec for spec in models}},
            max_concurrent=max_concurrent,
            retry_after=retry_after,
            shape=WireShape(
                text_before_image=text_before_image,
                usage_cost=usage_cost,
                media_type=media_type,
                provider_name=provider_name,
            ),
            oracle=SchemaOracle() if check_schema else None,
        )
        self.transport = EmulatorTransport(self._app)
        self.async_transport = AsyncEmulatorTransport(self._app)

    @classmethod
    def replay(cls, folder: str | Path, **options: Any) -> FakeOpenRouter:
        """An emulator that answers chat and Image API requests with recorded answers.

        ``folder`` holds fixtures as ``NAME.meta.json`` beside ``NAME.response.json`` or
        ``NAME.response.sse`` (what ``record_to`` / ``NANOBANANA_RECORD`` writes, and the
        format of the recordings the package is tested against). Each request gets the
        first recording, in name order, that answers its endpoint the way it asked
        (streamed or not) and has not answered yet; once all of those have, they answer
        again from the first. A request no recording answers gets a 400 that says so.
        Everything else (model lists, ``/generation``) is the emulator's own.
        """
        fake = cls(**options)
        fake._app.recordings = Recordings.load(Path(folder))
        return fake

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
