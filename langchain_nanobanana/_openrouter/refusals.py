"""A refusal in langchain-core's standard form, where the installed core has one.

langchain-core 1.7.5 added the ``refusal`` content block and ``ModelRefusalError``,
which its JSON and Pydantic output parsers raise when a message's ``content_blocks``
hold such a block. An answer this package reads as a refusal (``_finish_reasons``)
ends with one:

    {"type": "refusal", "refusal": "<what happened>", "index": <n>,
     "extras": {"finish_reason": "...", "native_finish_reason": "IMAGE_SAFETY"}}

``refusal`` is the provider's own refusal text when it sent one (the OpenAI-style
``message.refusal`` field), else a sentence saying what the finish reason means.

Cores before 1.7.5 know neither name. There the same block travels wrapped, its index
outside: ``{"type": "non_standard", "value": {<the block above>}, "index": <n>}``. Every
core's ``content_blocks`` passes that through, and structured output raises
``OutputParserException`` naming the refusal where a newer core raises
``ModelRefusalError``. ``response_metadata`` carries both finish reasons either way.
"""

from __future__ import annotations

from typing import Any

import langchain_core.exceptions
from langchain_core.exceptions import OutputParserException
from langchain_core.messages import BaseMessage

from langchain_nanobanana._openrouter.finish_reasons import read


def core_knows_refusals() -> bool:
    """Whether the installed langchain-core has refusal blocks and ``ModelRefusalError``.

    The one feature check: tests replace it to walk the older cores' path.
    """
    return hasattr(langchain_core.exceptions, "ModelRefusalError")


def refusal_block(
    finish_reason: str | None, native_finish_reason: str | None, stated: str = ""
) -> dict[str, Any] | None:
    """The block (without its index) that says an answer was refused; None when it was not.

    ``stated`` is the refusal text the provider sent, if any: that alone makes a refusal.
    """
    reading = read(finish_reason, native_finish_reason)
    if not stated and (reading is None or not reading.meaning.refusal):
        return None
    extras = {
        key: value
        for key, value in (
            ("finish_reason", finish_reason),
            ("native_finish_reason", native_finish_reason),
        )
        if value is not None
    }
    if stated:
        text = stated
    else:
        assert reading is not None  # a refusal without stated text has a reading
        happened = reading.meaning.happened
        text = f"{happened[0].upper()}{happened[1:]} ({reading.reason})."
    refusal: dict[str, Any] = {"type": "refusal", "refusal": text, "extras": extras}
    if core_knows_refusals():
        return refusal
    return {"type": "non_standard", "value": refusal}


def refusal_in(message: BaseMessage) -> dict[str, Any] | None:
    """The refusal block a message holds, in either core's form; None when it holds none."""
    for block in message.content if isinstance(message.content, list) else []:
        if not isinstance(block, dict):
            continue
        wrapped = block.get("value") if block.get("type") == "non_standard" else None
        candidate = wrapped if isinstance(wrapped, dict) else block
        if candidate.get("type") == "refusal":
            return candidate
    return None


def raise_if_refused(message: BaseMessage) -> None:
    """Raise as langchain-core's output parsers do for a refused answer (on any core).

    ``ModelRefusalError`` where the core has it; before 1.7.5, OutputParserException
    with the refusal's text (the parsers of those cores would only say "invalid json").
    """
    refusal = refusal_in(message)
    if refusal is None:
        return
    if core_knows_refusals():
        raise langchain_core.exceptions.ModelRefusalError.from_refusal(
            refusal,  # type: ignore[arg-type]
            raw_message=message,
        )
    text = refusal.get("refusal") or "no reason given"
    raise OutputParserException(
        f"Model refused to produce the requested output: {text}", llm_output=message.text
    )
