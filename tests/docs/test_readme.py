"""README.md is true: every Python block runs, offline by the switch README documents, and every
command runs as a shell runs it."""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from langchain_nanobanana._catalog.models import KNOWN_MODELS
from tests.support import REPOSITORY
from tests.support.program import TIMEOUT, environment, served_emulator

README = REPOSITORY / "README.md"
_BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def _blocks(language: str) -> list[str]:
    return [code for lang, code in _BLOCK.findall(README.read_text()) if lang == language]


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


def test_python_blocks_run_offline_in_order_and_print_what_they_promise(
    offline_by_the_documented_switch: dict[str, str],
) -> None:
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
    assert "IMAGE_SAFETY - The provider's safety filter blocked the picture (IMAGE_SAFETY)." in out
    assert "Model refused to produce the requested output: The provider's safety filter" in out
    assert "max_price['completion']=-1 must be a price in US dollars" in out
    assert Path("dish.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
def test_command_examples_run_in_a_shell(tmp_path: Path) -> None:
    commands = [
        line
        for code in _blocks("bash")
        for line in code.splitlines()
        if line.strip() and "pip install" not in line  # the Quickstart's: CI runs those
    ]
    assert len(commands) >= 7
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    for command in commands:
        done = subprocess.run(
            ["bash", "-c", command],
            cwd=tmp_path,
            env=environment(PATH=path),
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
        assert done.returncode == 0, f"{command}\n{done.stderr}"
    for name in ("banana.png", "blue.jpg", "woodcut.png", "flux.png"):
        assert (tmp_path / name).exists(), name
    assert len(list((tmp_path / "posters").glob("*.png"))) == 3


def test_the_models_table_is_the_catalog() -> None:
    text = README.read_text()
    for spec in KNOWN_MODELS.values():
        prices = ", ".join(f"{size} ${spec.image_price(size):.4f}" for size in spec.image_sizes)
        row = (
            f"| `{spec.id}` | {'+'.join(spec.output_modalities)} | "
            f"{' '.join(spec.aspect_ratios)} | {prices} |"
        )
        assert row in text, row
