"""Exceptions raised by ChatNanoBanana.

Every class subclasses one of langchain-core's ``Model*Error`` types, so code that
catches those (retry middleware, fallbacks) works unchanged, and also
``OpenRouterError``, which keeps what OpenRouter said: the HTTP status, the error
body, the generation id and, where it applies, the partial answer.
"""

from __future__ import annotations

from typing import Any

from langchain_core.exceptions import (
    ContextOverflowError,
    ModelAPIError,
    ModelAuthenticationError,
    ModelConnectionError,
    ModelError,
    ModelInvalidRequestError,
    ModelNotFoundError,
    ModelPermissionDeniedError,
    ModelRateLimitError,
    ModelTimeoutError,
)
from langchain_core.messages import AIMessage

__all__ = [
    "CallInterrupted",
    "OpenRouterAPIError",
    "OpenRouterAuthenticationError",
    "OpenRouterConnectionError",
    "OpenRouterContextOverflowError",
    "OpenRouterError",
    "OpenRouterInsufficientCreditsError",
    "OpenRouterInvalidRequestError",
    "OpenRouterNotFoundError",
    "OpenRouterPermissionDeniedError",
    "OpenRouterRateLimitError",
    "OpenRouterTimeoutError",
]


class OpenRouterError(ModelError):
    """Base of every error this package raises for a failed OpenRouter call.

    Attributes:
        status_code: HTTP status, or the ``code`` of an error delivered inside a
            200 body or a stream chunk; None when no answer arrived.
        body: the parsed error body as OpenRouter sent it (or an excerpt of a body
            that was not JSON, under ``"raw"``).
        generation_id: the ``gen-...`` id, when the failure happened after
            OpenRouter assigned one (look it up with ``GET /generation``).
        retry_after: seconds the server asked us to wait, when it said so.
        partial_message: what the model had produced before the failure (text and
            images that arrived before a mid-stream error), so nothing paid for is lost.
        possibly_billed: whether OpenRouter may have billed the call, from the stage
            it failed at: False when every request was declined with an error status
            or never reached the server whole; True when a request was sent whole and
            its answer did not arrive whole (a timeout, a dropped connection, a bad
            answer after a 200); None when the transport did not say (an error raised
            after the answer began), which budgets count as possibly billed.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        body: dict[str, Any] | None = None,
        generation_id: str | None = None,
        retry_after: float | None = None,
        partial_message: AIMessage | None = None,
        possibly_billed: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.possibly_billed = possibly_billed
        self.message = message
        self.status_code = status_code
        self.body = body
        self.generation_id = generation_id
        self.retry_after = retry_after
        self.partial_message = partial_message

    @property
    def metadata(self) -> dict[str, Any]:
        """The ``error.metadata`` object of the body (empty when absent)."""
        error = (self.body or {}).get("error")
        metadata = error.get("metadata") if isinstance(error, dict) else None
        return dict(metadata) if isinstance(metadata, dict) else {}


class OpenRouterAuthenticationError(ModelAuthenticationError, OpenRouterError):
    """401: the API key is missing, wrong or revoked."""


class OpenRouterInsufficientCreditsError(ModelAPIError, OpenRouterError):
    """402: the account cannot pay for the request as asked."""

    is_retryable = False


class OpenRouterPermissionDeniedError(ModelPermissionDeniedError, OpenRouterError):
    """403: moderation refused the input; see ``reasons`` and ``flagged_input``."""

    @property
    def reasons(self) -> list[str]:
        """Why moderation flagged the input, as OpenRouter listed it."""
        reasons = self.metadata.get("reasons")
        return [str(reason) for reason in reasons] if isinstance(reasons, list) else []

    @property
    def flagged_input(self) -> str | None:
        """The part of the input moderation flagged, when OpenRouter says."""
        flagged = self.metadata.get("flagged_input")
        return str(flagged) if flagged is not None else None


class OpenRouterNotFoundError(ModelNotFoundError, OpenRouterError):
    """404: unknown model, or no endpoint serves the requested modalities."""


class OpenRouterInvalidRequestError(ModelInvalidRequestError, OpenRouterError):
    """400, 413, 422: the request itself is wrong; retrying will not help."""


class OpenRouterContextOverflowError(ContextOverflowError, OpenRouterInvalidRequestError):
    """400 whose message says the input exceeds the model's context window."""


class OpenRouterRateLimitError(ModelRateLimitError, OpenRouterError):
    """429: too many requests; retried automatically, raised once retries run out."""


class OpenRouterAPIError(ModelAPIError, OpenRouterError):
    """5xx, 524, 529, or an answer we could not read: a failure on the far side."""


class OpenRouterTimeoutError(ModelTimeoutError, OpenRouterError):
    """The request took longer than ``timeout`` (or the server answered 408)."""


class OpenRouterConnectionError(ModelConnectionError, OpenRouterError):
    """OpenRouter could not be reached, or the connection broke mid-answer."""


class CallInterrupted(KeyboardInterrupt):
    """Ctrl-C while a sync call (``invoke``, ``stream``) for several images waited on
    its parallel requests.

    The wait ends at once: the requests still running are abandoned (their answers
    are dropped when they come; a process that exits closes their connections).
    ``partial_message`` holds the images whose answers had already arrived, as
    ``invoke`` would have returned them, or None when none had: they were paid for, so
    they are not thrown away. A KeyboardInterrupt, so code that stops on Ctrl-C still
    stops. (An async call is cancelled the asyncio way, which cancels its requests.)
    """

    def __init__(self, partial_message: AIMessage | None) -> None:
        super().__init__("interrupted while waiting for the images")
        self.partial_message = partial_message
