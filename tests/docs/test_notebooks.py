"""The notebooks run top to bottom against the emulator, offline both ways README gives (no
key at all, or ``nanobanana serve``'s two exports), and show their images inline; the
``[notebooks]`` extra installs what they import."""

from __future__ import annotations

import ast
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import metadata, packages_distributions
from pathlib import Path

import nbformat
import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.support import REPOSITORY
from tests.support.kernel import execute
from tests.support.program import served_emulator

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


@contextmanager
def _offline(how: str) -> Iterator[dict[str, str]]:
    """The variables a notebook starts with: none, or what ``nanobanana serve`` printed."""
    if how == "no key":
        yield {}
        return
    with served_emulator() as variables:
        yield variables


@pytest.mark.slow
@pytest.mark.parametrize("how", ["no key", "serve's exports"])
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_runs_offline_and_renders_images(
    path: Path, how: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("OPENROUTER_API_KEY", "OPENROUTER_BASE_URL", "OPENROUTER_API_BASE"):
        monkeypatch.delenv(name, raising=False)
    # The kernel starts in tmp_path: let it import this checkout even when not installed.
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [str(REPOSITORY), os.environ.get("PYTHONPATH")]))
    )
    # langchain-openai is for a real key only: a notebook that reaches for it offline fails here.
    blocker = tmp_path / "blocked" / "langchain_openai"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('offline needs no langchain_openai')\n")
    monkeypatch.setenv("PYTHONPATH", f"{blocker.parent}{os.pathsep}{os.environ['PYTHONPATH']}")
    notebook = nbformat.read(path, as_version=4)
    with _offline(how) as variables:
        for name, value in variables.items():
            monkeypatch.setenv(name, value)
        outputs = execute(notebook, tmp_path)
    # With the exports, success means the notebook followed OPENROUTER_BASE_URL: the test
    # machine has no other way out.

    assert not [output for output in outputs if output.output_type == "error"]
    assert any("image/png" in output.get("data", {}) for output in outputs), (
        "no image rendered inline"
    )


def _imported_modules(path: Path) -> set[str]:
    notebook = nbformat.read(path, as_version=4)
    modules = set()
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        source = "\n".join(line for line in cell.source.splitlines() if not line.startswith("%"))
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Import):
                modules.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                modules.add(node.module.split(".")[0])
    return modules - set(sys.stdlib_module_names) - {"langchain_nanobanana"}


def _installed_by(extra: str) -> set[str]:
    """The distributions ``pip install "langchain-nanobanana[extra]"`` asks for by name."""
    provided = set()
    for line in metadata("langchain-nanobanana").get_all("Requires-Dist") or []:
        requirement = Requirement(line)
        if requirement.marker is None or requirement.marker.evaluate({"extra": extra}):
            provided.add(canonicalize_name(requirement.name))
    return provided


def test_the_notebooks_extra_installs_what_they_import() -> None:
    provided = _installed_by("notebooks")
    assert "jupyterlab" in provided, "something to open them in"
    distributions = packages_distributions()
    imported = set().union(*(_imported_modules(path) for path in NOTEBOOKS))
    assert "langchain_openai" in imported, "the agent notebook's real agent model"
    for module in sorted(imported):
        names = {canonicalize_name(name) for name in distributions.get(module, [module])}
        assert names & provided, f"{module} ({names}) is not in the [notebooks] extra"
