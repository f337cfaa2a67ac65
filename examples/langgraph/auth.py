"""Who the example's users are, what each may touch, and the rule for the image store.

A real deployment checks the token with its identity provider; this one reads a
table of tokens from ``NANOBANANA_EXAMPLE_TOKENS`` (``user:token,user:token``).
"""

from __future__ import annotations

import hmac
import os
from typing import Any

from langgraph_sdk import Auth

from langchain_nanobanana.platform import protect_images

auth = Auth()


def _tokens() -> dict[str, str]:
    table = {}
    for pair in os.environ.get("NANOBANANA_EXAMPLE_TOKENS", "").split(","):
        user, _, token = pair.strip().partition(":")
        if user and token:
            table[token] = user
    return table


@auth.authenticate
async def authenticate(authorization: str | None) -> str:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() == "bearer":
        for known, user in _tokens().items():
            if hmac.compare_digest(token.encode(), known.encode()):
                return user
    raise Auth.exceptions.HTTPException(status_code=401, detail="Unknown or missing token.")


@auth.on
async def owner_only(ctx: Auth.types.AuthContext, value: Any) -> dict[str, str]:
    """Threads, runs and the rest: each user sees only what they made (LangGraph's usual
    owner filter). It does not cover the store; protect_images does, for the images."""
    owner = {"owner": ctx.user.identity}
    if isinstance(value, dict):
        metadata = value.setdefault("metadata", {})
        if isinstance(metadata, dict):
            metadata.update(owner)
    return owner


protect_images(auth)
