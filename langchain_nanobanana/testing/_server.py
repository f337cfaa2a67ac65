"""The emulator as a real HTTP/1.1 server on 127.0.0.1, for anything that speaks HTTP."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from langchain_nanobanana.testing._app import EmulatedOpenRouter, Reply

_CLIENT_GONE = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so clients can pool connections
    # Headers and body go out in separate writes; with Nagle's algorithm the body then
    # waits for the client's delayed ACK, adding ~40 ms to every answer.
    disable_nagle_algorithm = True
    server: _Server

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        reply = self.server.app.handle(
            self.command, self.path, dict(self.headers), raw, self.client_address[1]
        )
        try:
            if reply.delay:
                time.sleep(reply.delay)
            self._send(reply)
        except _CLIENT_GONE:
            self.close_connection = True
        finally:
            if reply.finished is not None:
                reply.finished()

    def _send(self, reply: Reply) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if reply.events is None:
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            if reply.drop_after is None:
                self.wfile.write(reply.body)
                return
            self.wfile.write(reply.body[: reply.drop_after])
            self._cut()
            return
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        for number, event in enumerate(reply.events):
            if number == reply.drop_after:
                self._cut()
                return
            self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
            self.wfile.flush()
        if reply.drop_after is not None:
            self._cut()
            return
        self.wfile.write(b"0\r\n\r\n")

    def _cut(self) -> None:
        """Close abruptly, mid-body, as a dying upstream does."""
        self.wfile.flush()
        self.connection.shutdown(socket.SHUT_RDWR)
        self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:
        """Silent: request lines are not worth the noise, and headers are never logged."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, app: EmulatedOpenRouter, port: int) -> None:
        self.app = app
        super().__init__(("127.0.0.1", port), _Handler)

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that hangs up mid-answer is normal here, not an error to print."""


@contextmanager
def serve(app: EmulatedOpenRouter, port: int = 0) -> Iterator[str]:
    server = _Server(app, port)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/api/v1"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
