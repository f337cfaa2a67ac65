"""What the image tool turns a failure into: an error ToolMessage the agent can act on.

A failure the agent can do something about (rephrase, wait, fix an argument, use
another handle) becomes a ``ToolException`` and so an error ToolMessage; a broken
setup (a wrong API key) stays an exception, since no agent can fix it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from langchain_core.messages import AIMessage
from langchain_core.tools import ToolException
from pydantic import ValidationError

from langchain_nanobanana._content.text import shorten
from langchain_nanobanana._openrouter.no_image import MissingImage
from langchain_nanobanana.errors import (
    OpenRouterAuthenticationError,
    OpenRouterError,
    OpenRouterPermissionDeniedError,
    OpenRouterRateLimitError,
)
from langchain_nanobanana.images import GeneratedImage, images_from


def invalid_arguments(error: ValidationError) -> str:
    """Arguments the schema refuses (a ratio the model lacks, too many images): the agent
    can fix them, so they come back as an error ToolMessage, not an exception."""
    problems = "; ".join(
        f"{'.'.join(map(str, problem['loc']))}: {problem['msg']}" for problem in error.errors()
    )
    return (
        f"The generate_image arguments were not valid ({shorten(problems, 200)}). "
        "Fix them and call again."
    )


def images_or_explain(answer: AIMessage) -> list[GeneratedImage]:
    images = images_from(answer)
    if not images:
        raise ToolException(MissingImage.of(answer).sentence())
    return images


@contextmanager
def as_tool_errors() -> Iterator[None]:
    """Failures the agent can act on become ToolExceptions (and so error ToolMessages)."""
    try:
        yield
    except OpenRouterError as error:
        raise tool_error(error) from error
    except ValueError as error:  # refused locally (a bad image or option): the agent can fix it
        raise ToolException(str(error)) from error


def may_have_been_billed(error: BaseException) -> bool:
    """Whether a call that failed with ``error`` (and no answer) may have been billed.

    From the stage it failed at, as the transport recorded it
    (``OpenRouterError.possibly_billed``): an error status, or a request that never
    reached the server whole, was not billed; a deadline that expired or a connection
    that dropped after the request was sent, or anything after the answer began, may
    have been. Refused locally (a ``ValueError``, a ToolException of ours before the
    request) is not billed; anything else (a cancelled run, a store that failed) is
    counted, since the request may have gone."""
    cause = (error.__cause__ or error) if isinstance(error, ToolException) else error
    if isinstance(cause, OpenRouterError):
        return cause.possibly_billed is not False
    return not isinstance(cause, (ValueError, TypeError, ToolException))


def tool_error(error: OpenRouterError) -> Exception:
    """An error the agent can act on becomes a ToolMessage; a broken setup stays an exception."""
    if isinstance(error, OpenRouterAuthenticationError):
        return error
    if isinstance(error, OpenRouterRateLimitError):
        return ToolException(
            "The image service is rate-limiting requests right now; wait a minute before "
            "trying again, or continue without the image."
        )
    if isinstance(error, OpenRouterPermissionDeniedError):
        reasons = ", ".join(error.reasons) or "no reason given"
        return ToolException(
            f"The image request was refused by moderation ({reasons}). "
            "Rephrase the prompt without that content."
        )
    return ToolException(f"The image service failed: {shorten(error.message, 200)}")
