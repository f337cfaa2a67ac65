"""Notebooks run as Jupyter runs them: in a real kernel, cell by cell."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbclient import NotebookClient

TIMEOUT = 120


def execute(notebook: nbformat.NotebookNode, folder: Path) -> list[nbformat.NotebookNode]:
    """Run every cell of ``notebook`` in a fresh kernel started in ``folder``, with this
    process's environment; the outputs of its code cells, in order."""
    NotebookClient(
        notebook,
        timeout=TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(folder)}},
    ).execute()
    return [
        output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs
    ]
