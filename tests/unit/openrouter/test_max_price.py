"""max_price: a typed price cap that lands in the body as provider.max_price, checked first."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pydantic import ValidationError

from langchain_nanobanana import ChatNanoBanana
from langchain_nanobanana.chat_models import MaxPrice
from langchain_nanobanana.testing import FakeOpenRouter

CAP: MaxPrice = {"prompt": 0.5, "completion": 40, "image": 0.01, "audio": 0, "request": 0.002}


def _bodies(fake: FakeOpenRouter) -> list[dict[str, Any]]:
    bodies = [request.body for request in fake.requests if request.path.endswith("/completions")]
    assert all(isinstance(body, dict) for body in bodies)
    return bodies


def test_the_cap_goes_in_provider_beside_the_routing_given(fake: FakeOpenRouter) -> None:
    llm = fake.chat_model(
        provider={"order": ["google-vertex"], "allow_fallbacks": False}, max_price=CAP
    )

    llm.invoke("a banana")
    list(llm.stream("a banana"))
    asyncio.run(llm.ainvoke("a banana"))

    for body in _bodies(fake):
        assert body["provider"] == {
            "order": ["google-vertex"],
            "allow_fallbacks": False,
            "max_price": {
                "prompt": 0.5,
                "completion": 40,
                "image": 0.01,
                "audio": 0,
                "request": 0.002,
            },
        }
    assert len(_bodies(fake)) == 3


def test_the_values_are_sent_as_given(fake: FakeOpenRouter) -> None:
    fake.chat_model(max_price={"completion": 40}).invoke("a banana")
    sent = _bodies(fake)[-1]["provider"]["max_price"]["completion"]
    assert sent == 40 and isinstance(sent, int), "no 40 -> 40.0 on the way"


def test_a_call_replaces_the_models_cap_and_none_clears_it(fake: FakeOpenRouter) -> None:
    llm = fake.chat_model(max_price={"prompt": 1, "completion": 30})

    llm.invoke("a banana", max_price={"image": 0.02})
    llm.bind(max_price=None).invoke("a banana")

    first, second = _bodies(fake)
    assert first["provider"] == {"max_price": {"image": 0.02}}
    assert "provider" not in second


def test_a_per_call_cap_joins_the_models_routing(fake: FakeOpenRouter) -> None:
    llm = fake.chat_model(provider={"sort": "price"})
    llm.invoke("a banana", max_price={"completion": 30})
    assert _bodies(fake)[-1]["provider"] == {"sort": "price", "max_price": {"completion": 30}}


def test_every_request_of_a_fan_out_carries_the_cap(fake: FakeOpenRouter) -> None:
    fake.chat_model(max_price={"completion": 30}).invoke("a banana", n=2)
    bodies = _bodies(fake)
    assert len(bodies) == 2
    assert all(body["provider"] == {"max_price": {"completion": 30}} for body in bodies)


def test_the_cap_is_part_of_the_cache_key() -> None:
    capped = ChatNanoBanana(api_key="sk-or-test", max_price={"completion": 30})
    assert capped._identifying_params["max_price"] == {"completion": 30}
    assert ChatNanoBanana(api_key="sk-or-test")._identifying_params["max_price"] is None


BAD_CAPS = [
    ({"promt": 1}, r"Unknown max_price key\(s\): 'promt' \(did you mean 'prompt'\?\)"),
    ({"image_output": 1}, r"'image_output'; max_price takes prompt, completion, image, audio"),
    ({"prompt": -0.1}, r"max_price\['prompt'\]=-0.1 must be a price in US dollars"),
    ({"prompt": "0.5"}, r"max_price\['prompt'\]='0.5' must be a price in US dollars: a number"),
    ({"prompt": True}, r"max_price\['prompt'\]=True must be"),
    ({"prompt": None}, r"max_price\['prompt'\]=None must be"),
    ({"prompt": float("inf")}, r"max_price\['prompt'\]=inf must be"),
    ({"prompt": float("nan")}, r"max_price\['prompt'\]=nan must be"),
    ({}, r"max_price is empty, which caps nothing; pass None"),
    (0.5, r"max_price must be a dict of US dollar prices .*, not 0.5"),
]


@pytest.mark.parametrize(("cap", "message"), BAD_CAPS)
def test_a_bad_cap_is_refused_before_any_request(
    fake: FakeOpenRouter, cap: Any, message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        fake.chat_model(max_price=cap)
    with pytest.raises(ValueError, match=message):
        fake.chat_model().invoke("a banana", max_price=cap)
    with pytest.raises(ValueError, match=message):
        list(fake.chat_model().stream("a banana", max_price=cap))
    assert fake.requests == []


def test_a_cap_given_twice_is_refused_rather_than_one_replacing_the_other(
    fake: FakeOpenRouter,
) -> None:
    twice = r"max_price is set both as an option and inside provider=\{...\}; pass it once"
    with pytest.raises(ValueError, match=twice):
        fake.chat_model(provider={"max_price": {"prompt": 1}}).invoke(
            "a banana", max_price={"prompt": 2}
        )
    with pytest.raises(ValueError, match=twice):
        fake.chat_model(max_price={"prompt": 2}).invoke(
            "a banana", provider={"max_price": {"prompt": 1}}
        )
    with pytest.raises(ValueError, match=r"model_kwargs\['provider'\] both set the provider"):
        fake.chat_model(model_kwargs={"provider": {"sort": "price"}}).invoke(
            "a banana", max_price={"prompt": 2}
        )
    assert fake.requests == []


def test_a_raw_provider_object_is_still_sent_as_given(fake: FakeOpenRouter) -> None:
    raw = {"max_price": {"prompt": "1000"}, "sort": "price"}
    fake.chat_model(provider=raw).invoke("a banana")
    assert _bodies(fake)[-1]["provider"] == raw


def test_the_image_api_refuses_a_cap_it_has_no_field_for(fake: FakeOpenRouter) -> None:
    llm = fake.chat_model(endpoint="images", max_price={"completion": 30})
    with pytest.raises(ValueError, match=r"max_price: not options of the Image API"):
        llm.invoke("a banana")
    assert fake.requests == []
