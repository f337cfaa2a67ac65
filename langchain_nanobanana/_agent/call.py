"""One call of the image tool: what it asks for, what it works with, and the decisions
its sync and async runs share, so that each run holds only the steps it awaits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage

from langchain_nanobanana._agent import answer as tool_answer
from langchain_nanobanana._agent.failures import images_or_explain, may_have_been_billed
from langchain_nanobanana._agent.ledger import BudgetSpentError, Ledger
from langchain_nanobanana._agent.progress import ToolProgress
from langchain_nanobanana._agent.sources import Sources
from langchain_nanobanana._agent.thread_images import ThreadHistory
from langchain_nanobanana._content.lent_images import LentImage
from langchain_nanobanana._content.urls import without_signature
from langchain_nanobanana.images import GeneratedImage, images_from
from langchain_nanobanana.stores import ImageStore

MOST_PER_IMAGE_USD = 2.0
"""Dollars per image asked above which a reported cost is not believed (about eight
times the dearest image OpenRouter lists); see ``trusted_cost``."""


def trusted_cost(reported: Any, estimate: float, images: int) -> float:
    """What a call is counted at: the reported cost when it is a finite, non-negative
    number no larger than is plausible for ``images`` images, else the estimate.

    A NaN would switch a cost budget off, a negative cost would be a credit, and 1e308
    would block the scope for good: none of them is a cost."""
    if isinstance(reported, bool) or not isinstance(reported, (int, float)):
        return estimate
    most = max(images * MOST_PER_IMAGE_USD, 10 * estimate)
    return float(reported) if 0 <= reported <= most else estimate


@dataclass(frozen=True)
class ImageCall:
    """What one tool call works with: the run's images, its notes and its progress, and
    what it asks for."""

    images: ImageStore
    ledger: Ledger
    progress: ToolProgress
    prompt: str
    sources: Sources
    aspect_ratio: str | None
    n: int
    estimate: float
    """What the images should cost at list price (0 for a model the catalog lacks)."""
    history: ThreadHistory = field(default_factory=ThreadHistory)
    """The thread's messages, where a handle the store lost may still be found."""

    @property
    def image_ids(self) -> list[str]:
        """The sources asked for, each once, in order."""
        return self.sources.references

    @property
    def shown_ids(self) -> list[str]:
        """The sources as the agent, progress events and stored provenance see them: a
        URL's signature (its query) left out."""
        return [without_signature(reference) for reference in self.sources.references]

    @property
    def options(self) -> dict[str, Any]:
        """The image model's per-call options."""
        options: dict[str, Any] = {"aspect_ratio": self.aspect_ratio} if self.aspect_ratio else {}
        if self.n > 1:
            options["n"] = self.n
        return options

    def request(
        self, sources: Sequence[GeneratedImage | str]
    ) -> tuple[list[BaseMessage], dict[str, LentImage]]:
        """The image model's input: the prompt, then each source image or URL; and the
        stored images' bytes, to be lent to the call (see ``lent_images``): a stored
        image goes by its handle as ``file_id``, never as base64 text held all call long."""
        content: list[str | dict[str, Any]] = [{"type": "text", "text": self.prompt}]
        lent: dict[str, LentImage] = {}
        for source in sources:
            if isinstance(source, str):
                content.append({"type": "image", "url": source})
                continue
            handle = source.id or ""
            lent[handle] = LentImage(source.data, source.mime_type)
            content.append(
                {"type": "image", "file_id": handle, "mime_type": source.mime_type, "id": handle}
            )
        return [HumanMessage(content=content)], lent

    def images_in(self, answer: AIMessage) -> tuple[list[GeneratedImage], dict[str, Any]]:
        """The answer's images, never more than were asked for, and the provenance each
        is stored with; a ToolException that says why when there is none."""
        made = images_or_explain(answer)[: self.n]
        return made, tool_answer.provenance(self.prompt, self.shown_ids, answer)

    def result(
        self, made: list[GeneratedImage], handles: list[str], answer: AIMessage
    ) -> tuple[list[GeneratedImage], str]:
        """The stored images under their handles, and the sentence the agent reads."""
        stored = [image.with_id(handle) for image, handle in zip(made, handles, strict=True)]
        return stored, tool_answer.sentence(stored, self.shown_ids, answer)

    def cost(self, answer: AIMessage | None) -> float:
        """What OpenRouter says the call cost, when that is believable; else the estimate."""
        reported = answer.response_metadata.get("cost") if answer is not None else None
        return trusted_cost(reported, self.estimate, self.n)

    def spent(self, made: list[GeneratedImage], answer: AIMessage) -> tuple[int, float]:
        """What a call that made images is counted at. When some of its parallel
        requests failed in a way that may have been billed, the whole call counts (the
        images asked for, at least the estimate)."""
        failures = answer.response_metadata.get("errors") or []
        if any(isinstance(f, dict) and f.get("possibly_billed") is not False for f in failures):
            return self.n, max(self.cost(answer), self.estimate)
        return len(made), self.cost(answer)

    def failed(self, error: BaseException, answer: AIMessage | None) -> tuple[int, float] | None:
        """Says the call failed; what it is counted at (images, dollars), or None when it
        cannot have been billed. An answer that came counts its images (as many as were
        asked, at most) at its cost; without one, a failure that may have been billed
        (see ``failures.may_have_been_billed``) counts the reservation: the images asked
        for, at the estimate. A budget must not undercount."""
        self.progress.failed(str(error))
        if answer is not None:
            return min(len(images_from(answer)), self.n), self.cost(answer)
        if not may_have_been_billed(error):
            return None
        return self.n, self.estimate

    def reserve(self) -> None:
        """Claims the call's images in the budget; a refusal is told to the UI as a failure."""
        try:
            self.ledger.reserve(self.n, self.estimate)
        except BudgetSpentError as refusal:
            self.progress.failed(str(refusal))
            raise

    async def areserve(self) -> None:
        try:
            await self.ledger.areserve(self.n, self.estimate)
        except BudgetSpentError as refusal:
            self.progress.failed(str(refusal))
            raise
