"""The emulator as a busy account: FakeOpenRouter(max_concurrent=K), serve --max-concurrent K."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from langchain_nanobanana.testing import FakeOpenRouter
from tests.support.program import run, served_emulator

KEY = "sk-or-busy-account-test"
BODY = {
    "model": "google/gemini-2.5-flash-image",
    "messages": [{"role": "user", "content": "a banana"}],
    "modalities": ["image", "text"],
}
IMAGES_BODY = {"model": "openai/gpt-image-1", "prompt": "a banana"}


def _post_together(
    base_url: str, count: int, path: str = "/chat/completions", body: dict[str, Any] = BODY
) -> list[httpx.Response]:
    """``count`` requests sent at the same moment, each on its own connection."""
    ready = threading.Barrier(count)

    def post(_: int) -> httpx.Response:
        with httpx.Client(timeout=30) as client:
            ready.wait()
            return client.post(
                f"{base_url}{path}", json=body, headers={"Authorization": f"Bearer {KEY}"}
            )

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(post, range(count)))


def test_at_most_k_requests_are_served_and_the_others_get_the_recorded_429() -> None:
    busy = FakeOpenRouter(max_concurrent=2, latency=1.0)
    with busy.serve() as base_url:
        answers = _post_together(base_url, 5)
        refused = [answer for answer in answers if answer.status_code == 429]
        assert sorted(answer.status_code for answer in answers) == [200, 200, 429, 429, 429]
        assert busy.rate_limited == 3
        for answer in refused:
            assert answer.headers["retry-after"] == "1"
            body = answer.json()
            # The recorded 429's shape: OpenRouter passing on the provider's refusal.
            assert set(body) == {"error", "user_id"}
            assert body["error"]["code"] == 429
            assert body["error"]["message"] == "Provider returned error"
            assert set(body["error"]["metadata"]) == {"provider_name", "raw"}
            assert "temporarily rate-limited upstream" in body["error"]["metadata"]["raw"]
        # The places are free again once the answers went out.
        assert [a.status_code for a in _post_together(base_url, 2)] == [200, 200]
    assert busy.rate_limited == 3


def test_the_image_api_is_limited_too_and_retry_after_can_be_left_out() -> None:
    busy = FakeOpenRouter(max_concurrent=1, latency=1.0, retry_after=None)
    with busy.serve() as base_url:
        answers = _post_together(base_url, 3, "/images", IMAGES_BODY)
    assert sorted(answer.status_code for answer in answers) == [200, 429, 429]
    assert busy.rate_limited == 2
    assert all("retry-after" not in answer.headers for answer in answers)


def test_in_process_the_limit_holds_as_well() -> None:
    busy = FakeOpenRouter(max_concurrent=1, latency=1.0)
    ready = threading.Barrier(2)

    def post(_: int) -> int:
        with busy.client() as client:
            ready.wait()
            return client.post(
                "/chat/completions", json=BODY, headers={"Authorization": f"Bearer {KEY}"}
            ).status_code

    with ThreadPoolExecutor(2) as pool:
        assert sorted(pool.map(post, range(2))) == [200, 429]


def test_max_concurrent_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_concurrent"):
        FakeOpenRouter(max_concurrent=0)


@pytest.mark.slow  # three runs of the command
def test_serve_takes_max_concurrent(tmp_path: Path) -> None:
    with served_emulator(("serve", "--max-concurrent", "1")) as variables:
        done = run("a banana", "-o", "served.png", cwd=tmp_path, **variables)
    assert done.returncode == 0, done.stderr
    refused = run("serve", "--max-concurrent", "0", cwd=tmp_path)
    assert refused.returncode == 2
    assert "--max-concurrent must be at least 1" in refused.stderr
