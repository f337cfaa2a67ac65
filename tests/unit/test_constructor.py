"""ChatNanoBanana(...): no keyword is dropped, and the names LangChain users bring work."""

from __future__ import annotations

import pytest

from langchain_nanobanana import ChatNanoBanana
from langchain_nanobanana.testing import FakeOpenRouter
from tests.support import TEST_KEY


@pytest.mark.parametrize(
    ("keyword", "suggestion"),
    [
        ("aspect_ration", "did you mean 'aspect_ratio'?"),
        ("imagesize", "did you mean 'image_size'?"),
        ("openai_api_bas", "did you mean 'openai_api_base'?"),
        ("max_token", "did you mean 'max_tokens'?"),
    ],
)
def test_an_unknown_keyword_is_refused_with_the_closest_name(keyword: str, suggestion: str) -> None:
    with pytest.raises(TypeError, match="unknown keyword") as raised:
        ChatNanoBanana(api_key=TEST_KEY, **{keyword: "x"})
    assert f"'{keyword}' ({suggestion})" in str(raised.value)


def test_a_name_like_nothing_is_refused_without_a_guess() -> None:
    with pytest.raises(TypeError) as raised:
        ChatNanoBanana(api_key=TEST_KEY, zzz=1)
    assert "'zzz'." in str(raised.value)
    assert "did you mean" not in str(raised.value)


def test_unknown_keywords_are_refused_before_any_other_check() -> None:
    # The bad aspect ratio would raise ValueError; the unknown name comes first.
    with pytest.raises(TypeError, match="'colour'"):
        ChatNanoBanana(aspect_ratio="99:1", colour="red")


@pytest.mark.parametrize(
    ("keyword", "value", "field", "expected"),
    [
        ("openai_api_base", "https://proxy.test/v1", "base_url", "https://proxy.test/v1"),
        ("openrouter_api_base", "https://proxy.test/v1", "base_url", "https://proxy.test/v1"),
        ("request_timeout", 7, "timeout", 7.0),
        ("max_completion_tokens", 300, "max_tokens", 300),
        (
            "model_name",
            "google/gemini-3-pro-image",
            "model",
            "google/gemini-3-pro-image",
        ),
    ],
)
def test_names_from_other_integrations_set_the_same_field(
    keyword: str, value: object, field: str, expected: object
) -> None:
    llm = ChatNanoBanana(api_key=TEST_KEY, **{keyword: value})
    assert getattr(llm, field) == expected


def test_two_names_for_one_field_are_refused() -> None:
    with pytest.raises(TypeError, match="timeout and request_timeout both set timeout"):
        ChatNanoBanana(api_key=TEST_KEY, timeout=5, request_timeout=9)


def test_model_name_is_readable() -> None:
    llm = ChatNanoBanana(api_key=TEST_KEY, model="google/gemini-3-pro-image")
    assert llm.model_name == "google/gemini-3-pro-image"


@pytest.mark.parametrize("variable", ["OPENROUTER_BASE_URL", "OPENROUTER_API_BASE"])
def test_either_base_url_variable_is_read(monkeypatch: pytest.MonkeyPatch, variable: str) -> None:
    monkeypatch.delenv("OPENROUTER_BASE_URL", raising=False)
    monkeypatch.delenv("OPENROUTER_API_BASE", raising=False)
    monkeypatch.setenv(variable, "https://proxy.test/api/v1")
    assert ChatNanoBanana(api_key=TEST_KEY).base_url == "https://proxy.test/api/v1"


def test_a_base_url_given_by_its_openai_name_receives_the_request() -> None:
    fake = FakeOpenRouter()
    with fake.serve() as base_url:
        llm = ChatNanoBanana(api_key=TEST_KEY, openai_api_base=base_url, request_timeout=30)
        llm.invoke("a banana")
    assert fake.requests[-1].path == "/api/v1/chat/completions"


def test_default_headers_reach_the_wire_and_the_key_stays_out_of_the_repr() -> None:
    fake = FakeOpenRouter()
    with fake.serve() as base_url:
        llm = ChatNanoBanana(
            api_key=TEST_KEY,
            base_url=base_url,
            default_headers={"X-Proxy-Team": "images"},
            app_title="Banana Studio",
        )
        llm.invoke("a banana")
    headers = fake.requests[-1].headers
    assert headers["x-proxy-team"] == "images"
    assert headers["x-title"] == "Banana Studio"
    assert fake.requests[-1].bearer_token == TEST_KEY
    assert TEST_KEY not in repr(llm)


def test_default_headers_cannot_carry_the_key() -> None:
    with pytest.raises(TypeError, match="pass the key as api_key"):
        ChatNanoBanana(default_headers={"Authorization": f"Bearer {TEST_KEY}"})
