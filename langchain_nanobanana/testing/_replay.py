"""Recorded answers, played back: the emulator answering from fixture files.

A fixture is ``NAME.meta.json`` (``status``, the ``request`` sent, response ``headers``,
``source``; optionally ``endpoint`` and ``modes``) beside ``NAME.response.json`` or
``NAME.response.sse`` (the body as it came over the wire). The recorder
(``record_to`` / ``NANOBANANA_RECORD``) writes them; so does anyone who copies an
answer out of a cassette or a bug report.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHAT = "chat/completions"
IMAGES = "images"
# Framing headers belong to the recorded connection, not to the answer.
_FRAMING = frozenset(
    {"content-length", "transfer-encoding", "connection", "content-encoding", "keep-alive"}
)


@dataclass(frozen=True)
class Fixture:
    """One recorded answer and what it answers."""

    name: str
    status: int
    endpoint: str | None
    """``chat/completions`` or ``images``; None when the body does not say (an error)."""
    streamed: bool
    """An SSE body: it answers a streamed request only."""
    headers: dict[str, str]
    body: bytes

    def answers(self, endpoint: str, stream: bool) -> bool:
        """Whether this recording answers a request to ``endpoint`` that streams or not."""
        return self.endpoint in (None, endpoint) and (stream or not self.streamed)

    def frames(self) -> list[bytes] | None:
        """An SSE body's events, each with its blank line; None for a whole body."""
        if not self.streamed:
            return None
        return [frame for frame in re.split(rb"(?<=\n\n)", self.body) if frame]


@dataclass(frozen=True)
class Recorded:
    """What the server sends back for one request."""

    status: int
    content_type: str
    headers: dict[str, str]
    body: bytes = b""
    events: list[bytes] | None = None


def _endpoint_of(meta: dict[str, Any], body: bytes, streamed: bool) -> str | None:
    named = meta.get("endpoint")
    if named in (CHAT, IMAGES):
        return str(named)
    kwargs = meta.get("kwargs") or {}
    if kwargs.get("endpoint") == "images":
        return IMAGES
    if kwargs.get("endpoint") == "chat":
        return CHAT
    if streamed:
        if b'"image_generation.' in body or re.search(rb'"type":\s*"error"', body):
            return IMAGES
        return CHAT if b'"chat.completion.chunk"' in body else None
    try:
        answer = json.loads(body)
    except ValueError:
        return None
    if isinstance(answer, dict) and "choices" in answer:
        return CHAT
    if isinstance(answer, dict) and "data" in answer:
        return IMAGES
    return None


def read_fixture(meta_path: Path) -> Fixture:
    """The fixture whose meta file is ``meta_path``; ValueError naming what is missing."""
    name = meta_path.name.removesuffix(".meta.json")
    meta = json.loads(meta_path.read_text())
    found = [meta_path.with_name(f"{name}.response.{kind}") for kind in ("json", "sse")]
    bodies = [path for path in found if path.exists()]
    if len(bodies) != 1:
        msg = f"recording {name!r} needs one {name}.response.json or {name}.response.sse"
        raise ValueError(msg)
    body = bodies[0].read_bytes()
    streamed = bodies[0].suffix == ".sse"
    headers = {
        str(key).lower(): str(value)
        for key, value in (meta.get("headers") or {}).items()
        if str(key).lower() not in _FRAMING
    }
    headers.setdefault("content-type", "text/event-stream" if streamed else "application/json")
    return Fixture(
        name, int(meta["status"]), _endpoint_of(meta, body, streamed), streamed, headers, body
    )


@dataclass
class Recordings:
    """A folder of recordings, answering requests in name order (see ``FakeOpenRouter.replay``)."""

    folder: Path
    fixtures: list[Fixture]
    _used: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def load(cls, folder: Path) -> Recordings:
        metas = sorted(folder.glob("*.meta.json"))
        if not metas:
            msg = f"{folder} holds no recordings (NAME.meta.json beside NAME.response.json|sse)"
            raise ValueError(msg)
        return cls(folder, [read_fixture(path) for path in metas])

    def _pick(self, endpoint: str, stream: bool) -> Fixture | None:
        matching = [fixture for fixture in self.fixtures if fixture.answers(endpoint, stream)]
        if not matching:
            return None
        with self._lock:
            fresh = [fixture for fixture in matching if fixture.name not in self._used]
            if not fresh:  # every one has answered: start over
                self._used -= {fixture.name for fixture in matching}
                fresh = matching
            chosen = fresh[0]
            self._used.add(chosen.name)
        return chosen

    def reply(self, path: str, body: Any) -> Recorded:
        """The recorded answer to a POST of ``body`` to ``path`` (``/chat/completions`` or
        ``/images``), or a 400 saying no recording answers it."""
        endpoint = path.strip("/")
        stream = isinstance(body, dict) and body.get("stream") is True
        fixture = self._pick(endpoint, stream)
        if fixture is None:
            kind = "streamed " if stream else ""
            message = f"No recording in {self.folder.name} answers a {kind}{endpoint} request"
            error = {"error": {"code": 400, "message": message}, "user_id": "user_replay"}
            return Recorded(400, "application/json", {}, json.dumps(error).encode())
        content_type = fixture.headers["content-type"]
        others = {key: value for key, value in fixture.headers.items() if key != "content-type"}
        return Recorded(fixture.status, content_type, others, fixture.body, fixture.frames())
