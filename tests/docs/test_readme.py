"""README.md is true: every Python block runs, offline by the switch README documents, in order
(they build on each other) in each place a user pastes them: a file, the interactive
interpreter (a compound statement ends at a blank line) and a notebook kernel (an event
loop already runs; top-level ``await``); and every command runs as a shell runs it."""

from __future__ import annotations

import code
import contextlib
import io
import os
import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

from tests.support import REPOSITORY
from tests.support.kernel import execute
from tests.support.program import served_emulator

README = REPOSITORY / "README.md"
_BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.MULTILINE | re.DOTALL)
# A block written for one place says so on its first line; every other block runs in all three.
_NOTEBOOK_ONLY = "# In a notebook"
_NOT_IN_A_NOTEBOOK = "# In a file or the interactive interpreter"


def _blocks(language: str) -> list[str]:
    return [code for lang, code in _BLOCK.findall(README.read_text()) if lang == language]


def _python_blocks(place: str) -> list[str]:
    """The Python blocks a user runs, in order, in ``place``: file, interpreter or notebook."""
    blocks = _blocks("python")
    if place == "notebook":
        return [block for block in blocks if not block.startswith(_NOT_IN_A_NOTEBOOK)]
    return [block for block in blocks if not block.startswith(_NOTEBOOK_ONLY)]


# What the blocks promise to print, checked in every place they run.
_PROMISED = [
    "image/png (1344, 768)",
    "{'reasoning': 0, 'image': 1290}",
    "aspect_ratio='8:1' is not supported",
    "Created image img_",
    "(832, 1248)",
    "2 ['image', 'text']",
    "IMAGE_SAFETY - The provider's safety filter blocked the picture (IMAGE_SAFETY).",
    "Model refused to produce the requested output: The provider's safety filter",
    "max_price['completion']=-1 must be a price in US dollars",
]


def _offline_switch() -> list[str]:
    """The one command README tells users to run to make every example offline."""
    lines = [line for code in _blocks("shell") for line in code.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    command = shlex.split(lines[0], comments=True)
    assert command == ["nanobanana", "serve"]
    return command[1:]


@pytest.fixture
def offline_by_the_documented_switch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, str]]:
    """What a user does: start ``nanobanana serve``, run the export lines it printed."""
    monkeypatch.chdir(tmp_path)
    for name in ("OPENROUTER_API_KEY", "OPENROUTER_BASE_URL", "OPENROUTER_API_BASE"):
        monkeypatch.delenv(name, raising=False)
    with served_emulator(_offline_switch()) as variables:
        assert sorted(variables) == ["OPENROUTER_API_KEY", "OPENROUTER_BASE_URL"]
        for name, value in variables.items():
            monkeypatch.setenv(name, value)
        yield variables


def test_readme_has_the_blocks_we_expect() -> None:
    assert len(_blocks("python")) >= 7
    assert len(_blocks("bash")) >= 4


def test_each_place_has_its_own_async_block() -> None:
    notebook_only = [b for b in _blocks("python") if b.startswith(_NOTEBOOK_ONLY)]
    elsewhere = [b for b in _blocks("python") if b.startswith(_NOT_IN_A_NOTEBOOK)]
    assert len(notebook_only) == len(elsewhere) == 1
    assert "await " in notebook_only[0]
    assert "asyncio.run(" in elsewhere[0]
    assert not any("asyncio.run(" in block for block in _python_blocks("notebook"))


def test_python_blocks_run_as_one_file_and_print_what_they_promise(
    offline_by_the_documented_switch: dict[str, str],
) -> None:
    namespace: dict[str, object] = {"__name__": "readme"}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile("\n".join(_python_blocks("file")), str(README), "exec"), namespace)
    out = printed.getvalue()
    for promise in _PROMISED:
        assert promise in out
    assert "3\n" in out, "the async example"
    assert Path("dish.png").read_bytes()[:4] == b"\x89PNG"


class _Interpreter(code.InteractiveConsole):
    """``python`` with nothing after it: statements run as typed, line by line, and what
    it would print as an error is kept."""

    def __init__(self) -> None:
        super().__init__(locals={"__name__": "__main__"})
        self.errors: list[str] = []

    def write(self, data: str) -> None:
        self.errors.append(data)

    def paste(self, block: str) -> None:
        for line in block.splitlines():
            self.push(line)
        self.push("")  # the Enter a user presses after pasting


def test_python_blocks_paste_into_the_interactive_interpreter(
    offline_by_the_documented_switch: dict[str, str],
) -> None:
    interpreter = _Interpreter()
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        for number, block in enumerate(_python_blocks("interpreter")):
            interpreter.paste(block)
            assert not interpreter.errors, (
                f"block {number}:\n{block}\n{''.join(interpreter.errors)}"
            )
    out = printed.getvalue()
    for promise in _PROMISED:
        assert promise in out
    assert "base64" not in out, "no expression statement echoes a message, image and all"


def _notebook_variables() -> dict[str, str]:
    """README's ``%env`` lines for a notebook, as name and example value."""
    (block,) = _blocks("ipython")
    lines = [line for line in block.splitlines() if line.strip()]
    assert all(line.startswith("%env ") for line in lines), lines
    return dict(line.removeprefix("%env ").split("=", 1) for line in lines)


@pytest.mark.slow
def test_python_blocks_run_in_a_notebook_kernel(
    offline_by_the_documented_switch: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """As README says for a notebook: the ``%env`` lines with what ``serve`` printed, then
    each block as a cell, in order, in a real kernel (whose event loop already runs)."""
    shown = _notebook_variables()
    assert sorted(shown) == sorted(offline_by_the_documented_switch)
    setting = "\n".join(f"%env {name}={offline_by_the_documented_switch[name]}" for name in shown)
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(setting)] + [
        nbformat.v4.new_code_cell(block) for block in _python_blocks("notebook")
    ]
    # The kernel gets the variables from the %env cell alone, as README tells a notebook user.
    for name in offline_by_the_documented_switch:
        monkeypatch.delenv(name)
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [str(REPOSITORY), os.environ.get("PYTHONPATH")]))
    )
    outputs = execute(notebook, tmp_path)
    assert not [output for output in outputs if output.output_type == "error"]
    out = "".join(output.get("text", "") for output in outputs if output.output_type == "stream")
    for promise in _PROMISED:
        assert promise in out
    assert "3\n" in out, "the awaited example"
