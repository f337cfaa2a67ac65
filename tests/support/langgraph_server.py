"""A real ``langgraph dev`` server (langgraph-cli, in-memory runtime) for an app folder.

The server is its own process group, started in the app's folder (where the
in-memory runtime keeps its ``.langgraph_api`` files), and stopped whole; its log
is kept in a file beside the app for a failing test to show.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support import REPOSITORY

STARTUP_SECONDS = 90
_CLI = Path(sys.executable).with_name("langgraph")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class LangGraphDev:
    """``langgraph dev`` serving ``folder`` on 127.0.0.1; ``start``, ``stop``, ``restart``."""

    def __init__(self, folder: Path, env: dict[str, str], *extra: str) -> None:
        self.folder = folder
        self.env = env
        self.extra = extra
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = folder / "langgraph-dev.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [
            str(_CLI), "dev", "--no-browser", "--no-reload",
            "--host", "127.0.0.1", "--port", str(self.port), *self.extra,
        ]  # fmt: skip
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                command,
                cwd=self.folder,
                env=_environment(self.env),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"langgraph dev exited with {self.process.returncode}:\n{self.tail()}"
                )
            try:
                if httpx.get(f"{self.url}/ok", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"langgraph dev did not answer in {STARTUP_SECONDS} s:\n{self.tail()}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGINT)  # a clean stop flushes the in-memory runtime
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def restart(self) -> None:
        self.stop()
        self.start()

    def tail(self, lines: int = 60) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def _environment(extra: dict[str, str]) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    for name in ("OPENROUTER_API_KEY", "OPENROUTER_BASE_URL", "LANGSMITH_API_KEY"):
        keep.pop(name, None)
    python_path = os.pathsep.join(filter(None, [str(REPOSITORY), keep.get("PYTHONPATH", "")]))
    return {
        **keep,
        "PYTHONPATH": python_path,
        "LANGGRAPH_CLI_NO_ANALYTICS": "1",  # no phoning home from a test
        "LANGSMITH_TRACING": "false",
        **extra,
    }
