"""The call plan: which endpoint serves a call, how many requests it takes, and each body.

The chat model resolves the options and the model's facts; the plan turns them into
one ``Exchange`` per request, gathered by the fan-out's ``Call``. Every body is built
and checked before the key is looked at, so bad input is refused before a missing
key is reported, and nothing is sent until the call is answered.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from langchain_core.messages import BaseMessage
from pydantic import SecretStr

from langchain_nanobanana._openrouter import chat_completions, images_api
from langchain_nanobanana._openrouter.discovery import ModelFacts
from langchain_nanobanana._openrouter.options import CallOptions
from langchain_nanobanana._openrouter.tool_calling import check_tool_calling
from langchain_nanobanana._transport.connection import api_key_value
from langchain_nanobanana._transport.exchange import Exchange
from langchain_nanobanana._transport.fanout import Call
from langchain_nanobanana._transport.http import Transport
from langchain_nanobanana._transport.limits import CallLimits


def plan_call(
    messages: Sequence[BaseMessage],
    options: CallOptions,
    facts: ModelFacts,
    *,
    endpoint: str | None,
    model_kwargs: Mapping[str, Any] | None,
    transport: Transport,
    api_key: SecretStr | None,
    stream: bool,
    limits: CallLimits | None = None,
) -> Call:
    """This call's request(s), checked and built, ready to be answered or streamed.
    ``limits``: the call's deadline when it began before the plan (discovery)."""
    chosen = endpoint_for(endpoint, options.model, facts)
    if options.tools:
        check_tool_calling(options.model, facts.calls_tools, chosen)
    per_request = 1 if chosen == "chat" else facts.images_per_request or options.count
    api = chat_completions if chosen == "chat" else images_api
    counts = request_sizes(options.count, per_request)
    sized = replace(options, n=counts[0]) if options.n is not None else options
    # A fan-out gathers whole answers; only a single request streams.
    native_stream = chosen == "chat" or facts.native_stream
    streamed = stream and len(counts) == 1 and native_stream
    body = api.request_body(messages, sized, stream=streamed, model_kwargs=model_kwargs)
    if chosen == "images":
        images_api.check_discovered(body, facts.parameters)
    key = api_key_value(api_key)
    exchanges = [
        Exchange(
            endpoint=api.ENDPOINT,
            transport=transport,
            api_key=key,
            body=varied(body, number, count, chosen),
            model=options.model,
            native_stream=native_stream,
            limits=limits,
        )
        for number, count in enumerate(counts)
    ]
    return Call(exchanges, images=options.count)


def endpoint_for(chosen: str | None, model: str, facts: ModelFacts) -> str:
    """The endpoint to call: the one chosen, else chat unless only the Image API serves it.

    A chosen endpoint the model is not known to be served on is refused only where that
    knowledge is recorded, documented or listed; otherwise the call goes there and the
    server's answer says (400 ``wrong_endpoint``, mapped to a clear error)."""
    if chosen is None:
        return "images" if "chat" not in facts.endpoints else "chat"
    if chosen not in facts.endpoints and facts.endpoints_verified:
        served = " and ".join(facts.endpoints)
        msg = (
            f"{model!r} is not served on the {chosen!r} endpoint (OpenRouter serves it on: "
            f"{served}); leave endpoint unset or pass endpoint={facts.endpoints[0]!r}."
        )
        raise ValueError(msg)
    return chosen


def request_sizes(images: int, per_request: int) -> list[int]:
    """How many images each request asks for: 5 at 2 a request -> [2, 2, 1]."""
    full, rest = divmod(images, max(per_request, 1))
    return [per_request] * full + ([rest] if rest else [])


def varied(body: dict[str, Any], number: int, count: int, endpoint: str) -> dict[str, Any]:
    """The body of request ``number`` of a fan-out: its own image count, and its own seed,
    so that a seeded call for several images gets as many different (reproducible) ones."""
    copy = dict(body)
    if endpoint == "images" and "n" in copy:
        copy["n"] = count
    if number and isinstance(body.get("seed"), int):
        copy["seed"] = body["seed"] + number
    return copy
