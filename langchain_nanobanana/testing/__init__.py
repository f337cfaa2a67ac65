"""An offline emulator of OpenRouter's chat/completions endpoint, for testing image agents.

No key, no network, no money: ``FakeOpenRouter`` answers like OpenRouter does
(recorded envelope, real PNGs at the right pixel size, SSE with keep-alives,
OpenRouter's validation errors) and can be scripted to fail.

Test your own agent or chain with it:

    from langchain_nanobanana import NanoBananaImageTool
    from langchain_nanobanana.testing import FakeOpenRouter, Outcome, describe_image

    fake = FakeOpenRouter()
    llm = fake.chat_model()                       # ChatNanoBanana wired to the emulator
    message = llm.invoke("a nano banana dish")
    fake.requests[-1].body["messages"]            # exactly what was sent

    tool = NanoBananaImageTool(llm=llm)           # or your agent around it
    fake.enqueue(Outcome.http_error(429, headers={"Retry-After": "0"}))  # next call: rate limited
    fake.enqueue(Outcome.no_image("IMAGE_SAFETY", "I can't draw that."))  # a refusal

    # Anything that speaks HTTP (curl, ChatOpenAI, your service) can use it too:
    with fake.serve() as base_url:                # http://127.0.0.1:<port>/api/v1
        ...

To drive an agent offline too, ``ScriptedAgentModel(turns=[...])`` plays the
tool-calling model from a script.

Its answers follow recordings of live OpenRouter traffic; where those differ, an option
gives the other form (``text_before_image``, ``usage_cost``, ``media_type``,
``provider_name``). To check against your own live traffic, record it and replay it:

    llm = ChatNanoBanana(record_to="bug-report")  # or NANOBANANA_RECORD=bug-report
    llm.invoke("...")                             # each exchange becomes a fixture, no key
    fake = FakeOpenRouter.replay("bug-report")    # or: nanobanana serve --replay bug-report

``describe_image(png_bytes)`` tells what the emulator drew: the prompt, the seed,
the model and, for edits, the sha256 of each input image.
"""

from __future__ import annotations

from typing import Any

from langchain_nanobanana._content.dimensions import image_dimensions
from langchain_nanobanana.testing._agent_model import ScriptedAgentModel
from langchain_nanobanana.testing._app import RecordedRequest
from langchain_nanobanana.testing._fake import FAKE_API_KEY, FakeOpenRouter
from langchain_nanobanana.testing._outcomes import Outcome
from langchain_nanobanana.testing._png import png_text


def describe_image(png: bytes) -> dict[str, Any]:
    """What the emulator recorded in one of its PNGs, plus its pixel size."""
    width, height = image_dimensions(png) or (None, None)
    return {**png_text(png), "width": width, "height": height}


__all__ = [
    "FAKE_API_KEY",
    "FakeOpenRouter",
    "Outcome",
    "RecordedRequest",
    "ScriptedAgentModel",
    "describe_image",
]
