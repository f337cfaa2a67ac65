"""The catalog: each fact with its provenance, refusals only on recorded or documented ones,
released ids, and retired previews that still work."""

from __future__ import annotations

import typing
import warnings

import pytest

from langchain_nanobanana import ChatNanoBanana
from langchain_nanobanana._catalog import retired
from langchain_nanobanana._catalog.models import KNOWN_MODELS, Fact, Provenance, find_model
from langchain_nanobanana.errors import OpenRouterInvalidRequestError
from langchain_nanobanana.testing import FakeOpenRouter
from tests.support import TEST_KEY

FACTS = set(typing.get_args(Fact))
PROVENANCES = set(typing.get_args(Provenance))


def test_every_fact_says_where_it_comes_from() -> None:
    for spec in KNOWN_MODELS.values():
        assert set(spec.sources) <= FACTS, spec.id
        assert set(spec.sources.values()) <= PROVENANCES, spec.id
        assert {spec.provenance(fact) for fact in FACTS} <= PROVENANCES


def test_the_released_ids_are_in_the_catalog() -> None:
    for released in (
        "google/gemini-3-pro-image",
        "google/gemini-3.1-flash-image",
        "google/gemini-3.1-flash-lite-image",
    ):
        assert released in KNOWN_MODELS
    assert not [model for model in KNOWN_MODELS if model.endswith("-preview")]


@pytest.fixture
def fresh_warnings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(retired, "_warned", set())


@pytest.mark.usefixtures("fresh_warnings")
def test_a_retired_preview_works_as_its_release_with_one_warning(fake: FakeOpenRouter) -> None:
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        llm = ChatNanoBanana(
            api_key=TEST_KEY,
            base_url=fake.base_url,
            http_client=fake.client(),
            model="google/gemini-3-pro-image-preview",
        )
        llm.invoke("a banana")
        fake.chat_model(model="google/gemini-3-pro-image-preview").invoke("a banana")
    assert [w.category for w in said] == [FutureWarning], "once per process"
    assert "sending its released id 'google/gemini-3-pro-image'" in str(said[0].message)
    assert said[0].filename == __file__, "it points at the caller's line"
    assert llm.model == "google/gemini-3-pro-image"
    assert [r.body["model"] for r in fake.requests if r.method == "POST"] == [
        "google/gemini-3-pro-image"
    ] * 2
    assert (
        find_model("google/gemini-3.1-flash-image-preview")
        is KNOWN_MODELS["google/gemini-3.1-flash-image"]
    )


@pytest.mark.usefixtures("fresh_warnings")
def test_a_retired_preview_named_per_call_is_sent_as_its_release(fake: FakeOpenRouter) -> None:
    with pytest.warns(FutureWarning, match="retired preview id"):
        fake.chat_model().invoke("a banana", model="google/gemini-2.5-flash-image-preview")
    assert fake.requests[-1].body["model"] == "google/gemini-2.5-flash-image"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ChatNanoBanana(api_key=TEST_KEY, model="google/gemini-2.5-flash-image")


def test_documented_lists_are_refused_locally(fake: FakeOpenRouter) -> None:
    assert KNOWN_MODELS["google/gemini-2.5-flash-image"].verified("image_sizes")
    with pytest.raises(ValueError, match=r"is not supported by 'google/gemini-2\.5-flash-image'"):
        fake.chat_model().invoke("x", image_size="2K")
    assert fake.requests == []


def test_approximate_lists_are_sent_and_the_server_answers(fake: FakeOpenRouter) -> None:
    lite = KNOWN_MODELS["google/gemini-3.1-flash-lite-image"]
    assert lite.provenance("image_sizes") == "approximate"
    with pytest.raises(OpenRouterInvalidRequestError, match="Unsupported image_size '2K'"):
        fake.chat_model(model=lite.id).invoke("x", image_size="2K")
    assert fake.requests[-1].body["image_config"] == {"image_size": "2K"}
    # What no OpenRouter image model takes is still refused before sending.
    with pytest.raises(ValueError, match="any OpenRouter image model"):
        fake.chat_model(model=lite.id).invoke("x", image_size="8K")
