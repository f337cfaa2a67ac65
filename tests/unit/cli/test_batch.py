"""nanobanana batch: one image per prompt, a manifest, a budget, and resuming where it stopped."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import pytest
from PIL import Image

from langchain_nanobanana import testing
from langchain_nanobanana._transport.limits import CallLimits
from langchain_nanobanana._transport.shared_limit import SharedLimit
from langchain_nanobanana.cli import main
from langchain_nanobanana.cli._batch import MANIFEST, _Run
from langchain_nanobanana.testing import FakeOpenRouter, Outcome, describe_image
from tests.support.program import run

# Non-retryable faults fail their prompt; retryable ones (spaced apart, so no prompt
# meets three in a row) are absorbed by the transport's retries.
FAILING = [
    Outcome.http_error(400),
    Outcome.no_image("IMAGE_SAFETY", "I can't draw that."),
    Outcome.http_error(403, metadata={"reasons": ["violence"]}),
    Outcome.error_in_200(400),
    Outcome.no_image("NO_IMAGE"),
]
ABSORBED = [
    Outcome.http_error(500),
    Outcome.drop_connection(),
    Outcome.http_error(429, headers={"Retry-After": "0"}),
]


def _scripted_faults() -> list[Outcome]:
    outcomes = [Outcome()] * 60
    for number, fault in enumerate(FAILING):
        outcomes[2 + number * 9] = fault
    for number, fault in enumerate(ABSORBED):
        outcomes[7 + number * 18] = fault
    return outcomes


def _records(folder: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (folder / MANIFEST).read_text().splitlines()]


def _images(folder: Path) -> dict[str, tuple[str, int]]:
    return {
        path.name: (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns)
        for path in folder.glob("*.png")
    }


def _chat_requests(fake: FakeOpenRouter) -> int:
    return sum(1 for request in fake.requests if request.path.endswith("/chat/completions"))


@pytest.fixture
def fifty_prompts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OPENROUTER_API_KEY", raising=False)
    lines = [f"banana number {number} on a plate" for number in range(1, 51)]
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("\n".join(lines[:25]) + "\n\n" + "\n".join(lines[25:]) + "\n")
    return prompts


def test_fifty_offline_prompts_with_faults_then_a_rerun_completes_only_the_failed(
    fifty_prompts: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = FakeOpenRouter()
    fake.enqueue(*_scripted_faults())
    # --offline builds its emulator with FakeOpenRouter(); this one has faults queued.
    monkeypatch.setattr(testing, "FakeOpenRouter", lambda: fake)
    command = ["batch", "prompts.txt", "-o", "made", "--offline", "-j", "4"]

    assert main(command) == 1
    err = capsys.readouterr().err
    assert f"{len(FAILING)} prompt(s) failed" in err
    folder = Path("made")
    first = _records(folder)
    assert len(first) == 50
    failed = [record for record in first if record["file"] is None]
    assert len(failed) == len(FAILING)
    assert all(record["error"] for record in failed)
    assert {record["finish_reason"] for record in failed} >= {"IMAGE_SAFETY", "NO_IMAGE"}
    before = _images(folder)
    assert len(before) == 50 - len(FAILING)
    requests_before = _chat_requests(fake)

    assert main(command) == 0
    assert _chat_requests(fake) - requests_before == len(FAILING), "only the failed, once each"
    after = _images(folder)
    assert len(after) == 50
    assert {name: after[name] for name in before} == before, "nothing regenerated or rewritten"
    second = _records(folder)[50:]
    assert sorted(r["line"] for r in second) == sorted(r["line"] for r in failed)
    assert all(record["file"] and record["error"] is None for record in second)

    assert main(command) == 0
    assert _chat_requests(fake) - requests_before == len(FAILING), "a third run sends nothing"


def test_the_manifest_says_what_each_prompt_made_without_handles_or_base64(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), "red").save(buffer, format="JPEG")
    Path("photo.jpg").write_bytes(buffer.getvalue())
    Path("prompts.jsonl").write_text(
        json.dumps({"prompt": "a wide banana", "aspect_ratio": "16:9", "seed": 7})
        + "\n"
        + json.dumps({"prompt": "make it blue", "images": ["photo.jpg"]})
        + "\n"
    )
    assert main(["batch", "prompts.jsonl", "-o", "out", "--offline"]) == 0

    wide, edited = sorted(_records(Path("out")), key=lambda record: record["line"])  # type: ignore[arg-type, return-value]
    assert wide["file"] == "001-a-wide-banana.png"
    assert wide["options"] == {
        "model": "google/gemini-2.5-flash-image",
        "aspect_ratio": "16:9",
        "seed": 7,
    }
    assert (wide["metadata"]["width"], wide["metadata"]["height"]) == (1344, 768)  # type: ignore[index]
    assert wide["cost"] == pytest.approx(0.0387, abs=1e-3)
    assert wide["finish_reason"] == "STOP"
    assert wide["metadata"]["usage"]["output_token_details"]["image"] == 1290  # type: ignore[index]
    described = describe_image(Path("out", str(edited["file"])).read_bytes())
    assert described["sources"] == hashlib.sha256(buffer.getvalue()).hexdigest()
    manifest = Path("out", MANIFEST).read_text()
    assert "base64" not in manifest
    assert "img_" not in manifest


def test_max_cost_stops_before_a_request_that_could_exceed_it(
    tmp_path: Path, fake: FakeOpenRouter, base_url: str
) -> None:
    (tmp_path / "prompts.txt").write_text("".join(f"banana {n}\n" for n in range(10)))
    env = {"OPENROUTER_BASE_URL": base_url, "OPENROUTER_API_KEY": "sk-or-batch-test"}
    # 2.5 Flash Image costs about $0.0387 an image: two fit in $0.10, a third would not.
    arguments = ["batch", "prompts.txt", "-o", "made", "--max-cost", "0.10", "-j", "3"]

    done = run(*arguments, cwd=tmp_path, **env)
    assert done.returncode == 4, done.stderr
    assert "stopped at --max-cost $0.10: 8 prompt(s) not started" in done.stderr
    assert _chat_requests(fake) == 2
    assert "2/10 images" in done.stdout

    # The same command again: the manifest already records ~$0.077 of the $0.10, so
    # nothing more fits, and it says how to go on.
    again = run(*arguments, "--json", cwd=tmp_path, **env)
    assert again.returncode == 4
    summary = json.loads(again.stdout)
    assert (summary["images"], summary["made_now"], summary["skipped_as_done"]) == (2, 0, 2)
    assert summary["spent_by_earlier_runs_usd"] == pytest.approx(2 * 0.0387, abs=0.001)
    assert _chat_requests(fake) == 2, "no request could fit"
    assert "spent by earlier runs" in again.stderr
    assert "--fresh-budget" in again.stderr

    # Told otherwise, the run gets the whole cap for itself.
    fresh = run(*arguments, "--json", "--fresh-budget", cwd=tmp_path, **env)
    assert fresh.returncode == 4
    summary = json.loads(fresh.stdout)
    assert (summary["images"], summary["made_now"], summary["skipped_as_done"]) == (4, 2, 2)
    assert summary["spent_usd"] <= 0.10


def test_a_raised_max_cost_continues_within_what_the_folder_may_cost(
    tmp_path: Path, fake: FakeOpenRouter, base_url: str
) -> None:
    (tmp_path / "prompts.txt").write_text("".join(f"banana {n}\n" for n in range(6)))
    env = {"OPENROUTER_BASE_URL": base_url, "OPENROUTER_API_KEY": "sk-or-batch-test"}
    first = run("batch", "prompts.txt", "-o", "made", "--max-cost", "0.10", cwd=tmp_path, **env)
    assert first.returncode == 4
    second = run("batch", "prompts.txt", "-o", "made", "--max-cost", "0.20", cwd=tmp_path, **env)
    assert second.returncode == 4
    costs = [
        json.loads(line)["cost"] for line in (tmp_path / "made" / MANIFEST).read_text().splitlines()
    ]
    assert len(costs) == 5, "two under $0.10, then three more under $0.20 in all"
    assert sum(costs) <= 0.20


@pytest.mark.parametrize("amount", ["-1", "nan", "inf", "-0.5", "lots"])
def test_a_max_cost_that_is_no_amount_is_refused(tmp_path: Path, amount: str) -> None:
    (tmp_path / "prompts.txt").write_text("a banana\n")
    done = run(
        "batch", "prompts.txt", "-o", "made", "--offline", f"--max-cost={amount}", cwd=tmp_path
    )
    assert done.returncode == 2
    assert "use an amount in US dollars, 0 or more" in done.stderr
    assert not (tmp_path / "made" / MANIFEST).exists()


def test_a_manifest_line_naming_a_file_outside_the_folder_marks_nothing_done(
    tmp_path: Path,
) -> None:
    (tmp_path / "prompts.txt").write_text("a red banana\na blue banana\n")
    made = tmp_path / "made"
    assert run("batch", "prompts.txt", "-o", "made", "--offline", cwd=tmp_path).returncode == 0
    records = [json.loads(line) for line in (made / MANIFEST).read_text().splitlines()]
    outside = tmp_path / "elsewhere.png"
    outside.write_bytes((made / records[0]["file"]).read_bytes())
    (made / "link.png").symlink_to(outside)
    for record in records:
        (made / record["file"]).unlink()
    forged = [
        {**records[0], "file": "../elsewhere.png"},
        {**records[1], "file": "link.png"},
        {**records[1], "file": str(outside)},
    ]
    (made / MANIFEST).write_text("".join(json.dumps(record) + "\n" for record in forged))

    done = run("batch", "prompts.txt", "-o", "made", "--offline", "--json", cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert (summary["made_now"], summary["skipped_as_done"]) == (2, 0)


def test_429s_in_a_row_cost_no_prompt(tmp_path: Path, base_url: str, fake: FakeOpenRouter) -> None:
    (tmp_path / "prompts.txt").write_text("".join(f"banana {n}\n" for n in range(3)))
    # One at a time, three 429s in a row would outlast the first prompt's retries
    # (max_retries=2) if they were retries: they are not, the call waits in line.
    fake.enqueue(*[Outcome.http_error(429, headers={"Retry-After": "0"})] * 3)
    env = {"OPENROUTER_BASE_URL": base_url, "OPENROUTER_API_KEY": "sk-or-batch-test"}
    done = run("batch", "prompts.txt", "-o", "made", "-j", "1", cwd=tmp_path, **env)
    assert done.returncode == 0, done.stderr
    assert len(list((tmp_path / "made").glob("*.png"))) == 3
    assert _chat_requests(fake) == 3 + 3


def test_batch_j16_against_a_two_at_a_time_account_loses_none(tmp_path: Path) -> None:
    busy = FakeOpenRouter(max_concurrent=2, latency=0.05, retry_after=0.2)
    (tmp_path / "prompts.txt").write_text("".join(f"banana {n}\n" for n in range(20)))
    with busy.serve() as base_url:
        env = {"OPENROUTER_BASE_URL": base_url, "OPENROUTER_API_KEY": "sk-or-batch-test"}
        done = run("batch", "prompts.txt", "-o", "made", "-j", "16", "--json", cwd=tmp_path, **env)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert (summary["made_now"], summary["failed"]) == (20, 0)
    assert len(list((tmp_path / "made").glob("*.png"))) == 20
    assert busy.rate_limited > 0
    assert _chat_requests(busy) == 20 + busy.rate_limited


def test_jobs_run_at_the_same_time(tmp_path: Path) -> None:
    slow = FakeOpenRouter(latency=0.3)
    (tmp_path / "prompts.txt").write_text("".join(f"banana {n}\n" for n in range(6)))
    with slow.serve() as base_url:
        env = {"OPENROUTER_BASE_URL": base_url, "OPENROUTER_API_KEY": "sk-or-batch-test"}
        done = run("batch", "prompts.txt", "-o", "made", "-j", "3", cwd=tmp_path, **env)
    assert done.returncode == 0, done.stderr
    ports = {r.client_port for r in slow.requests if r.path.endswith("/chat/completions")}
    assert len(ports) == 3, "three connections: three requests in flight at once"


def test_a_bad_line_is_refused_before_anything_is_sent(
    tmp_path: Path, base_url: str, fake: FakeOpenRouter
) -> None:
    (tmp_path / "prompts.jsonl").write_text(
        '{"prompt": "fine"}\n{"prompt": "typo", "aspect_ration": "16:9"}\n'
    )
    env = {"OPENROUTER_BASE_URL": base_url, "OPENROUTER_API_KEY": "sk-or-batch-test"}
    done = run("batch", "prompts.jsonl", "-o", "made", cwd=tmp_path, **env)
    assert done.returncode == 2
    assert "Line 2" in done.stderr
    assert "did you mean 'aspect_ratio'?" in done.stderr
    assert fake.requests == []

    (tmp_path / "prompts.jsonl").write_text('{"prompt": "too wide", "aspect_ratio": "8:1"}\n')
    done = run("batch", "prompts.jsonl", "-o", "made", cwd=tmp_path, **env)
    assert done.returncode == 2
    assert "aspect_ratio='8:1' is not supported" in done.stderr
    assert fake.requests == []


def test_batch_runs_offline_through_the_entry_point(tmp_path: Path) -> None:
    (tmp_path / "prompts.txt").write_text("a red banana\na green banana\n")
    done = run("--offline", "batch", "prompts.txt", "-o", "made", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (tmp_path / "made").iterdir()) == [
        "001-a-red-banana.png",
        "002-a-green-banana.png",
        MANIFEST,
    ]


def test_the_progress_line_counts_images_failures_spend_and_eta() -> None:
    progress = _Run(
        folder=Path(), llm=None, max_cost=None, jobs=1, queue=[], total=10, already_done=2
    )
    assert progress.status(0.0) == "2/10 images, 0 failed, $0.0000 spent, ETA ?"
    progress.done, progress.failed, progress.spent = 3, 1, 0.1161
    assert progress.status(8.0) == "5/10 images, 1 failed, $0.1161 spent, ETA 8s"


def test_the_progress_line_shows_the_window_and_the_429s() -> None:
    limit = SharedLimit("test")
    earlier = limit.enter(CallLimits(None), 64)
    earlier.refused(None)  # before this run: not counted
    progress = _Run(
        folder=Path(),
        llm=None,
        max_cost=None,
        jobs=16,
        queue=[],
        total=20,
        already_done=0,
        limit=limit,
        rate_limited_before=1,
    )
    # Narrowed before the run, to 1: the window is what runs at once, of the -j ceiling.
    assert progress.status(0.0).endswith(", window 1/16, 0 429s")
    limit.enter(CallLimits(None), 64).refused(None)
    assert progress.status(1.0).endswith(", window 1/16, 1 429s")
    fresh = _Run(
        folder=Path(),
        llm=None,
        max_cost=None,
        jobs=4,
        queue=[],
        total=20,
        already_done=0,
        limit=SharedLimit("open"),
    )
    assert fresh.status(0.0).endswith(", window 4/4, 0 429s")


def test_an_answer_whose_image_is_not_an_image_is_a_failure_not_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    fake = FakeOpenRouter()
    not_an_image = (
        b'{"id":"gen-1","model":"google/gemini-2.5-flash-image","choices":[{"index":0,'
        b'"finish_reason":"stop","message":{"role":"assistant","content":"",'
        b'"images":[{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}}]}}]}'
    )
    fake.enqueue(Outcome.raw(200, not_an_image, "application/json"))
    monkeypatch.setattr(testing, "FakeOpenRouter", lambda: fake)
    Path("prompts.txt").write_text("a banana\n")

    assert main(["batch", "prompts.txt", "-o", "made", "--offline"]) == 1
    (record,) = _records(Path("made"))
    assert record["file"] is None
    # Refused where the answer is read (the package checks every image by its bytes).
    assert "not a PNG, JPEG, WebP or GIF" in str(record["error"])
    assert list(Path("made").glob("*.png")) == []
