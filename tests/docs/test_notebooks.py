"""The notebooks run top to bottom against the emulator, and show their images inline."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tests.support import REPOSITORY

# The integration page in LangChain's docs style runs like the notebooks.
NOTEBOOKS = [
    *sorted((REPOSITORY / "notebooks").glob("*.ipynb")),
    REPOSITORY / "docs" / "chat_nanobanana.ipynb",
]


def test_there_are_the_notebooks_we_expect() -> None:
    assert [path.relative_to(REPOSITORY).as_posix() for path in NOTEBOOKS] == [
        "notebooks/agent_workflow.ipynb",
        "notebooks/lcel_chain.ipynb",
        "notebooks/quickstart.ipynb",
        "docs/chat_nanobanana.ipynb",
    ]


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_runs_offline_and_renders_images(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENROUTER_API_KEY", raising=False)
    # The kernel starts in tmp_path: let it import this checkout even when not installed.
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [str(REPOSITORY), os.environ.get("PYTHONPATH")]))
    )
    notebook = nbformat.read(path, as_version=4)

    NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    ).execute()

    outputs = [
        output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs
    ]
    assert not [output for output in outputs if output.output_type == "error"]
    assert any("image/png" in output.get("data", {}) for output in outputs), (
        "no image rendered inline"
    )
