"""``nanobanana mcp``'s own choices, before any host connects: where images are kept, and the
flags it refuses. The server, with a real MCP client: tests/integration/test_mcp_server.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from langchain_nanobanana.cli import main
from langchain_nanobanana.cli._mcp import _store
from langchain_nanobanana.object_store import ObjectImageStore
from langchain_nanobanana.stores import DirectoryByteStore, ImageStore
from tests.support.pictures import picture


def test_a_folder_or_a_bucket_url_keeps_the_images(tmp_path: Path) -> None:
    folder = _store(str(tmp_path / "kept"))
    assert isinstance(folder, DirectoryByteStore)
    bucket_folder = tmp_path / "bucket"
    bucket_folder.mkdir()
    bucket = _store(bucket_folder.as_uri() + "/")
    assert isinstance(bucket, ObjectImageStore)
    for store in (folder, bucket):
        images = ImageStore(store, scope=("user", "me"))
        handle = images.put(picture("red"))
        assert images.get(handle).data == picture("red")


@pytest.mark.parametrize(
    ("flags", "said"),
    [
        (["--store", "s3://"], "Cannot use the store s3://: "),
        (["--save-dir", "/nonexistent/folder"], "/nonexistent/folder is not a folder."),
        (["--allow-dir", "/nonexistent/photos"], "/nonexistent/photos is not a folder."),
    ],
)
def test_flags_it_refuses_before_serving(
    flags: list[str], said: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-test")
    assert main(["mcp", *flags]) == 2
    error = capsys.readouterr().err
    assert said in error
    assert error.count("\n") == 1  # one sentence, no traceback or debug dump


@pytest.mark.parametrize("flags", [["--max-images", "-1"], ["--max-cost", "nan"], ["--port", "x"]])
def test_budgets_and_ports_that_are_no_numbers_are_usage_errors(
    flags: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["mcp", *flags])
    assert exited.value.code == 2
    assert flags[0] in capsys.readouterr().err
