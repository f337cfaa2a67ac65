"""Whose images these are: the scope every stored image belongs to.

A scope is a short tuple of strings, such as ``("user", "alice")``. Each run's
scope comes from its config:

1. LangGraph Platform's authenticated user (``configurable["langgraph_auth_user_id"]``):
   the server sets it, so it wins over anything a client put in the config;
2. else ``configurable["user_id"]``;
3. else the thread (``configurable["thread_id"]``);
4. else ``DEFAULT_SCOPE``, for plain scripts.

Apps with their own rule (per organisation, per project) pass a ``ScopeRule``:
a function of the run's config that returns a string or a tuple of strings.
A handle is only ever looked up inside the scope of the run that asks, so
another scope's handle is exactly as unknown as one that never existed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from langchain_core.runnables import RunnableConfig

Scope = tuple[str, ...]
ScopeRule = Callable[[RunnableConfig], str | Sequence[str]]
"""Turns a run's config into its scope; see the module docstring."""

DEFAULT_SCOPE: Scope = ("default",)
_MAX_LABEL_CHARS = 256
_MAX_LABELS = 8


def default_scope(config: RunnableConfig) -> Scope:
    """The authenticated user, else the configured user, else the thread, else the default."""
    configurable: Mapping[str, Any] = config.get("configurable") or {}
    for key, kind in (
        ("langgraph_auth_user_id", "user"),
        ("user_id", "user"),
        ("thread_id", "thread"),
    ):
        value = configurable.get(key)
        if value is not None and str(value) != "":
            return (kind, str(value))
    return DEFAULT_SCOPE


def scope_of(config: RunnableConfig | None, rule: ScopeRule | None = None) -> Scope:
    """The run's scope by ``rule`` (``default_scope`` when None), checked.

    Raises ValueError for a rule that returns something unusable (empty, not
    strings, control characters): a wrong scope must stop the run, never fall
    back to a shared one.
    """
    chosen = (rule or default_scope)(config or {})
    return checked_scope(chosen, "A scope rule returned")


def checked_scope(chosen: Any, said: str = "The scope is") -> Scope:
    """``chosen`` (a string or a sequence of strings) as a scope; ValueError if unusable."""
    labels: tuple[Any, ...] = (chosen,) if isinstance(chosen, str) else tuple(chosen)
    if not labels or len(labels) > _MAX_LABELS:
        raise ValueError(
            f"{said} {chosen!r}: use a non-empty string or a tuple of "
            f"1 to {_MAX_LABELS} non-empty strings."
        )
    for label in labels:
        if not isinstance(label, str) or not label or len(label) > _MAX_LABEL_CHARS:
            raise ValueError(
                f"{said} {chosen!r}: each part must be a non-empty string "
                f"of at most {_MAX_LABEL_CHARS} characters."
            )
        if any(ord(character) < 32 for character in label):
            raise ValueError(f"{said} {chosen!r}: control characters are not allowed.")
    return labels


def scope_token(scope: Scope) -> str:
    """A fixed-length name for a scope, safe in any key or path (and no user id in it).

    Flat stores (byte stores, buckets) prefix keys with it; the length prefix of
    each label keeps ``("a", "b")`` and ``("a\x1fb",)`` apart.
    """
    joined = "".join(f"{len(label)}:{label}" for label in scope)
    return "s" + hashlib.blake2b(joined.encode(), digest_size=16).hexdigest()


def thread_of(config: RunnableConfig | None) -> str | None:
    """The run's thread id, when it has one."""
    value = ((config or {}).get("configurable") or {}).get("thread_id")
    return None if value is None else str(value)
