"""Per-call options: one typed shape from which defaults, checks and the body all come."""

from __future__ import annotations

from dataclasses import fields

import pytest
from langchain_core.messages import HumanMessage

from langchain_nanobanana import ChatNanoBanana
from langchain_nanobanana._openrouter.chat_completions import request_body
from langchain_nanobanana._openrouter.options import (
    BOUND_ONLY,
    MODEL_OPTION_NAMES,
    OPTION_NAMES,
    CallOptions,
)

DEFAULTS = {"model": "google/gemini-3-pro-image", "modalities": ["image", "text"]}


def test_every_option_is_a_field_of_the_chat_model_and_one_of_its_defaults() -> None:
    llm = ChatNanoBanana(api_key="sk-or-test", seed=7)
    assert set(MODEL_OPTION_NAMES) <= set(ChatNanoBanana.model_fields)
    assert set(OPTION_NAMES) - set(MODEL_OPTION_NAMES) == set(BOUND_ONLY)
    assert not set(BOUND_ONLY) & set(ChatNanoBanana.model_fields), "bind_tools sets them"
    assert tuple(llm._default_params) == MODEL_OPTION_NAMES
    assert llm._default_params["seed"] == 7


def test_each_option_goes_where_the_chat_endpoint_expects_it() -> None:
    options = CallOptions.resolve(
        DEFAULTS,
        {
            "aspect_ratio": "16:9",
            "image_size": "2K",
            "temperature": 0.5,
            "top_p": 0.9,
            "seed": 3,
            "max_tokens": 500,
            "response_format": {"type": "json_object"},
            "provider": {"order": ["google-vertex"]},
        },
        stop=["END"],
    )

    body = request_body(
        [HumanMessage("a banana")], options, stream=True, model_kwargs={"user": "u"}
    )

    assert body == {
        "model": "google/gemini-3-pro-image",
        "messages": [{"role": "user", "content": "a banana"}],
        "modalities": ["image", "text"],
        "image_config": {"aspect_ratio": "16:9", "image_size": "2K"},
        "temperature": 0.5,
        "top_p": 0.9,
        "seed": 3,
        "max_tokens": 500,
        "stop": ["END"],
        "response_format": {"type": "json_object"},
        "provider": {"order": ["google-vertex"]},
        "user": "u",
        "stream": True,
    }
    placed = {option.name for option in fields(CallOptions) if option.metadata}
    assert placed == set(OPTION_NAMES) - {"model", "modalities", "n"}


def test_unset_options_stay_off_the_wire_and_a_text_only_call_has_no_image_config() -> None:
    options = CallOptions.resolve(
        DEFAULTS, {"aspect_ratio": "1:1", "modalities": ["text"], "temperature": None}
    )
    body = request_body([HumanMessage("hi")], options, stream=False, model_kwargs={})
    assert body == {
        "model": "google/gemini-3-pro-image",
        "messages": [{"role": "user", "content": "hi"}],
        "modalities": ["text"],
    }


def test_an_override_of_none_clears_the_default() -> None:
    options = CallOptions.resolve({**DEFAULTS, "seed": 5}, {"seed": None})
    assert options.seed is None


def test_unknown_options_and_impossible_values_are_refused() -> None:
    with pytest.raises(
        TypeError, match=r"'aspect_ration' \(did you mean 'aspect_ratio'\?\).*put other OpenRouter"
    ):
        CallOptions.resolve(DEFAULTS, {"aspect_ration": "16:9"})
    with pytest.raises(ValueError, match=r"aspect_ratio='8:1' is not supported"):
        CallOptions.resolve(DEFAULTS, {"aspect_ratio": "8:1"})
    with pytest.raises(ValueError, match=r"image_size='0.5K'.*use one of: 1K, 2K, 4K"):
        CallOptions.resolve(DEFAULTS, {"image_size": "0.5K"})
    # What langchain-core itself passes down is not an option, and not an error.
    assert CallOptions.resolve(DEFAULTS, {"stream": True}).model == DEFAULTS["model"]


@pytest.mark.parametrize(
    ("model", "modalities"),
    [
        ("black-forest-labs/flux.2-pro", ["image"]),
        ("google/gemini-2.5-flash-image", ["image", "text"]),
        ("some-lab/a-model-we-do-not-know", ["image", "text"]),
    ],
)
def test_unset_modalities_follow_the_catalog(model: str, modalities: list[str]) -> None:
    assert CallOptions.resolve({"model": model, "modalities": None}, {}).modalities == modalities


def test_a_per_call_model_change_picks_that_models_modalities() -> None:
    defaults = {"model": "google/gemini-2.5-flash-image", "modalities": None}
    flux = CallOptions.resolve(defaults, {"model": "black-forest-labs/flux.2-pro"})
    assert flux.modalities == ["image"]
    chosen = CallOptions.resolve(
        defaults, {"model": "black-forest-labs/flux.2-pro", "modalities": ["image", "text"]}
    )
    assert chosen.modalities == ["image", "text"], "an explicit choice is kept"
