"""Do generated images survive? ChatNanoBanana and its peers against the same emulated answer.

Each model calls the emulator (on loopback, recorded OpenRouter wire shape) for
``google/gemini-2.5-flash-image`` with ``modalities: ["image", "text"]`` and we
look for the image's bytes anywhere in what comes back (content, additional
kwargs, metadata), from ``invoke`` and from the sum of ``stream``.

    pip install -e ".[bench]" && python bench/peer_images.py
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage

from langchain_nanobanana import ChatNanoBanana
from langchain_nanobanana.testing import FakeOpenRouter

MODEL = "google/gemini-2.5-flash-image"
MODALITIES = ["image", "text"]
PNG_BASE64_SIGNATURE = "iVBORw0KGgo"


def _peers(base_url: str) -> dict[str, Callable[[], BaseChatModel]]:
    def chat_openai() -> BaseChatModel:
        from langchain_openai import ChatOpenAI

        return ChatOpenAI(
            model=MODEL,
            base_url=base_url,
            api_key="sk-or-bench",
            extra_body={"modalities": MODALITIES},
        )  # type: ignore[arg-type]

    def chat_openrouter() -> BaseChatModel:
        from langchain_openrouter import ChatOpenRouter

        return ChatOpenRouter(
            model=MODEL,
            base_url=base_url,
            api_key="sk-or-bench",
            model_kwargs={"modalities": MODALITIES},
        )  # type: ignore[call-arg]

    def chat_nanobanana() -> BaseChatModel:
        return ChatNanoBanana(base_url=base_url, api_key="sk-or-bench")  # type: ignore[call-arg]

    return {
        "ChatOpenAI (langchain-openai)": chat_openai,
        "ChatOpenRouter (langchain-openrouter)": chat_openrouter,
        "ChatNanoBanana": chat_nanobanana,
    }


def _has_image(message: BaseMessage) -> bool:
    return PNG_BASE64_SIGNATURE in json.dumps(message.model_dump(), default=str)


def _outcome(call: Callable[[], BaseMessage]) -> str:
    try:
        return "kept" if _has_image(call()) else "DROPPED"
    except Exception as error:
        return f"fails: {type(error).__name__}: {str(error).splitlines()[0][:90]}"


def _streamed(llm: BaseChatModel) -> BaseMessage:
    total: Any = None
    for chunk in llm.stream("a nano banana dish"):
        total = chunk if total is None else total + chunk
    return total  # type: ignore[no-any-return]


def main() -> None:
    with FakeOpenRouter().serve() as base_url:
        print("| model | image from invoke | image from stream |\n|---|---|---|")
        for name, make in _peers(base_url).items():
            try:
                llm = make()
            except ImportError:
                print(f"| {name} | not installed | not installed |")
                continue
            invoked = _outcome(lambda llm=llm: llm.invoke("a nano banana dish"))  # type: ignore[misc]
            streamed = _outcome(lambda llm=llm: _streamed(llm))  # type: ignore[misc]
            print(f"| {name} | {invoked} | {streamed} |")


if __name__ == "__main__":
    main()
