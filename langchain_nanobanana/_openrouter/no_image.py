"""Why an answer holds no image, said once for the tool and the command alike."""

from __future__ import annotations

from dataclasses import dataclass

from langchain_core.messages import AIMessage

from langchain_nanobanana._content.text import shorten
from langchain_nanobanana._openrouter.finish_reasons import Meaning, Reading, read

_SAID_CHARS = 160
_UNKNOWN = Meaning(
    refusal=False,
    happened="the provider did not say why",
    advice="Try again or rephrase the prompt.",
)


@dataclass(frozen=True)
class MissingImage:
    """An answer without an image: the provider's finish reasons and the model's words."""

    native_finish_reason: str | None
    finish_reason: str | None
    said: str

    @classmethod
    def of(cls, answer: AIMessage) -> MissingImage:
        metadata = answer.response_metadata
        native, finish = metadata.get("native_finish_reason"), metadata.get("finish_reason")
        # A refusal the provider wrote out (message.refusal) is what the model said.
        stated = answer.additional_kwargs.get("refusal")
        return cls(
            native if isinstance(native, str) else None,
            finish if isinstance(finish, str) else None,
            answer.text or (stated if isinstance(stated, str) else ""),
        )

    @property
    def reading(self) -> Reading:
        """The reason that decides and what it means (``_finish_reasons``)."""
        reading = read(self.finish_reason, self.native_finish_reason)
        if reading is None:
            return Reading(self.native_finish_reason or self.finish_reason or "unknown", _UNKNOWN)
        return reading

    def sentence(self) -> str:
        """What happened and what to do differently, in two or three sentences."""
        said = shorten(self.said, _SAID_CHARS)
        words = f' It said: "{said}"' if said else ""
        reason, meaning = self.reading
        return (
            f"The image model returned no image (finish reason {reason}): "
            f"{meaning.happened}.{words} {meaning.advice}"
        )
