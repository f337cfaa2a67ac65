"""OpenRouter's official SDK as the second oracle: what the package sends and what the
emulator answers, held to the models generated from OpenRouter's OpenAPI file."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import httpx
import pytest
from langchain_core.messages import HumanMessage
from openrouter.components import ChatResult, ImageGenerationRequest
from pydantic import ValidationError

from langchain_nanobanana import ChatNanoBanana
from langchain_nanobanana.errors import OpenRouterInvalidRequestError
from langchain_nanobanana.testing import FakeOpenRouter
from langchain_nanobanana.testing._oracle import KNOWN_GAPS, take_schema_violations
from tests.support import TEST_KEY
from tests.support.hostile import HostileServer, answer
from tests.support.pictures import picture
from tests.support.recorded import require_shared

PNG = picture("orange", (40, 30))
ENCODED = base64.b64encode(PNG).decode()
ANSWER = json.dumps({"created": 1, "data": [{"b64_json": ENCODED}]}).encode()


def _edit(llm: ChatNanoBanana) -> None:
    blocks = [
        {"type": "text", "text": "make it blue"},
        {"type": "image", "base64": ENCODED, "mime_type": "image/png"},
    ]
    llm.invoke([HumanMessage(blocks)])  # type: ignore[arg-type]


def test_image_api_references_go_on_the_wire_as_content_part_images() -> None:
    with HostileServer(answer(ANSWER)) as server:
        _edit(ChatNanoBanana(api_key=TEST_KEY, base_url=server.url, endpoint="images"))
    (raw,) = server.requests
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"POST /api/v1/images ")
    expected = b'"input_references":[{"type":"image_url","image_url":{"url":"data:image/png;base64,'
    assert expected + ENCODED.encode() + b'"}}]' in body
    ImageGenerationRequest.model_validate_json(body)  # the official model takes it


def test_bare_string_references_are_refused_as_openrouter_validation_refuses_them() -> None:
    fake = FakeOpenRouter()
    bare = {"model": "openai/gpt-image-1", "prompt": "x", "input_references": [f"data:,{ENCODED}"]}
    with pytest.raises(ValidationError):
        ImageGenerationRequest.model_validate(bare)

    # From any client: the emulator's own validation.
    refused = fake.client().post("/images", json=bare, headers={"Authorization": "Bearer k"})
    assert refused.status_code == 400
    assert "input_references.0: expected an object" in refused.json()["error"]["message"]
    # From this package: the official models, and the refusal is kept as a violation.
    as_package = {"Authorization": "Bearer k", "User-Agent": "langchain-nanobanana/test"}
    refused = fake.client().post("/images", json=bare, headers=as_package)
    assert refused.status_code == 400
    assert "ImageGenerationRequest" in refused.json()["error"]["message"]
    (violation,) = take_schema_violations()
    assert (violation.kind, violation.model) == ("request", "ImageGenerationRequest")
    assert violation.problems[0].startswith("input_references.0:")


def test_what_the_package_sends_is_checked(fake: FakeOpenRouter) -> None:
    _edit(fake.chat_model(endpoint="images"))
    _edit(fake.chat_model())
    assert [r.headers["user-agent"] for r in fake.requests if r.method == "POST"] == [
        f"langchain-nanobanana/{_version()}"
    ] * 2
    assert fake._app.oracle is not None, "the suite runs every emulator with check_schema"
    assert take_schema_violations() == []


def test_the_known_gaps_are_what_the_recordings_show() -> None:
    """Each listed gap is seen in a recording; nothing else of them fails the models."""
    recorded = json.loads(
        (
            require_shared() / "pydantic-ai__test_openrouter_image_generation__0.response.json"
        ).read_text()
    )
    with pytest.raises(ValidationError) as refused:
        ChatResult.model_validate(recorded)
    found = {
        ("ChatResult", ".".join(map(str, e["loc"])), e["type"]) for e in refused.value.errors()
    }
    assert found == {("ChatResult", "system_fingerprint", "missing")}
    assert found <= set(KNOWN_GAPS)


def test_an_answer_the_official_models_refuse_is_a_violation(tmp_path: Path) -> None:
    (tmp_path / "bad.meta.json").write_text(json.dumps({"status": 200, "request": {}}))
    broken = {"id": "gen-1", "object": "chat.completion", "created": 1, "model": "m"}
    (tmp_path / "bad.response.json").write_text(json.dumps({**broken, "choices": "none"}))
    fake = FakeOpenRouter.replay(tmp_path)
    with fake.serve() as url, pytest.raises(Exception, match="could not be read"):
        ChatNanoBanana(api_key=TEST_KEY, base_url=url, max_retries=0).invoke("x")
    (violation,) = take_schema_violations()
    assert (violation.kind, violation.model) == ("answer", "ChatResult")
    assert violation.problems == ("choices: Input should be a valid list",)


def test_a_package_request_the_models_refuse_fails_the_call(fake: FakeOpenRouter) -> None:
    llm = fake.chat_model(model_kwargs={"modalities": "image"})  # a string, not a list
    with pytest.raises(OpenRouterInvalidRequestError, match="Input validation error"):
        llm.invoke("a banana")
    (violation,) = take_schema_violations()
    assert violation.model == "ChatRequest"


def test_the_check_can_be_switched_off() -> None:
    quiet = FakeOpenRouter(check_schema=False)
    bare = {"model": "openai/gpt-image-1", "prompt": "x", "input_references": ["x"]}
    headers = {"Authorization": "Bearer k", "User-Agent": "langchain-nanobanana/test"}
    assert (
        httpx.Client(transport=quiet.transport, base_url=quiet.base_url)
        .post("/images", json=bare, headers=headers)
        .status_code
        == 400
    )  # the emulator's own check still applies
    assert take_schema_violations() == []


def _version() -> str:
    from importlib.metadata import version

    return version("langchain-nanobanana")
