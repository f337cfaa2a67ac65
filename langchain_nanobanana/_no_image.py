"""Why an answer holds no image, said once for the tool and the command alike."""

from __future__ import annotations

from dataclasses import dataclass

from langchain_core.messages import AIMessage

from langchain_nanobanana._text import shorten

_REFUSAL_WORDS = ("SAFETY", "PROHIBITED", "RECITATION", "BLOCKLIST", "SPII")
_SAID_CHARS = 160


@dataclass(frozen=True)
class MissingImage:
    """An answer without an image: the provider's finish reason and the model's words."""

    reason: str | None
    said: str

    @classmethod
    def of(cls, answer: AIMessage) -> MissingImage:
        metadata = answer.response_metadata
        reason = metadata.get("native_finish_reason") or metadata.get("finish_reason")
        return cls(reason if isinstance(reason, str) else None, answer.text)

    @property
    def refused(self) -> bool:
        """A safety or policy filter stopped the image (IMAGE_SAFETY, PROHIBITED_CONTENT, ...)."""
        return self.reason is not None and any(word in self.reason for word in _REFUSAL_WORDS)

    def sentence(self) -> str:
        """What happened and what to do differently, in one or two sentences."""
        said = shorten(self.said, _SAID_CHARS)
        words = f' It said: "{said}"' if said else ""
        advice = (
            "Rephrase the prompt to avoid what the safety filter objects to."
            if self.refused
            else "Try again or rephrase the prompt."
        )
        return (
            f"The image model returned no image (finish reason {self.reason or 'unknown'})."
            f"{words} {advice}"
        )
