"""Which of the image namespaces in LangGraph's store a user reaches through a server's store API.

The images live under ``("nanobanana", <scope label>, ...)`` (see ``_langgraph``).
A LangGraph server lets clients read and write its store directly (``GET
/store/items``, ``POST /store/items/search``, ``POST /store/namespaces``, ...),
so without a rule any user reads any other user's images there. The rule:

- a request that cannot reach an image namespace is not ours to judge: the
  app's own rules decide it (``NOT_OURS``);
- reads and searches reach only the caller's own scope; a search or listing of
  ``("nanobanana",)`` is narrowed to it, in place;
- a search or listing that would cover every scope (no prefix, ``*``, a prefix
  of the word ``nanobanana`` for stores that match by string) is refused;
- nobody writes image namespaces through the store API: images arrive through
  the tool, the upload route or the middleware, and a record or note written by
  hand could claim another type, reset a budget or fake a paid answer;
- a user may delete their own images (and their records), not the notes;
- what scopes spent (``("nanobanana_spent", ...)``, the budgets) is open to no one.
"""

from __future__ import annotations

from collections.abc import MutableMapping, Sequence
from typing import Any, Literal

from langchain_nanobanana.scopes import Scope
from langchain_nanobanana.stores._langgraph import ROOT, SPENT_ROOT, scope_label

Action = Literal["get", "search", "list_namespaces", "put", "delete"]
Verdict = Literal["ours", "not ours"]
_DELETABLE = ("images", "records")
_WILDCARD = "*"


class RefusedError(Exception):
    """A store request the image rule refuses; the message says why, for the client."""


def judge(action: str, value: MutableMapping[str, Any], scope: Scope | None) -> Verdict:
    """Whether a store request touches image namespaces, refusing it when not allowed.

    ``value`` is the server's payload for the request (its ``namespace``, for
    listings also ``suffix``); a prefix is narrowed to the caller's scope in place.
    ``scope`` is the caller's, None when the request carries no user.
    """
    namespace = _labels(value.get("namespace"))
    exact = action in ("get", "put", "delete")
    if _reaches_spending(namespace, exact):
        raise RefusedError(
            "What users spent (the image budgets) is not open through the store API."
        )
    if exact and (not namespace or namespace[0] != ROOT):
        return "not ours"
    if not exact and not _may_cover_images(namespace):
        return "not ours"
    if scope is None:
        raise RefusedError("Image namespaces are only read by an authenticated user.")
    own = scope_label(scope)
    if not namespace or namespace[0] != ROOT:
        raise RefusedError(
            f"This {_said(action)} would cover every user's image namespaces: give a namespace "
            f'prefix, such as ["{ROOT}", "{own}"] for your images.'
        )
    if len(namespace) == 1 and not exact:
        value["namespace"] = (ROOT, own)  # a search or listing of every scope: the caller's
        return "ours"
    if len(namespace) < 2 or namespace[1] != own:
        raise RefusedError(f'Only your own image namespaces (["{ROOT}", "{own}", ...]) are open.')
    if action == "put":
        raise RefusedError(
            "Images are not written through the store API: upload one to /nanobanana/images."
        )
    if action == "delete" and (len(namespace) != 3 or namespace[2] not in _DELETABLE):
        raise RefusedError("Only your images and their records are deleted through the store API.")
    return "ours"


def _reaches_spending(namespace: tuple[str, ...], exact: bool) -> bool:
    """Whether the request can reach what scopes spent (``("nanobanana",)`` cannot: a
    search or listing of it is narrowed to the caller's own scope)."""
    if not namespace or namespace[0] == ROOT:
        return False
    return namespace[0] == SPENT_ROOT or (not exact and SPENT_ROOT.startswith(namespace[0]))


def _labels(namespace: Sequence[str] | None) -> tuple[str, ...]:
    return () if namespace is None else tuple(str(label) for label in namespace)


def _may_cover_images(prefix: tuple[str, ...]) -> bool:
    """A search or listing prefix that can match an image namespace, by label or by string."""
    if not prefix:
        return True
    return prefix[0] == _WILDCARD or ROOT.startswith(prefix[0])


def _said(action: str) -> str:
    return "listing" if action == "list_namespaces" else "search"
