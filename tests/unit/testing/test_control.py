"""Faults and latency injected into a running emulator, over its control routes."""

from __future__ import annotations

import time

import httpx
import pytest

from langchain_nanobanana.testing import FakeOpenRouter, Outcome
from langchain_nanobanana.testing._control import fault_outcomes

BODY = {
    "model": "google/gemini-2.5-flash-image",
    "messages": [{"role": "user", "content": "a banana"}],
    "modalities": ["image", "text"],
}
AUTH = {"Authorization": "Bearer sk-or-test"}


def test_queued_faults_answer_the_next_requests_in_order(
    fake: FakeOpenRouter, base_url: str
) -> None:
    with httpx.Client(base_url=base_url) as client:
        queued = client.post("/_emulator/faults", json=["429", "502*2", "cut"])
        assert queued.json() == {"latency": 0.0, "queued_faults": 4}
        statuses = [
            client.post("/chat/completions", json=BODY, headers=AUTH).status_code for _ in range(3)
        ]
        assert statuses == [429, 502, 502]
        with pytest.raises(httpx.RemoteProtocolError):
            client.post("/chat/completions", json=BODY, headers=AUTH)
    with httpx.Client(base_url=base_url) as client:
        assert client.post("/chat/completions", json=BODY, headers=AUTH).status_code == 200
        assert client.get("/_emulator").json()["queued_faults"] == 0
    assert all(request.path.endswith("/chat/completions") for request in fake.requests)


def test_latency_changes_while_it_serves(base_url: str) -> None:
    with httpx.Client(base_url=base_url) as client:
        assert client.post("/_emulator/latency", json={"seconds": 0.4}).json()["latency"] == 0.4
        started = time.monotonic()
        assert client.post("/chat/completions", json=BODY, headers=AUTH).status_code == 200
        assert time.monotonic() - started >= 0.4


@pytest.mark.parametrize(
    ("path", "body", "said"),
    [
        ("/_emulator/faults", ["429", "bogus"], "Unknown fault 'bogus'"),
        ("/_emulator/faults", {"faults": "429"}, "JSON list of fault names"),
        ("/_emulator/latency", {"seconds": -1}, "0 or more"),
        ("/_emulator/latency", {"seconds": True}, "number of seconds"),
    ],
)
def test_a_wrong_control_request_is_400_and_changes_nothing(
    base_url: str, path: str, body: object, said: str
) -> None:
    with httpx.Client(base_url=base_url) as client:
        answer = client.post(path, json=body)
        assert answer.status_code == 400
        assert said in answer.json()["error"]
        assert client.get("/_emulator").json() == {"latency": 0.0, "queued_faults": 0}
        assert client.post("/_emulator/nothing").status_code == 404


def test_fault_names() -> None:
    assert fault_outcomes("503") == [Outcome.http_error(503)]
    assert fault_outcomes("CUT*2") == [Outcome.drop_connection()] * 2
    assert fault_outcomes("slow:1.5") == [Outcome.wait(1.5)]
    assert fault_outcomes("no-image") == [Outcome.no_image()]
    for wrong in ("200", "600", "cut:2", "slow", "429*0", "429*5000", ""):
        with pytest.raises(ValueError, match=r"(?i)fault"):
            fault_outcomes(wrong)
