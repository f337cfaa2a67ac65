"""The nanobanana command as users run it: the installed entry point, in a subprocess.

Where the behaviour depends on the service, the emulator serves on 127.0.0.1 and the
command finds it through OPENROUTER_BASE_URL, as it would find a proxy.
"""

from __future__ import annotations

import io
import json
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from importlib.metadata import version
from pathlib import Path

import httpx
import pytest
from PIL import Image

from langchain_nanobanana.testing import FAKE_API_KEY, FakeOpenRouter, Outcome, describe_image
from tests.support.program import COMMAND, TIMEOUT, environment, run, served_emulator


@pytest.fixture
def service(fake: FakeOpenRouter) -> Iterator[dict[str, str]]:
    """The variables that point the command at the emulator over loopback."""
    with fake.serve() as base_url:
        yield {"OPENROUTER_BASE_URL": base_url, "OPENROUTER_API_KEY": "sk-or-program-test"}


def _chat_requests(fake: FakeOpenRouter) -> int:
    return sum(1 for request in fake.requests if request.path.endswith("/chat/completions"))


def _one_line(stderr: str) -> str:
    assert stderr.count("\n") == 1, stderr
    assert "Traceback" not in stderr
    return stderr


# ------------------------------------------------------------ the output path


@pytest.mark.parametrize(
    ("output", "message"),
    [
        ("no/such/dir/out.png", "Folder no/such/dir does not exist"),
        ("newdir/", "Folder newdir/ does not exist"),  # a trailing slash means a folder
    ],
)
def test_a_missing_folder_is_refused_before_any_request(
    tmp_path: Path, fake: FakeOpenRouter, service: dict[str, str], output: str, message: str
) -> None:
    done = run("a banana", "-o", output, cwd=tmp_path, **service)
    assert done.returncode == 2
    assert message in _one_line(done.stderr)
    assert list(tmp_path.iterdir()) == [], "no file named after the folder"
    assert fake.requests == [], "nothing was sent, nothing was billed"


def test_an_existing_folder_gets_a_file_named_from_the_prompt(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    done = run("--offline", "A Banana, at Night!", "-o", "out/", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["a-banana-at-night.png"]


@pytest.mark.parametrize(("name", "pillow_format"), [("out.jpg", "JPEG"), ("out.webp", "WEBP")])
def test_the_extension_decides_the_format(tmp_path: Path, name: str, pillow_format: str) -> None:
    done = run("--offline", "a banana", "-o", name, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    with Image.open(tmp_path / name) as picture:
        assert (picture.format, picture.size) == (pillow_format, (1024, 1024))


@pytest.fixture
def without_pillow(tmp_path: Path) -> str:
    """A PYTHONPATH on which ``import PIL`` fails, as in an install without the extra."""
    blocker = tmp_path / "no_pillow" / "PIL"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('Pillow is not installed')\n")
    return str(blocker.parent)


def test_without_pillow_another_format_is_refused_before_the_call(
    tmp_path: Path, without_pillow: str, fake: FakeOpenRouter, service: dict[str, str]
) -> None:
    done = run("a banana", "-o", "out.jpg", cwd=tmp_path, PYTHONPATH=without_pillow, **service)
    assert done.returncode == 2
    assert "needs Pillow" in _one_line(done.stderr)
    assert "langchain-nanobanana[pillow]" in done.stderr
    assert fake.requests == []

    done = run("a banana", "-o", "out.png", cwd=tmp_path, PYTHONPATH=without_pillow, **service)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out.png").read_bytes()[:4] == b"\x89PNG"


def test_an_unknown_extension_is_refused(tmp_path: Path) -> None:
    done = run("--offline", "a banana", "-o", "out.txt", cwd=tmp_path)
    assert done.returncode == 2
    assert "name the file .png, .jpg, .webp or .gif" in _one_line(done.stderr)


# ------------------------------------------------------------ Ctrl-C


def _wait_for(condition: object, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


@pytest.mark.parametrize("subcommand", ["generate", "batch"])
def test_ctrl_c_is_one_line_exit_130_and_leaves_nothing(
    tmp_path: Path, fake: FakeOpenRouter, service: dict[str, str], subcommand: str
) -> None:
    fake.enqueue(*[Outcome.wait(30)] * 4)
    (tmp_path / "prompts.txt").write_text("one\ntwo\n")
    arguments = ["a banana", "-o", "out.png"]
    if subcommand == "batch":
        arguments = ["batch", "prompts.txt", "-o", "made"]
        (tmp_path / "made").mkdir()
    done, _ = _interrupt_when(arguments, tmp_path, service, lambda: _chat_requests(fake) >= 1)
    assert done.returncode == 130
    assert "interrupted" in _one_line(done.stderr)
    written = sorted(p.name for p in tmp_path.rglob("*") if p.is_file())
    assert written == ["prompts.txt"], "no image, no partial file, no manifest line"


def _interrupt_when(
    arguments: list[str], cwd: Path, env: dict[str, str], ready: Callable[[], bool]
) -> tuple[subprocess.CompletedProcess[str], float]:
    """Start the command, send SIGINT once ``ready()`` holds; its output and the seconds
    it took to exit after the signal."""
    process = subprocess.Popen(
        [*COMMAND, *arguments],
        cwd=cwd,
        env=environment(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for(ready)
        process.send_signal(signal.SIGINT)
        sent = time.monotonic()
        out, err = process.communicate(timeout=TIMEOUT)
        took = time.monotonic() - sent
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    return subprocess.CompletedProcess(arguments, process.returncode, out, err), took


def _then_a_moment(condition: Callable[[], bool], seconds: float = 1.5) -> Callable[[], bool]:
    """True once ``condition`` has held for ``seconds``: the answers sent without delay
    have then reached the command (a few kilobytes over loopback)."""
    since: list[float] = []

    def ready() -> bool:
        if not since and condition():
            since.append(time.monotonic())
        return bool(since) and time.monotonic() - since[0] > seconds

    return ready


_SLOW = 60.0
"""How long the requests that must be cancelled would take: far longer than any exit."""


def test_ctrl_c_with_n_3_keeps_the_image_that_arrived_and_cancels_the_rest_at_once(
    tmp_path: Path, fake: FakeOpenRouter, service: dict[str, str]
) -> None:
    fake.enqueue(Outcome.answer(), Outcome.wait(_SLOW), Outcome.wait(_SLOW))
    done, took = _interrupt_when(
        ["a banana", "-n", "3", "-o", "F.png", "--json"],
        tmp_path,
        service,
        _then_a_moment(lambda: _chat_requests(fake) == 3),
    )

    assert done.returncode == 130, done.stderr
    assert took < _SLOW / 2, "the slow requests were not waited for"
    (record,) = [json.loads(line) for line in done.stdout.splitlines()]
    assert record["path"] == "F-1.png"
    assert record["cost_usd"] == fake.generations[record["generation_id"]]["total_cost"]
    summary = _one_line(done.stderr)
    assert (
        f"kept the 1 of 3 images that had arrived (F-1.png; ${record['cost_usd']:.4f})" in summary
    )
    with Image.open(tmp_path / "F-1.png") as picture:
        assert picture.size == (1024, 1024)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["F-1.png"], "nothing half-written"


def test_ctrl_c_with_n_3_before_any_image_says_so(
    tmp_path: Path, fake: FakeOpenRouter, service: dict[str, str]
) -> None:
    fake.enqueue(*[Outcome.wait(_SLOW)] * 3)
    done, took = _interrupt_when(
        ["a banana", "-n", "3"], tmp_path, service, lambda: _chat_requests(fake) == 3
    )
    assert done.returncode == 130
    assert took < _SLOW / 2
    assert "before any of the 3 images arrived" in _one_line(done.stderr)
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_in_a_batch_says_what_is_done_left_and_spent(
    tmp_path: Path, fake: FakeOpenRouter, service: dict[str, str]
) -> None:
    (tmp_path / "prompts.txt").write_text("one\ntwo\nthree\nfour\n")
    fake.enqueue(Outcome.answer(), Outcome.answer(), *[Outcome.wait(_SLOW)] * 2)
    done, took = _interrupt_when(
        ["batch", "prompts.txt", "-o", "made", "-j", "4"],
        tmp_path,
        service,
        _then_a_moment(lambda: _chat_requests(fake) == 4),
    )

    assert done.returncode == 130, done.stderr
    assert took < _SLOW / 2
    made = tmp_path / "made"
    manifest = (made / "manifest.jsonl").read_text().splitlines()
    costs = [json.loads(line)["cost"] for line in manifest]
    assert len(costs) == 2, "a line for each image that arrived, none for the cancelled"
    summary = _one_line(done.stderr)
    assert f"2/4 images done (2 this run), 2 left, ${sum(costs):.4f} spent this run" in summary
    assert len(list(made.glob("*.png"))) == 2


# ------------------------------------------------------------ first contact


def test_version(tmp_path: Path) -> None:
    done = run("--version", cwd=tmp_path)
    assert done.returncode == 0
    assert done.stdout.strip() == f"nanobanana {version('langchain-nanobanana')}"


@pytest.mark.parametrize("arguments", [["a banana"], ["models"], ["batch", "p.txt", "-o", "out"]])
@pytest.mark.parametrize(
    "base_url",
    ["not a url", "htp://openrouter.ai/api/v1", "http://[::1/api", "http://127.0.0.1:99999/api"],
)
def test_a_malformed_base_url_is_a_sentence_and_exit_2(
    tmp_path: Path, arguments: list[str], base_url: str
) -> None:
    (tmp_path / "p.txt").write_text("a banana\n")
    done = run(*arguments, cwd=tmp_path, OPENROUTER_BASE_URL=base_url, OPENROUTER_API_KEY="sk-or-x")
    assert done.returncode == 2, done.stderr
    assert _one_line(done.stderr).startswith("nanobanana: OPENROUTER_BASE_URL is not a usable")


def test_serve_refuses_a_port_that_cannot_be(tmp_path: Path) -> None:
    done = run("serve", "--port", "99999", cwd=tmp_path)
    assert done.returncode == 2
    assert "use a port number from 0 to 65535" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_reader_that_goes_away_is_no_traceback(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [*COMMAND, "models", "--offline", "--json"],
        cwd=tmp_path,
        env=environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None
    process.stdout.close()  # as `| head` does once it has its lines
    _, err = process.communicate(timeout=TIMEOUT)
    assert err == b""
    assert process.returncode == 141  # 128 + SIGPIPE, as a shell reports it


def test_an_unwritable_folder_is_refused_before_paying(
    tmp_path: Path, fake: FakeOpenRouter, service: dict[str, str]
) -> None:
    for output in ("/proc/x.png", "/proc/"):
        done = run("a banana", "-o", output, cwd=tmp_path, **service)
        assert done.returncode == 2, done.stderr
        assert "Cannot write into /proc" in _one_line(done.stderr)
    assert fake.requests == [], "nothing was sent, nothing was billed"


# ------------------------------------------------------------ subcommands, help, stdin


@pytest.mark.parametrize(
    "arguments",
    [("models", "--offline"), ("--offline", "models"), ("--json", "models", "--offline")],
)
def test_subcommands_are_found_wherever_the_flags_stand(
    tmp_path: Path, arguments: tuple[str, ...]
) -> None:
    done = run(*arguments, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "google/gemini-2.5-flash-image" in done.stdout
    assert list(tmp_path.iterdir()) == [], "no image of the word 'models'"


def test_after_a_double_dash_models_is_a_prompt(tmp_path: Path) -> None:
    done = run("--offline", "--", "models", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert describe_image((tmp_path / "models.png").read_bytes())["prompt"] == "models"


def test_a_flag_value_named_like_a_subcommand_stays_a_value(tmp_path: Path) -> None:
    done = run("--offline", "--model", "models", "a banana", cwd=tmp_path)
    assert done.returncode == 1
    assert "No endpoints found for models" in _one_line(done.stderr)


def test_help_names_the_subcommands_the_key_and_the_exit_codes(tmp_path: Path) -> None:
    done = run("--help", cwd=tmp_path)
    assert done.returncode == 0
    for word in ("batch", "models", "serve", "OPENROUTER_API_KEY", "exit codes", "130"):
        assert word in done.stdout


def test_a_dash_reads_the_prompt_from_stdin(tmp_path: Path) -> None:
    done = run("--offline", "-", "-o", "piped.png", cwd=tmp_path, stdin="a banana from a pipe\n")
    assert done.returncode == 0, done.stderr
    assert describe_image((tmp_path / "piped.png").read_bytes())["prompt"] == (
        "a banana from a pipe"
    )


# ------------------------------------------------------------ what the server says


def test_server_text_is_printed_without_control_sequences(
    tmp_path: Path, fake: FakeOpenRouter, service: dict[str, str]
) -> None:
    fake.enqueue(
        Outcome.http_error(400, "bad \x1b[2J\x1b]0;owned\x07request\r"),
        Outcome.no_image("IMAGE_SAFETY", "I can't \x1b[31mdraw\x1b[0m that\x08."),
    )
    refused = run("a banana", cwd=tmp_path, **service)
    assert refused.returncode == 1
    assert "bad request" in _one_line(refused.stderr)
    no_image = run("a banana", cwd=tmp_path, **service)
    assert no_image.returncode == 3
    assert "I can't draw that." in _one_line(no_image.stderr)
    for stderr in (refused.stderr, no_image.stderr):
        assert not any((ord(c) < 32 and c != "\n") or 0x7F <= ord(c) < 0xA0 for c in stderr)


_BAD_IMAGE = (
    b'{"id":"gen-1","model":"google/gemini-2.5-flash-image","choices":[{"index":0,'
    b'"finish_reason":"stop","message":{"role":"assistant","content":"",'
    b'"images":[{"type":"image_url","image_url":{"url":"data:image/png;base64,!!!"}}]}}]}'
)


@pytest.mark.parametrize(
    "outcome",
    [
        Outcome.raw(200, b"<html>gateway</html>"),
        Outcome.raw(200, b"{", "application/json"),
        Outcome.raw(200, b'{"choices": []}', "application/json"),
        Outcome.raw(200, b"", "application/json"),
        Outcome.raw(200, b"[1, 2]", "application/json"),
        Outcome.raw(200, _BAD_IMAGE, "application/json"),
        Outcome.raw(418, b"\xff\xfe not text"),
        Outcome.error_in_200(400),
        Outcome.http_error(401),
    ],
    ids=lambda outcome: f"{outcome.kind}-{outcome.status}-{outcome.body[:12]!r}",
)
def test_no_odd_answer_prints_a_traceback(
    tmp_path: Path, fake: FakeOpenRouter, service: dict[str, str], outcome: Outcome
) -> None:
    fake.enqueue(outcome, outcome, outcome)  # also what the retries see
    done = run("a banana", "-o", "out.jpg", cwd=tmp_path, **service)
    assert done.returncode in (1, 3), done.stderr
    assert _one_line(done.stderr).startswith("nanobanana: ")
    assert not (tmp_path / "out.jpg").exists()


# ------------------------------------------------------------ modalities


def test_an_image_only_model_needs_no_flag_and_modalities_can_be_chosen(
    tmp_path: Path, fake: FakeOpenRouter, service: dict[str, str]
) -> None:
    flux = run("a banana", "--model", "black-forest-labs/flux.2-pro", cwd=tmp_path, **service)
    assert flux.returncode == 0, flux.stderr
    assert fake.requests[-1].body["modalities"] == ["image"]

    chosen = run("a banana", "--modalities", "image", cwd=tmp_path, **service)
    assert chosen.returncode == 0, chosen.stderr
    assert fake.requests[-1].body["modalities"] == ["image"]

    bad = run("a banana", "--modalities", "audio", cwd=tmp_path, **service)
    assert bad.returncode == 2
    assert "use image,text or image" in bad.stderr


# ------------------------------------------------------------ serve


def test_serve_prints_the_variables_that_point_code_at_the_emulator(tmp_path: Path) -> None:
    with served_emulator() as variables:
        assert variables["OPENROUTER_BASE_URL"].startswith("http://127.0.0.1:")
        done = run("a banana", "-o", "served.png", cwd=tmp_path, **variables)
    assert done.returncode == 0, done.stderr
    picture = Image.open(io.BytesIO((tmp_path / "served.png").read_bytes()))
    assert picture.size == (1024, 1024)
    assert variables["OPENROUTER_API_KEY"] == FAKE_API_KEY


def test_n_images_and_image_api_options_from_the_shell(
    tmp_path: Path, fake: FakeOpenRouter, service: dict[str, str]
) -> None:
    done = run(
        "a banana logo",
        "--model",
        "openai/gpt-image-1",
        "-n",
        "3",
        "--quality",
        "high",
        "--format",
        "webp",
        "--background",
        "transparent",
        "-o",
        "logo.png",
        cwd=tmp_path,
        **service,
    )

    assert done.returncode == 0, done.stderr
    (request,) = [r for r in fake.requests if r.path.endswith("/images")]
    assert {k: request.body[k] for k in ("n", "quality", "output_format", "background")} == {
        "n": 3,
        "quality": "high",
        "output_format": "webp",
        "background": "transparent",
    }
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["logo-1.png", "logo-2.png", "logo-3.png"]
    for name in names:
        with Image.open(tmp_path / name) as picture:
            assert picture.format == "PNG", "the extension decides the file's format"


def test_n_on_the_chat_endpoint_and_options_it_cannot_take(
    tmp_path: Path, fake: FakeOpenRouter, service: dict[str, str]
) -> None:
    done = run("a banana", "-n", "2", "--seed", "4", "--json", cwd=tmp_path, **service)
    assert done.returncode == 0, done.stderr
    assert sorted(r.body["seed"] for r in fake.requests if r.method == "POST") == [4, 5]
    assert len(list(tmp_path.iterdir())) == 2

    refused = run("a banana", "--quality", "high", cwd=tmp_path, **service)
    assert refused.returncode == 2
    assert "Image API only" in refused.stderr
    assert len([r for r in fake.requests if r.method == "POST"]) == 2, "nothing more was sent"
    assert run("a banana", "-n", "11", cwd=tmp_path, **service).returncode == 2


@pytest.mark.slow
def test_serve_with_latency_and_faults_then_more_faults_while_it_runs(tmp_path: Path) -> None:
    with served_emulator(("serve", "--latency", "0.2", "--fault", "429")) as variables:
        base_url = variables["OPENROUTER_BASE_URL"]
        assert httpx.get(f"{base_url}/_emulator").json() == {"latency": 0.2, "queued_faults": 1}
        failed = run("a banana", "-o", "a.png", cwd=tmp_path, **variables)
        httpx.post(f"{base_url}/_emulator/faults", json=["cut*3"])
        cut = run("a banana", "-o", "b.png", cwd=tmp_path, **variables)
    assert failed.returncode == 0, failed.stderr  # the 429 was retried
    assert cut.returncode == 1
    assert "connection" in cut.stderr.lower()


def test_serve_refuses_an_unknown_fault_before_serving(tmp_path: Path) -> None:
    refused = run("serve", "--fault", "418x", cwd=tmp_path)
    assert refused.returncode == 2
    assert "Unknown fault '418x'" in refused.stderr
