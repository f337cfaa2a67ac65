"""`-n N`: one record per image that is that image's own (generation id, text, tokens,
cost), records that add up to the call, and one naming rule with and without `-o`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage

from langchain_nanobanana.cli import main
from langchain_nanobanana.cli._image_records import image_shares
from langchain_nanobanana.images import GeneratedImage
from langchain_nanobanana.testing import FakeOpenRouter
from tests.support.pictures import picture


@pytest.fixture
def served(
    fake: FakeOpenRouter, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[FakeOpenRouter]:
    monkeypatch.chdir(tmp_path)
    with fake.serve() as base_url:
        monkeypatch.setenv("OPENROUTER_BASE_URL", base_url)
        monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-several-images")
        yield fake


def _records(capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_n_3_json_gives_three_records_that_are_their_requests_own(
    served: FakeOpenRouter, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["a banana", "-n", "3", "--json"]) == 0

    records = _records(capsys)
    assert len(records) == 3
    generations = served.generations
    ids = [record["generation_id"] for record in records]
    assert sorted(ids) == sorted(generations), "each record names its own request"  # type: ignore[type-var]
    for record in records:
        own = generations[str(record["generation_id"])]
        assert record["cost_usd"] == pytest.approx(own["total_cost"])
        assert record["output_tokens"] == own["tokens_completion"]
        assert record["text"] == served.reply_text, "one request's text, not all of them"
    call_cost = sum(generation["total_cost"] for generation in generations.values())
    assert sum(float(record["cost_usd"]) for record in records) == pytest.approx(call_cost)  # type: ignore[arg-type]
    assert len({record["path"] for record in records}) == 3


def test_the_image_api_shares_one_requests_cost_evenly(
    served: FakeOpenRouter, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["a logo", "--model", "openai/gpt-image-1", "-n", "3", "--json"]) == 0

    records = _records(capsys)
    (generation,) = served.generations.values()  # one request made all three
    assert [record["cost_usd"] for record in records] == [
        pytest.approx(generation["total_cost"] / 3)
    ] * 3
    tokens = [int(record["output_tokens"]) for record in records]  # type: ignore[call-overload]
    assert sum(tokens) == generation["tokens_completion"]
    assert max(tokens) - min(tokens) <= 1


def test_the_text_mode_gives_each_image_its_cost_and_says_the_total_once(
    served: FakeOpenRouter, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["a banana", "-n", "3"]) == 0

    lines = capsys.readouterr().out.splitlines()
    each = sum(generation["total_cost"] for generation in served.generations.values()) / 3
    assert [line.split(", ")[-1] for line in lines[:3]] == [f"${each:.4f})"] * 3
    assert lines[3] == f"Total: 3 images, {3 * 1301} output tokens, ${3 * each:.4f}"
    assert len(lines) == 4


def test_shares_follow_each_request_even_when_they_differ() -> None:
    """A fan-out whose requests cost and said different things: each image keeps its own,
    and a request that made two images splits its cost and tokens between them."""
    images = [GeneratedImage.from_bytes(picture("red", (8, 8), "PNG")) for _ in range(3)]
    answer = AIMessage(
        [],
        response_metadata={
            "id": "gen-a",
            "cost": 0.5,
            "request_answers": [
                {
                    "id": "gen-a",
                    "cost": 0.1,
                    "usage": {"output_tokens": 11},
                    "text": "A",
                    "images": 1,
                },
                {
                    "id": "gen-b",
                    "cost": 0.4,
                    "usage": {"output_tokens": 7},
                    "text": "B",
                    "images": 2,
                },
            ],
        },
    )
    shares = image_shares(answer, images)
    assert [(s.generation_id, s.text, s.output_tokens) for s in shares] == [
        ("gen-a", "A", 11),
        ("gen-b", "B", 4),
        ("gen-b", "B", 3),
    ]
    assert [s.cost_usd for s in shares] == [
        pytest.approx(0.1),
        pytest.approx(0.2),
        pytest.approx(0.2),
    ]


# ------------------------------------------------------------ one naming rule


def test_several_images_are_numbered_from_1_with_and_without_o(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["--offline", "a banana", "-n", "2"]) == 0
    assert main(["--offline", "a banana", "-n", "2", "-o", "F.png"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "F-1.png",
        "F-2.png",
        "a-banana-1.png",
        "a-banana-2.png",
    ]
    # In a folder nothing is overwritten: taken numbers move on to the next free ones.
    assert main(["--offline", "a banana", "-n", "2"]) == 0
    assert main(["--offline", "a banana"]) == 0
    assert sorted(p.name for p in tmp_path.glob("a-banana*")) == [
        "a-banana-1.png",
        "a-banana-2.png",
        "a-banana-3.png",
        "a-banana-4.png",
        "a-banana.png",
    ]
