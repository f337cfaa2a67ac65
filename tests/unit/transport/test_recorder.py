"""The recorder: exchanges written as fixtures, replayed to the same message, never the key."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage

from langchain_nanobanana import images_from
from langchain_nanobanana._content.dimensions import image_dimensions
from langchain_nanobanana._content.placeholders import placeholder_png, shrink_images
from langchain_nanobanana.errors import OpenRouterRateLimitError
from langchain_nanobanana.testing import FakeOpenRouter, Outcome
from tests.support import TEST_KEY
from tests.support.modes import MODES, model, run
from tests.support.pictures import picture
from tests.support.program import run as run_command
from tests.support.program import served_emulator


def _files(folder: Path) -> list[Path]:
    return sorted(folder.iterdir())


def _no_key_in(folder: Path) -> None:
    for path in _files(folder):
        data = path.read_bytes()
        assert TEST_KEY.encode() not in data, path.name
        assert b"authorization" not in data.lower(), path.name


def _same(replayed: AIMessage, original: AIMessage, *, same_bytes: bool) -> None:
    assert replayed.text == original.text
    for key in ("id", "finish_reason", "native_finish_reason", "cost", "provider", "model_name"):
        assert replayed.response_metadata.get(key) == original.response_metadata.get(key), key
    mine, theirs = images_from(replayed), images_from(original)
    assert [i.size for i in mine] == [i.size for i in theirs] != []
    assert ([i.data for i in mine] == [i.data for i in theirs]) is same_bytes


@pytest.mark.parametrize("mode", MODES)
def test_a_recording_replays_to_the_same_message_and_holds_no_key(
    base_url: str, tmp_path: Path, mode: str
) -> None:
    folder = tmp_path / "recorded"
    original = run(model(base_url, record_to=str(folder)), mode, "a banana")

    names = [p.name for p in _files(folder)]
    kind = "sse" if "stream" in mode else "json"
    assert len(names) == 2
    assert names[0].endswith("_chat-completions_200.meta.json")
    assert names[1].endswith(f"_chat-completions_200.response.{kind}")
    _no_key_in(folder)
    meta = json.loads((folder / names[0]).read_text())
    assert meta["request"]["messages"] == [{"role": "user", "content": "a banana"}]
    assert meta["source"].startswith("RECORDED: langchain-nanobanana")

    with FakeOpenRouter.replay(folder).serve() as replay_url:
        replayed = run(model(replay_url), mode, "a banana")
    _same(replayed, original, same_bytes=False)


def test_kept_images_replay_byte_for_byte(base_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "recorded"
    original = model(base_url, record_to=str(folder), record_images=True).invoke("a banana")
    with FakeOpenRouter.replay(folder).serve() as replay_url:
        replayed = model(replay_url).invoke("a banana")
    _same(replayed, original, same_bytes=True)


def test_nanobanana_record_records_every_attempt_and_the_image_api_too(
    fake: FakeOpenRouter,
    base_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    backoffs: list[float],
) -> None:
    folder = tmp_path / "from-env"
    monkeypatch.setenv("NANOBANANA_RECORD", str(folder))
    photo = images_from(model(base_url).invoke("a photo"))[0]
    fake.enqueue(Outcome.http_error(429, headers={"Retry-After": "0"}))
    llm = model(base_url, max_retries=1, model="openai/gpt-image-1")

    block = {
        "type": "image",
        "base64": base64.b64encode(photo.data).decode(),
        "mime_type": "image/png",
    }
    original = llm.invoke([HumanMessage([{"type": "text", "text": "bluer"}, block])])

    metas = sorted(folder.glob("*.meta.json"))
    assert [json.loads(m.read_text())["status"] for m in metas] == [200, 429, 200]
    request = json.loads(metas[-1].read_text())["request"]
    (reference,) = request["input_references"]
    assert reference["image_url"]["url"].startswith("data:image/png;base64,")
    assert json.loads(metas[-1].read_text())["kwargs"] == {"endpoint": "images"}
    _no_key_in(folder)

    for path in folder.glob("*_chat-completions_*"):
        path.unlink()  # the photo's own call: not part of the replay
    replay = FakeOpenRouter.replay(folder)
    with replay.serve() as replay_url:
        again = model(replay_url, max_retries=1, model="openai/gpt-image-1")
        replayed = again.invoke([("human", "bluer")])
        with pytest.raises(OpenRouterRateLimitError):
            alone = model(replay_url, model="openai/gpt-image-1", max_concurrency=None)
            alone.invoke("bluer")  # the recorded 429 again, and no retry left
    assert [image.size for image in images_from(replayed)] == [
        image.size for image in images_from(original)
    ]


def test_a_key_the_server_echoes_is_scrubbed(
    fake: FakeOpenRouter, base_url: str, tmp_path: Path
) -> None:
    folder = tmp_path / "recorded"
    echoed = json.dumps({"error": {"code": 400, "message": f"bad key {TEST_KEY}"}}).encode()
    fake.enqueue(Outcome.raw(400, echoed, "application/json"))
    with pytest.raises(Exception, match="bad key"):
        model(base_url, record_to=str(folder)).invoke("a banana")
    _no_key_in(folder)
    (body,) = folder.glob("*.response.json")
    assert json.loads(body.read_text())["error"]["message"] == "bad key ***"


@pytest.mark.parametrize("size", [(1, 1), (1024, 1024), (1248, 832), (4096, 4096)])
def test_placeholders_keep_the_pixel_size_and_are_small(size: tuple[int, int]) -> None:
    png = placeholder_png(*size)
    assert image_dimensions(png) == size
    assert len(png) < 70_000


def test_shrinking_keeps_everything_but_the_images() -> None:
    real = base64.b64encode(picture("orange", (300, 200))).decode()
    text = json.dumps(
        {
            "url": f"data:image/jpeg;base64,{real}",
            "data": [{"b64_json": real}],
            "other": "untouched",
        }
    )
    shrunk: dict[str, Any] = json.loads(shrink_images(text))
    assert shrunk["other"] == "untouched"
    url = shrunk["url"]
    assert url.startswith("data:image/png;base64,")
    assert image_dimensions(base64.b64decode(url.partition(",")[2])) == (300, 200)
    assert image_dimensions(base64.b64decode(shrunk["data"][0]["b64_json"])) == (300, 200)
    assert shrink_images('{"b64_json": "bm90IGFuIGltYWdl"}') == '{"b64_json": "bm90IGFuIGltYWdl"}'


def test_nanobanana_serve_replay_answers_from_a_recording(base_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "bug-report"
    original = model(base_url, record_to=str(folder)).invoke("a banana")

    with served_emulator(("serve", "--replay", str(folder))) as variables:
        replayed = model(variables["OPENROUTER_BASE_URL"]).invoke("a banana")
    _same(replayed, original, same_bytes=False)

    done = run_command("serve", "--replay", str(tmp_path / "nothing"), cwd=tmp_path)
    assert done.returncode == 2
    assert "holds no recordings" in done.stderr
