"""Every code block in README.md runs, against the emulator over loopback HTTP."""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest

from langchain_nanobanana.cli import main
from langchain_nanobanana.testing import FakeOpenRouter

README = Path(__file__).resolve().parents[1] / "README.md"
_BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def _blocks(language: str) -> list[str]:
    return [code for lang, code in _BLOCK.findall(README.read_text()) if lang == language]


@pytest.fixture
def emulated_service(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """As a user runs README: a key in the environment, OpenRouter (emulated) at the base URL."""
    monkeypatch.chdir(tmp_path)
    with FakeOpenRouter().serve() as base_url:
        monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-readme-key")
        monkeypatch.setenv("OPENROUTER_BASE_URL", base_url)
        yield


def test_readme_has_the_blocks_we_expect() -> None:
    assert len(_blocks("python")) >= 7
    assert len(_blocks("bash")) >= 3


@pytest.mark.usefixtures("emulated_service")
def test_python_blocks_run_in_order_and_print_what_they_promise() -> None:
    namespace: dict[str, object] = {"__name__": "readme"}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        for code in _blocks("python"):
            exec(compile(code, str(README), "exec"), namespace)
    out = printed.getvalue()
    assert "image/png (1344, 768)" in out
    assert "{'reasoning': 0, 'image': 1290}" in out
    assert "aspect_ratio='8:1' is not supported" in out
    assert "Created image img_" in out
    assert "(832, 1248)" in out
    assert "2 ['image', 'text']" in out
    assert Path("dish.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.usefixtures("emulated_service")
def test_command_examples_run() -> None:
    commands = [
        line
        for code in _blocks("bash")
        for line in code.splitlines()
        if line.startswith("nanobanana ")
    ]
    assert len(commands) >= 3
    for command in commands:
        assert main(shlex.split(command)[1:]) == 0, command
    assert Path("banana.png").exists()
    assert Path("blue.png").exists()
