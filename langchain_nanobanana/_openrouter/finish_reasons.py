"""What each finish reason means: a refusal or not, what happened, and what to do instead.

Pure data, read by the answer's refusal block (``_refusals``) and by the sentence an
agent or the command reads when no image came (``_no_image``), so the two cannot
disagree.

A *refusal* is an answer the provider withheld and said so: a filter acted on policy
grounds (safety, prohibited content, recitation of existing work, blocked terms,
personal data), or Gemini reported that it made no picture where one was asked for
(``NO_IMAGE``, ``IMAGE_OTHER``: Gemini's image-generation reasons, which users meet
mostly as quiet moderation). Asking again unchanged is unlikely to get another answer,
which is what langchain-core's ``ModelRefusalError`` says. The other reasons
(``OTHER``, ``MAX_TOKENS``, ``STOP`` without a picture) leave no image too, but
nothing was withheld: a clearer prompt, a retry or a setting fixes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple


@dataclass(frozen=True)
class Meaning:
    """One finish reason: whether it is a refusal, what happened, what to do differently."""

    refusal: bool
    happened: str
    """A clause (no capital, no full stop): "the provider's safety filter blocked the picture"."""
    advice: str
    """One or two sentences for the agent or the user."""


_REPHRASE = (
    "Rephrase the prompt without the content the filter objects to; the same prompt will "
    "be blocked again."
)
_ORIGINAL = (
    "Describe something original instead of a known character, artwork, logo, brand or photo."
)
_ASK_FOR_AN_IMAGE = (
    "Ask explicitly for a picture, e.g. start the prompt with 'Generate an image of', "
    "and say what it should show."
)
_RETRY = "Try once more; if it fails again, simplify or rephrase the prompt."
_TOO_FEW_TOKENS = Meaning(
    refusal=False,
    happened="the answer reached its max_tokens limit before the picture was made",
    advice=(
        "Retrying will not help: max_tokens is set too low for an image; tell the user "
        "it must be raised or left unset."
    ),
)

NATIVE: dict[str, Meaning] = {
    # Gemini's own finish reasons (OpenRouter's native_finish_reason). The first ten are
    # the ones the wire notes list; RECITATION, BLOCKLIST and SPII are Gemini's text-side
    # filters, seen on the same models.
    "SAFETY": Meaning(True, "the provider's safety filter blocked the answer", _REPHRASE),
    "PROHIBITED_CONTENT": Meaning(
        True,
        "the request asks for content the provider prohibits",
        "Ask for something without that content: rewording will not get it past the filter.",
    ),
    "IMAGE_SAFETY": Meaning(True, "the provider's safety filter blocked the picture", _REPHRASE),
    "IMAGE_PROHIBITED_CONTENT": Meaning(
        True,
        "the picture would show content the provider prohibits",
        "Describe a picture without that content; the same request will be blocked again.",
    ),
    "IMAGE_RECITATION": Meaning(
        True, "the picture came too close to existing, possibly copyrighted work", _ORIGINAL
    ),
    "RECITATION": Meaning(
        True, "the answer came too close to existing, possibly copyrighted material", _ORIGINAL
    ),
    "BLOCKLIST": Meaning(
        True,
        "the request contains terms the provider blocks",
        "Remove the blocked terms and describe the picture in other words.",
    ),
    "SPII": Meaning(
        True,
        "the answer would contain sensitive personal information",
        "Leave out personal details of real people (names, numbers, addresses).",
    ),
    "IMAGE_OTHER": Meaning(
        True, "the picture could not be made, for a reason the provider did not give", _RETRY
    ),
    "NO_IMAGE": Meaning(True, "the model answered without making a picture", _ASK_FOR_AN_IMAGE),
    "OTHER": Meaning(False, "the provider stopped for a reason it did not name", _RETRY),
    "MAX_TOKENS": _TOO_FEW_TOKENS,
    "STOP": Meaning(False, "the model replied with text only", _ASK_FOR_AN_IMAGE),
}
"""By ``native_finish_reason``: what the provider itself said."""

NORMALISED: dict[str, Meaning] = {
    "content_filter": Meaning(True, "a content filter blocked the answer", _REPHRASE),
    "length": _TOO_FEW_TOKENS,
    "stop": NATIVE["STOP"],
}
"""By OpenRouter's ``finish_reason``: for answers without a native reason, and
``content_filter`` whatever the native reason."""

_REFUSAL_WORDS = ("SAFETY", "PROHIBITED", "RECITATION", "BLOCKLIST", "SPII")
_UNNAMED_FILTER = Meaning(True, "a provider filter blocked the answer", _REPHRASE)
_UNKNOWN_NATIVE = Meaning(
    False,
    "the provider gave a reason this package does not know",
    "Try again or rephrase the prompt.",
)


class Reading(NamedTuple):
    """The finish reason that decides, and what it means."""

    reason: str
    meaning: Meaning


def read(finish_reason: str | None, native_finish_reason: str | None) -> Reading | None:
    """What an answer's finish reasons mean; None when it has neither one we can read.

    The provider's native reason is the more precise, so it decides, except that
    OpenRouter's ``content_filter`` always makes a refusal (OpenRouter says a filter
    acted). A native reason we do not know yet is a refusal when it names a filter
    (``IMAGE_BLOCKLIST``, say).
    """
    finish = finish_reason or ""
    normalised = NORMALISED.get(finish)
    if native_finish_reason:
        meaning = NATIVE.get(native_finish_reason)
        if meaning is None:
            named_filter = any(word in native_finish_reason for word in _REFUSAL_WORDS)
            meaning = _UNNAMED_FILTER if named_filter else _UNKNOWN_NATIVE
        if normalised is not None and normalised.refusal and not meaning.refusal:
            return Reading(finish, normalised)
        return Reading(native_finish_reason, meaning)
    return Reading(finish, normalised) if normalised is not None else None
