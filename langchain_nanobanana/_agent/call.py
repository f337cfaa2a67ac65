"""One call of the image tool: what it asks for, what it works with, and the decisions
its sync and async runs share, so that each run holds only the steps it awaits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.tools import ToolException

from langchain_nanobanana._agent import answer as tool_answer
from langchain_nanobanana._agent.failures import images_or_explain
from langchain_nanobanana._agent.ledger import Ledger
from langchain_nanobanana._agent.progress import ToolProgress
from langchain_nanobanana.errors import OpenRouterError
from langchain_nanobanana.images import GeneratedImage
from langchain_nanobanana.stores import ImageStore


@dataclass(frozen=True)
class ImageCall:
    """What one tool call works with: the run's images, its notes and its progress, and
    what it asks for."""

    images: ImageStore
    ledger: Ledger
    progress: ToolProgress
    prompt: str
    image_ids: list[str]
    aspect_ratio: str | None
    n: int
    estimate: float
    """What the images should cost at list price (0 for a model the catalog lacks)."""

    @property
    def options(self) -> dict[str, Any]:
        """The image model's per-call options."""
        options: dict[str, Any] = {"aspect_ratio": self.aspect_ratio} if self.aspect_ratio else {}
        if self.n > 1:
            options["n"] = self.n
        return options

    def request(self, sources: list[GeneratedImage | str]) -> list[BaseMessage]:
        """The image model's input: the prompt, then each source image or URL."""
        content: list[str | dict[str, Any]] = [{"type": "text", "text": self.prompt}]
        for source in sources:
            content.append(
                source.to_block()
                if isinstance(source, GeneratedImage)
                else {"type": "image", "url": source}
            )
        return [HumanMessage(content=content)]

    def images_in(self, answer: AIMessage) -> tuple[list[GeneratedImage], dict[str, Any]]:
        """The answer's images and the provenance each is stored with; a ToolException
        that says why when there is none."""
        return images_or_explain(answer), tool_answer.provenance(
            self.prompt, self.image_ids, answer
        )

    def result(
        self, made: list[GeneratedImage], handles: list[str], answer: AIMessage
    ) -> tuple[list[GeneratedImage], str]:
        """The stored images under their handles, and the sentence the agent reads."""
        stored = [image.with_id(handle) for image, handle in zip(made, handles, strict=True)]
        return stored, tool_answer.sentence(stored, self.image_ids, answer)

    def cost(self, answer: AIMessage | None) -> float:
        """What OpenRouter says the call cost, else the estimate."""
        cost = answer.response_metadata.get("cost") if answer is not None else None
        return float(cost) if isinstance(cost, (int, float)) else self.estimate

    def failed(self, error: BaseException, answer: AIMessage | None) -> float | None:
        """Says the call failed; what it may have cost, or None when it cannot have been
        billed: refused locally, or an error answer from OpenRouter. Anything else (a
        cancelled run, a connection lost mid-generation) may have been, and is counted at
        the estimate: a budget must not undercount."""
        self.progress.failed(str(error))
        cause = error.__cause__ if isinstance(error, ToolException) else error
        unbilled = isinstance(cause, (OpenRouterError, ValueError, ToolException))
        return None if answer is None and unbilled else self.cost(answer)
