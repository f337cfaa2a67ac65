"""A hostile HTTP server for tests: raw bytes on a 127.0.0.1 socket, as a script plays them.

Unlike the emulator, nothing here follows HTTP's rules unless the script does: it
can trickle a byte at a time, send keep-alives forever, lie about lengths, or
send a gzip bomb. Every loop is bounded: a script stops when the test ends (the
server is stopping), when the client hangs up, or after ``MAX_STEPS`` sends.

    with HostileServer(trickle(every=0.3)) as server:
        ChatNanoBanana(base_url=server.url, ...).invoke("x")
"""

from __future__ import annotations

import base64
import gzip
import json
import socket
import threading
from collections.abc import Callable, Iterable
from typing import Any

from langchain_nanobanana.testing._oracle import SchemaOracle
from langchain_nanobanana.testing._png import encode_png

_ORACLE = SchemaOracle()
MAX_STEPS = 2_000
"""The most sends an endless script makes: with its pauses, far past any deadline here."""
PNG = encode_png(2, 2, b"\0" + b"\xff\x00\x00" * 2 + b"\0" + b"\x00\xff\x00" * 2)


class Connection:
    """One accepted client connection, for a script to write to."""

    def __init__(self, sock: socket.socket, stopping: threading.Event, keep_alive: bool) -> None:
        self._sock = sock
        self._stopping = stopping
        self._keep_alive = keep_alive
        self.request_body = b""
        self.request_head = b""
        """The request line and headers, e.g. ``GET /api/v1/models HTTP/1.1...``."""

    def send(self, data: bytes) -> bool:
        """Write ``data``; False once the client has gone or the test is over."""
        if self._stopping.is_set():
            return False
        try:
            self._sock.sendall(data)
        except OSError:
            return False
        return True

    def pause(self, seconds: float) -> bool:
        """Wait; False when the test ended meanwhile."""
        return not self._stopping.wait(seconds)

    def head(self, status: int, headers: Iterable[tuple[str, str]] = ()) -> bool:
        lines = [f"HTTP/1.1 {status} Whatever".encode()]
        lines += [f"{name}: {value}".encode("latin-1") for name, value in headers]
        if not self._keep_alive:
            lines.append(b"Connection: close")
        return self.send(b"\r\n".join([*lines, b"", b""]))


Play = Callable[[Connection], None]


class HostileServer:
    """Accepts connections on 127.0.0.1 and plays ``script`` to each request.

    Each connection serves one request and is closed, unless ``keep_alive``: then
    it serves requests until the client closes it (scripts must send whole,
    length-delimited answers for that).
    """

    def __init__(self, script: Play, *, keep_alive: bool = False) -> None:
        self.script = script
        self.keep_alive = keep_alive
        self.requests: list[bytes] = []
        """Each request's head and body, as received."""
        self._stopping = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self._threads: list[threading.Thread] = []
        self._accepting = threading.Thread(target=self._accept, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}/api/v1"

    def __enter__(self) -> HostileServer:
        self._accepting.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stopping.set()
        self._accepting.join(timeout=5)
        for thread in self._threads:
            thread.join(timeout=5)
        self._listener.close()

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                sock, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(sock,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, sock: socket.socket) -> None:
        with sock:
            for _ in range(MAX_STEPS):
                try:
                    request = _read_request(sock, self._stopping)
                except OSError:
                    return
                if request is None:
                    return
                self.requests.append(request)
                _hold_to_the_official_schema(request)
                sock.settimeout(60)  # a slow reader is the client's business, not a send failure
                connection = Connection(sock, self._stopping, self.keep_alive)
                connection.request_head, _, connection.request_body = request.partition(b"\r\n\r\n")
                self.script(connection)
                if not self.keep_alive:
                    return

    @property
    def open_connections(self) -> int:
        """Client connections the server still holds open."""
        return sum(thread.is_alive() for thread in self._threads)


def _hold_to_the_official_schema(request: bytes) -> None:
    """What the package sends here is checked like what it sends the emulator: a body the
    official SDK's models refuse becomes a schema violation, which fails the test."""
    head, _, body = request.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    path = lines[0].split(" ")[1].split("?")[0].removeprefix("/api/v1")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:] if ": " in line)
    try:
        parsed = json.loads(body)
    except ValueError:
        return  # not a whole JSON body (framed otherwise): the emulator's checks cover it
    _ORACLE.request_refusal(path, headers, parsed)


def _read_request(sock: socket.socket, stopping: threading.Event) -> bytes | None:
    """The next request on ``sock``; None once the client closed it or the test ended."""
    sock.settimeout(0.2)
    data = b""
    while b"\r\n\r\n" not in data:
        if stopping.is_set():
            return None
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            continue
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    sock.settimeout(5)
    while len(body) < length:
        chunk = sock.recv(1024 * 1024)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


# ---------------------------------------------------------------- scripts


def answer(body: bytes, status: int = 200, headers: Iterable[tuple[str, str]] = ()) -> Play:
    """One whole answer, with a right Content-Length unless ``headers`` says otherwise."""
    given = list(headers)
    if not any(name.lower() in ("content-length", "transfer-encoding") for name, _ in given):
        given.append(("Content-Length", str(len(body))))
    if not any(name.lower() == "content-type" for name, _ in given):
        given.append(("Content-Type", "application/json"))

    def play(connection: Connection) -> None:
        if connection.head(status, given):
            connection.send(body)

    return play


def events(payloads: Iterable[bytes], content_type: str = "text/event-stream") -> Play:
    """An SSE answer: each payload as one ``data:`` event, then the connection closes."""
    body = b"".join(b"data: " + payload + b"\n\n" for payload in payloads)
    return answer(body, headers=[("Content-Type", content_type)])


def trickle(every: float, content_type: str = "application/json") -> Play:
    """A 200 that promises a megabyte and sends one space every ``every`` seconds."""

    def play(connection: Connection) -> None:
        head = [("Content-Type", content_type), ("Content-Length", "1000000")]
        if not connection.head(200, head):
            return
        for _ in range(MAX_STEPS):
            if not (connection.pause(every) and connection.send(b" ")):
                return

    return play


def keep_alives(every: float) -> Play:
    """An event stream of nothing but ``: OPENROUTER PROCESSING`` comments."""

    def play(connection: Connection) -> None:
        if not connection.head(200, [("Content-Type", "text/event-stream")]):
            return
        for _ in range(MAX_STEPS):
            if not (connection.pause(every) and connection.send(b": OPENROUTER PROCESSING\n\n")):
                return

    return play


def endless(piece: bytes, content_type: str = "application/json") -> Play:
    """A 200 with no length that sends ``piece`` until the client stops reading."""

    def play(connection: Connection) -> None:
        if not connection.head(200, [("Content-Type", content_type)]):
            return
        for _ in range(MAX_STEPS * 50):
            if not connection.send(piece):
                return

    return play


def gzip_bomb(decompressed_bytes: int) -> Play:
    """A small gzip body that inflates to ``decompressed_bytes`` of spaces."""
    body = gzip.compress(b" " * decompressed_bytes, compresslevel=9)
    return answer(body, headers=[("Content-Encoding", "gzip")])


def lists_then(lists: Play, then: Play | None = None) -> Play:
    """``lists`` for the GETs of discovery (the model lists), ``then`` (an ordinary
    one-image answer by default) for the call itself."""

    def play(connection: Connection) -> None:
        if connection.request_head.startswith(b"GET "):
            lists(connection)
        else:
            (then or answer(json.dumps(completion()).encode()))(connection)

    return play


# ---------------------------------------------------------------- bodies


def completion(
    images: Iterable[tuple[str, str]] = (("image/png", base64.b64encode(PNG).decode()),),
    text: str = "Here it is.",
    **envelope: Any,
) -> dict[str, Any]:
    """A chat/completions answer with ``text`` and one image per (label, base64)."""
    message: dict[str, Any] = {
        "role": "assistant",
        "content": text,
        "images": [
            {"type": "image_url", "image_url": {"url": f"data:{label};base64,{data}"}}
            for label, data in images
        ],
    }
    return {
        "id": "gen-hostile-1",
        "model": "google/gemini-2.5-flash-image",
        "choices": [{"index": 0, "finish_reason": "stop", "message": message}],
        **envelope,
    }


def as_chunks(whole: dict[str, Any]) -> list[bytes]:
    """The same answer as a stream: one chunk with the delta, then ``[DONE]``."""
    chunk = json.loads(json.dumps(whole))
    for choice in chunk["choices"]:
        choice["delta"] = choice.pop("message")
    return [json.dumps(chunk).encode(), b"[DONE]"]


def held(whole: dict[str, Any], seconds: float, every: float = 0.05) -> Play:
    """``whole`` as a JSON answer that takes ``seconds``: leading spaces (valid JSON
    whitespace) trickle in first, so no read waits long, but the connection is busy."""
    body = json.dumps(whole).encode()
    spaces = int(seconds / every)

    def play(connection: Connection) -> None:
        head = [("Content-Type", "application/json"), ("Content-Length", str(spaces + len(body)))]
        if not connection.head(200, head):
            return
        for _ in range(spaces):
            if not (connection.send(b" ") and connection.pause(every)):
                return
        connection.send(body)

    return play


def whole_or_streamed(whole: dict[str, Any], content_type: str = "text/event-stream") -> Play:
    """``whole`` as a JSON answer, or as an event stream when the request asked to stream."""
    plain = answer(json.dumps(whole).encode())
    streamed = events(as_chunks(whole), content_type)

    def play(connection: Connection) -> None:
        asked_to_stream = b'"stream":true' in connection.request_body
        (streamed if asked_to_stream else plain)(connection)

    return play
