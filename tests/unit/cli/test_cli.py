"""The nanobanana command: exit codes, files written, messages."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from langchain_nanobanana.cli import main
from langchain_nanobanana.cli._model_list import endpoints_url, models_table
from langchain_nanobanana.cli._progress_line import Progress
from langchain_nanobanana.testing import FakeOpenRouter, Outcome, describe_image
from tests.support import REPOSITORY


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OPENROUTER_API_KEY", raising=False)
    monkeypatch.delenv("OPENROUTER_BASE_URL", raising=False)


def test_offline_writes_a_png_to_the_named_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["--offline", "a nano banana dish", "-o", "banana.png", "--aspect-ratio", "16:9"]) == 0
    )

    picture = Image.open("banana.png")
    assert (picture.format, picture.size) == ("PNG", (1344, 768))
    out = capsys.readouterr().out
    assert out.startswith("Saved banana.png (1344x768,")
    assert "$0.03" in out


def test_default_name_comes_from_the_prompt_and_never_overwrites() -> None:
    assert main(["--offline", "A nano banana dish!"]) == 0
    assert main(["--offline", "A nano banana dish!"]) == 0
    assert sorted(p.name for p in Path().glob("*.png")) == [
        "a-nano-banana-dish-1.png",
        "a-nano-banana-dish.png",
    ]


def test_existing_output_needs_force(capsys: pytest.CaptureFixture[str]) -> None:
    Path("taken.png").write_bytes(b"keep me")

    assert main(["--offline", "x", "-o", "taken.png"]) == 2
    assert Path("taken.png").read_bytes() == b"keep me"
    assert "taken.png exists; pass --force" in capsys.readouterr().err

    assert main(["--offline", "x", "-o", "taken.png", "--force"]) == 0
    assert Path("taken.png").read_bytes()[:4] == b"\x89PNG"


def test_output_folder_gets_a_named_file(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    assert main(["--offline", "sunset", "-o", "out"]) == 0
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["sunset.png"]


def test_input_images_are_edited(capsys: pytest.CaptureFixture[str]) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (200, 200), "red").save(buffer, format="JPEG")
    Path("photo.jpg").write_bytes(buffer.getvalue())

    assert main(["--offline", "make it blue", "-i", "photo.jpg", "-o", "blue.png", "--json"]) == 0

    result = json.loads(capsys.readouterr().out)
    assert result["path"] == "blue.png"
    assert (result["width"], result["height"]) == (1024, 1024)
    assert result["output_tokens"] >= 1290
    assert result["cost_usd"] > 0
    sources = describe_image(Path("blue.png").read_bytes())["sources"]
    assert sources == hashlib.sha256(buffer.getvalue()).hexdigest()


def test_without_a_key_it_says_what_to_do(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["a banana"]) == 2
    err = capsys.readouterr().err
    assert "OPENROUTER_API_KEY" in err
    assert "--offline" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--offline", "x", "-i", "missing.png"], "Cannot read input image missing.png"),
        (["--offline", "x", "--image-size", "4K"], "image_size='4K' is not supported"),
    ],
)
def test_bad_input_is_one_sentence_and_exit_2(
    capsys: pytest.CaptureFixture[str], arguments: list[str], message: str
) -> None:
    assert main(arguments) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1


def test_not_an_image_input_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    Path("notes.txt").write_text("hello")
    assert main(["--offline", "x", "-i", "notes.txt"]) == 2
    assert "not a PNG, JPEG, WebP or GIF" in capsys.readouterr().err


def test_service_errors_exit_1_and_no_image_exits_3(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = FakeOpenRouter()
    fake.enqueue(Outcome.http_error(403, metadata={"reasons": ["violence"]}), Outcome.no_image())
    with fake.serve() as base_url:
        monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-cli-test")
        monkeypatch.setenv("OPENROUTER_BASE_URL", base_url)
        assert main(["a banana"]) == 1
        assert "violence" in capsys.readouterr().err
        assert main(["a banana"]) == 3
        assert "IMAGE_SAFETY" in capsys.readouterr().err
    assert list(Path().glob("*.png")) == []


def test_runs_as_a_program(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "langchain_nanobanana.cli", "--offline", "a dish", "-o", "dish.png"],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        env={"PATH": "", "PYTHONPATH": str(REPOSITORY)},
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "dish.png").read_bytes()[:4] == b"\x89PNG"


def test_models_lists_image_models_with_prices(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "--offline"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == [
        "model",
        "outputs",
        "input",
        "/M",
        "output",
        "/M",
        "image",
        "output",
        "/M",
    ]
    flash = next(line for line in lines if line.startswith("google/gemini-2.5-flash-image "))
    assert flash.split() == [
        "google/gemini-2.5-flash-image",
        "image+text",
        "$0.30",
        "$2.50",
        "$30.00",
    ]
    # The Image API's own list, priced per image from each model's endpoints.
    gpt_image = next(line for line in lines if line.startswith("openai/gpt-image-1 "))
    assert gpt_image.split() == [
        "openai/gpt-image-1",
        "image",
        "yes",
        "10",
        "$0.0422/image",
        "(1K)",
    ]


def test_models_table_prices_image_output_not_the_input_image_price() -> None:
    listed = [
        {
            "id": "lab/painter",
            "architecture": {"output_modalities": ["image"]},
            "pricing": {
                "prompt": "0",
                "completion": "0",
                "image": "0.001",
                "image_output": "0.00004",
            },
        }
    ]
    assert models_table(listed).splitlines()[1].split() == [
        "lab/painter", "image", "$0.00", "$0.00", "$40.00"
    ]  # fmt: skip


def test_models_over_http_as_json(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = FakeOpenRouter()
    with fake.serve() as base_url:
        monkeypatch.setenv("OPENROUTER_BASE_URL", base_url)
        assert main(["models", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert {m["id"] for m in listed["chat"]} >= {
        "google/gemini-2.5-flash-image",
        "black-forest-labs/flux.2-pro",
    }
    assert "openai/gpt-image-1" not in {m["id"] for m in listed["chat"]}
    gpt_image = next(m for m in listed["images"] if m["id"] == "openai/gpt-image-1")
    assert gpt_image["pricing_lines"][0]["billable"] == "output_image"
    assert fake.requests[0].query == {"output_modalities": "image"}
    assert all(r.bearer_token is None for r in fake.requests), "no key is needed or sent"


def test_models_when_unreachable_is_one_sentence(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OPENROUTER_BASE_URL", "http://127.0.0.1:9/api/v1")
    assert main(["models"]) == 1
    assert capsys.readouterr().err.startswith("nanobanana: could not list models:")


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_ticks_on_a_terminal_and_erases_itself() -> None:
    terminal = _Terminal()
    with Progress(terminal, "Generating", interval=0.01):
        time.sleep(0.05)
    written = terminal.getvalue()
    assert written.startswith("\r\033[KGenerating... 0s")
    assert written.endswith("\r\033[K")


def test_progress_is_silent_when_piped() -> None:
    piped = io.StringIO()
    with Progress(piped, "Generating", interval=0.01):
        time.sleep(0.03)
    assert piped.getvalue() == ""


def test_model_ids_are_printed_without_control_sequences(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from langchain_nanobanana.cli import _model_list

    hostile = [{"id": "lab/\x1b[2Jpainter\x1b]0;owned\x07", "pricing": {"image_output": "0.00004"}}]
    monkeypatch.setattr(_model_list, "fetch_image_models", lambda base, client=None: hostile)
    hostile_image_api = [{"id": "lab/\x1b[31mvector", "pricing_lines": []}]
    monkeypatch.setattr(
        _model_list, "fetch_image_api_models", lambda base, client=None: hostile_image_api
    )
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "lab/painter" in out
    assert "lab/vector" in out
    assert "\x1b" not in out
    assert "\x07" not in out


@pytest.mark.parametrize(
    "path",
    [
        "https://elsewhere.example/api/v1/images/models/x/endpoints",
        "http://openrouter.ai/api/v1/images/models/x/endpoints",
        "/api/v1/../../x",
        "/api/v1/images/../../../credits",
        "https://user@openrouter.ai/api/v1/x",
    ],
)
def test_models_follows_no_endpoints_link_away_from_the_base_url(path: str) -> None:
    assert endpoints_url("https://openrouter.ai/api/v1", path) is None


def test_models_follows_endpoints_links_below_the_base_url() -> None:
    base = "http://127.0.0.1:8790/api/v1"
    for path in ("/api/v1/images/models/a/b/endpoints", "images/models/a/b/endpoints"):
        assert str(endpoints_url(base, path)) == f"{base}/images/models/a/b/endpoints"
    # Text that only looks like a host stays a path on the base URL's host.
    assert endpoints_url(base, "//elsewhere.example/x").host == "127.0.0.1"  # type: ignore[union-attr]
    assert endpoints_url(base, "@elsewhere.example/x").host == "127.0.0.1"  # type: ignore[union-attr]
