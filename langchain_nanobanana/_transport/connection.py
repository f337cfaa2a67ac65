"""Connection facts, apart from any request: where to send, with which key, over which client.

Everything here is checked before the key travels anywhere: the base URL (https,
or plain http only to this machine), the key itself, and user-supplied clients.
httpx is imported only for the checks that need it, not with the package.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from pydantic import SecretStr

from langchain_nanobanana.errors import OpenRouterAuthenticationError

if TYPE_CHECKING:
    import httpx

DEFAULT_BASE_URL = "https://openrouter.ai/api/v1"
DEFAULT_MAX_CONCURRENCY = 64
"""Requests in flight at once on one key, at most. OpenRouter caps request rates for free
models and otherwise governs capacity globally, with no per-key concurrency cap: 64 image
calls of 6-60 s each is one to ten a second, well under what a funded key is served, and
fits the connection pool's hundred connections. 429s narrow it further (shared_limit)."""


@dataclass(frozen=True)
class ConnectionSettings:
    """What a model configures about its connection; compared to spot a change."""

    base_url: str
    timeout: float | httpx.Timeout | None
    max_retries: int
    extra_headers: dict[str, str] = field(default_factory=dict)
    user_client: httpx.Client | None = None
    user_async_client: httpx.AsyncClient | None = None
    deadline: float | None = None
    """Seconds for a whole call, retries included; None: no deadline."""
    max_concurrency: int | None = DEFAULT_MAX_CONCURRENCY
    """Ceiling of the key's shared adaptive limit; None: no shared limit (each call
    retries a 429 alone, counted in ``max_retries``)."""
    record_to: str | None = None
    """A folder to write each exchange to as a fixture (``_recorder``); None: not recorded."""
    record_images: bool = False
    """Keep the images in recordings rather than same-size placeholders."""

    def url(self, path: str) -> str:
        return f"{self.base_url.rstrip('/')}/{path}"

    @property
    def direct(self) -> bool:
        """Plain http (allowed only to this machine unless opted in) never uses a proxy:
        the key would travel to the proxy in clear text."""
        return urlsplit(self.base_url).scheme == "http"


@functools.cache
def user_agent() -> str:
    """``langchain-nanobanana/<version>``: how every request names its client."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"langchain-nanobanana/{version('langchain-nanobanana')}"
    except PackageNotFoundError:
        return "langchain-nanobanana/unknown"


def app_headers(app_url: str | None, app_title: str | None) -> dict[str, str]:
    """OpenRouter's app attribution: ``HTTP-Referer`` and ``X-Title``, when set."""
    headers = {}
    if app_url:
        headers["HTTP-Referer"] = app_url
    if app_title:
        headers["X-Title"] = app_title
    return headers


def api_key_value(api_key: SecretStr | None) -> str:
    """The key to send; a missing, empty or malformed one is refused before any request."""
    if api_key is None or not api_key.get_secret_value():
        raise OpenRouterAuthenticationError(
            "No OpenRouter API key: set the OPENROUTER_API_KEY environment variable "
            "or pass api_key=... to ChatNanoBanana (keys start with 'sk-or-'). "
            "To try things offline, use langchain_nanobanana.testing.FakeOpenRouter.",
            possibly_billed=False,
        )
    check_api_key(api_key)
    return api_key.get_secret_value()


def check_api_key(api_key: SecretStr | None) -> None:
    """Refuse a key that cannot go in an HTTP header, without ever repeating it.

    A key pasted with its line end (``\n``, ``\r\n``), a NUL, a space or a
    non-ASCII character would make httpx raise with the whole header in its
    message, and that message would reach logs, the agent and its checkpoints.
    """
    if api_key is None:
        return
    key = api_key.get_secret_value()
    if _KEY_CHARACTERS.fullmatch(key):
        return
    if key.strip() != key:
        problem = "it starts or ends with whitespace or a line end (a copy-paste accident?)"
    elif not key.isascii():
        problem = "it holds a non-ASCII character"
    else:
        problem = "it holds a space or a control character"
    raise OpenRouterAuthenticationError(
        f"The OpenRouter API key is malformed: {problem}. Keys are printable ASCII with "
        f"no spaces, like 'sk-or-v1-...' ({len(key)} characters given). Check "
        "OPENROUTER_API_KEY or the api_key=... you passed.",
        possibly_billed=False,
    )


_KEY_CHARACTERS = re.compile(r"[\x21-\x7e]+")
"""Printable ASCII without spaces: what an HTTP header carries unchanged."""


def redacted(text: str, api_key: str) -> str:
    """``text`` with the key (as is, or as Python or bytes repr show it) blanked out."""
    if not api_key:
        return text
    shown = {api_key, repr(api_key)[1:-1], repr(api_key.encode("utf-8", "replace"))[2:-1]}
    for form in sorted(shown, key=len, reverse=True):
        text = text.replace(form, "[redacted]")
    return text


def check_base_url(base_url: str, *, allow_insecure_http: bool) -> None:
    """Refuse a URL the key must not be sent to: only https, or http to this machine."""
    url = urlsplit(base_url)
    if url.username is not None or url.password is not None:
        # httpx would send these as Basic auth in place of the key; and they are secrets.
        raise ValueError(
            "base_url must not hold a user name or password ('user:pass@'): they would "
            "replace the API key and show in logs. Pass the key as api_key=... instead."
        )
    if url.scheme == "https" and url.hostname:
        return
    if url.scheme == "http" and url.hostname:
        if allow_insecure_http or _is_loopback(url.hostname):
            return
        msg = (
            f"base_url {base_url!r} is plain http to another machine: the API key would travel "
            "unencrypted. Use https, or pass allow_insecure_http=True if you really mean it."
        )
        raise ValueError(msg)
    raise ValueError(f"base_url {base_url!r} must be an http(s) URL such as {DEFAULT_BASE_URL!r}.")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_clients(sync_client: Any, async_client: Any) -> None:
    """Refuse user-supplied clients that are not httpx's (they would fail on the first call)."""
    if sync_client is None and async_client is None:
        return
    import httpx

    if sync_client is not None and not isinstance(sync_client, httpx.Client):
        raise TypeError(f"http_client must be an httpx.Client, not {type(sync_client).__name__}.")
    if async_client is not None and not isinstance(async_client, httpx.AsyncClient):
        raise TypeError(
            f"http_async_client must be an httpx.AsyncClient, not {type(async_client).__name__}."
        )
