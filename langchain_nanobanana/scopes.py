"""Whose images these are: the scope every stored image belongs to.

A scope is a short tuple of strings, such as ``("user", "alice")``. Each run's
scope comes from its config:

1. LangGraph Platform's authenticated user (``configurable["langgraph_auth_user_id"]``):
   the server sets it, so it wins over anything a client put in the config; when
   it is present but empty the run fails (``ValueError``) rather than fall back
   to an id a client chose;
2. else ``configurable["user_id"]``;
3. else the thread (``configurable["thread_id"]``);
4. else ``DEFAULT_SCOPE``, for plain scripts.

Apps with their own rule (per organisation, per project) pass a ``ScopeRule``:
a function of the run's config that returns a string or a tuple of strings.
A handle is only ever looked up inside the scope of the run that asks, so
another scope's handle is exactly as unknown as one that never existed.

Ids come from outside (a client's config, an agent model's tool call id), so each
is checked here, at the boundary, before anything is paid for: a string (a user
or thread id may also be an integer, read as its decimal digits) of valid Unicode
(no lone surrogates), without control characters, of bounded length. A bad one
is a ``ValueError`` naming its field. Stores keep ids only under fixed-length
digests, whatever their length.
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
MAX_ID_CHARS = 1024
"""The longest thread id or tool call id taken (user ids are scope labels: 256)."""
_AUTH_USER = "langgraph_auth_user_id"


def checked_id(value: Any, field: str, most: int = MAX_ID_CHARS) -> str:
    """``value`` as an id; ValueError naming ``field`` when it cannot be one."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise ValueError(f"{field} must be a string, not {type(value).__name__}.")
    problem = _id_problem(value, most)
    if problem:
        raise ValueError(f"{field} cannot be used as an id: {problem}.")
    return value


def _id_problem(value: str, most: int) -> str | None:
    if len(value) > most:
        return f"it is {len(value):,} characters long, more than {most:,}"
    if any(ord(character) < 32 or ord(character) == 127 for character in value):
        return "it holds control characters (NUL, line breaks, ...)"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "it is not valid Unicode (a lone surrogate)"
    return None


def _shown(value: Any) -> str:
    """A repr short enough for an error message, whatever was passed."""
    shown = repr(value)
    return shown if len(shown) <= 80 else shown[:60] + "...(shortened)"


def default_scope(config: RunnableConfig) -> Scope:
    """The authenticated user, else the configured user, else the thread, else the default."""
    configurable: Mapping[str, Any] = config.get("configurable") or {}
    field = "configurable['langgraph_auth_user_id']"
    authenticated = configurable.get(_AUTH_USER)
    if authenticated is not None:
        # Set by the server: it wins, and when it is empty nothing else may stand in.
        if authenticated == "":
            raise ValueError(
                f"{field} is empty: the server's authentication gave no user, so the run "
                "cannot be given anyone's images. Check the auth handler's identity."
            )
        return ("user", checked_id(authenticated, field, _MAX_LABEL_CHARS))
    for key, kind in (("user_id", "user"), ("thread_id", "thread")):
        value = configurable.get(key)
        if value is not None and value != "":
            return (kind, checked_id(value, f"configurable[{key!r}]", _MAX_LABEL_CHARS))
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
    if isinstance(chosen, str):
        labels: tuple[Any, ...] = (chosen,)
    elif isinstance(chosen, Sequence) and not isinstance(chosen, (bytes, bytearray)):
        labels = tuple(chosen)
    else:  # None, True, a number, a set: not a scope, and never the same as its str()
        raise ValueError(
            f"{said} {_shown(chosen)}: use a non-empty string or a tuple of 1 to {_MAX_LABELS} "
            "non-empty strings."
        )
    if not labels or len(labels) > _MAX_LABELS:
        raise ValueError(
            f"{said} {_shown(chosen)}: use a non-empty string or a tuple of "
            f"1 to {_MAX_LABELS} non-empty strings."
        )
    for label in labels:
        if not isinstance(label, str) or not label or len(label) > _MAX_LABEL_CHARS:
            raise ValueError(
                f"{said} {_shown(chosen)}: each part must be a non-empty string "
                f"of at most {_MAX_LABEL_CHARS} characters."
            )
        problem = _id_problem(label, _MAX_LABEL_CHARS)
        if problem:
            raise ValueError(f"{said} {_shown(chosen)}: {problem}.")
    return labels


def scope_token(scope: Scope) -> str:
    """A fixed-length name for a scope, safe in any key or path (and no user id in it).

    Flat stores (byte stores, buckets) prefix keys with it; the length prefix of
    each label keeps ``("a", "b")`` and ``("a\x1fb",)`` apart.
    """
    joined = "".join(f"{len(label)}:{label}" for label in scope)
    return "s" + hashlib.blake2b(joined.encode(), digest_size=16).hexdigest()


def thread_of(config: RunnableConfig | None) -> str | None:
    """The run's thread id, when it has one; ValueError for one that cannot be an id."""
    value = ((config or {}).get("configurable") or {}).get("thread_id")
    return None if value is None else checked_id(value, "configurable['thread_id']")
