"""Whose images a run sees: the default scope rule, custom rules, and what they may return."""

from __future__ import annotations

from typing import Any

import pytest

from langchain_nanobanana.scopes import DEFAULT_SCOPE, default_scope, scope_of, scope_token


def _config(**configurable: Any) -> Any:
    return {"configurable": configurable}


@pytest.mark.parametrize(
    ("configurable", "scope"),
    [
        (
            {"langgraph_auth_user_id": "alice", "user_id": "mallory", "thread_id": "t"},
            ("user", "alice"),
        ),
        ({"user_id": "bob", "thread_id": "t"}, ("user", "bob")),
        ({"user_id": 42}, ("user", "42")),
        ({"thread_id": "t-1"}, ("thread", "t-1")),
        ({"user_id": "", "thread_id": "t-2"}, ("thread", "t-2")),
        ({}, DEFAULT_SCOPE),
    ],
)
def test_the_authenticated_user_wins_then_the_user_then_the_thread(
    configurable: dict[str, Any], scope: tuple[str, ...]
) -> None:
    assert default_scope(_config(**configurable)) == scope
    assert scope_of(_config(**configurable)) == scope


def test_no_config_is_the_default_scope() -> None:
    assert scope_of(None) == DEFAULT_SCOPE


def test_a_rule_may_return_a_string_or_a_tuple() -> None:
    config = _config(org="acme", user_id="alice")
    assert scope_of(config, lambda c: c["configurable"]["org"]) == ("acme",)
    assert scope_of(config, lambda c: ("org", c["configurable"]["org"])) == ("org", "acme")


@pytest.mark.parametrize(
    "returned", ["", (), ("org", ""), ("org", None), ("a\nb",), ("x",) * 9, ("x" * 257,)]
)
def test_a_rule_that_returns_something_unusable_stops_the_run(returned: Any) -> None:
    with pytest.raises(ValueError, match="scope rule returned"):
        scope_of(_config(), lambda c: returned)


def test_scope_tokens_tell_scopes_apart_and_hide_the_user_id() -> None:
    tokens = {
        scope_token(scope)
        for scope in [("user", "alice"), ("user", "alice", "x"), ("user/alice",), ("useralice",)]
    }
    assert len(tokens) == 4
    assert "alice" not in scope_token(("user", "alice"))
    assert scope_token(("user", "alice")) == scope_token(("user", "alice"))


@pytest.mark.parametrize("scope", [(), ("",), ("user", "a\x00b")])
def test_an_image_store_refuses_an_unusable_scope(scope: tuple[str, ...]) -> None:
    from langchain_nanobanana.stores import ImageStore

    with pytest.raises(ValueError, match="The scope is"):
        ImageStore(scope=scope)
