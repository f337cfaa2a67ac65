"""URLs: whether OpenRouter could fetch one itself, what may be shown of one, and which
may serve a store's objects.

An edit whose source a store can sign a URL for sends that URL instead of the
image's base64 (megabytes less per request). That is only worth it when the
provider can reach the URL: https, and a public host. A URL on loopback, a
private network or plain http (a local S3 emulator, a dev bucket) would fail
on the provider's side, so such sources go as bytes. The check is strict: a host
counts as public only when it plainly is: an address written in the usual form
and global, never an IPv4 address in one of the other forms resolvers accept
(``127.1``, ``10.1``, ``0x7f.1``, ``2130706433``); or a name of letters, digits
and hyphens, not local by convention (``localhost``, ``*.internal``, ``*.local``,
...; with or without the trailing dot), and not under a wildcard-DNS service that
resolves to an address written inside the name (``*.nip.io``, ``*.sslip.io``, ...).

A signed URL's query is a credential: anyone holding it can load the image until
it expires. ``without_signature`` is what traces, progress events, the agent's
sentence and stored provenance keep of such a URL.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

_LOCAL_SUFFIXES = (
    "localhost",
    "local",
    "internal",
    "intranet",
    "lan",
    "home",
    "corp",
    "private",
    "localdomain",
    "home.arpa",
    "test",
    "example",
    "invalid",
    "onion",
)
"""Names (and their subdomains) that are this machine, a private network, or reserved."""
_ADDRESS_IN_NAME = (
    "nip.io",
    "sslip.io",
    "xip.io",
    "nip.direct",
    "localtest.me",
    "lvh.me",
    "vcap.me",
    "lacolhost.com",
    "traefik.me",
    "local.gd",
)
"""Wildcard DNS services whose names resolve to an address of the asker's choosing."""
_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
_NUMERIC_LABEL = re.compile(r"0x[0-9a-f]*|[0-9]+")


def public_host(host: str) -> bool:
    """Whether ``host`` (as ``urlsplit(...).hostname`` gives it) is plainly public."""
    host = host.lower()
    name = host[:-1] if host.endswith(".") else host  # "localhost." is localhost
    if not name:
        return False
    try:
        return _global(ipaddress.ip_address(name))
    except ValueError:
        pass
    labels = name.split(".")
    if len(labels) < 2 or not all(_LABEL.fullmatch(label) for label in labels):
        return False  # one label (an intranet name), or characters a public name lacks
    if all(_NUMERIC_LABEL.fullmatch(label) for label in labels):
        # An address in a form resolvers read (127.1, 0x7f.1, 2130706433, 0177.0.0.1):
        # whatever it stands for, it is not plainly public.
        return False
    return not any(
        name == suffix or name.endswith("." + suffix)
        for suffix in (*_LOCAL_SUFFIXES, *_ADDRESS_IN_NAME)
    )


def _global(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour or (address.teredo or (None, None))[1]
        if embedded is not None and not embedded.is_global:
            return False
    return address.is_global


def fetchable_by_openrouter(url: str) -> bool:
    """An https URL, without credentials in it, whose host is plainly public."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:  # a malformed port or bracketed address
        return False
    if parts.scheme != "https" or parts.username is not None or parts.password is not None:
        return False
    return public_host(host)


def without_signature(url: str) -> str:
    """``url`` without its query and fragment (a signed URL's credential), marked as such."""
    if "?" not in url and "#" not in url:
        return url
    return re.split(r"[?#]", url, maxsplit=1)[0] + "?(signature left out)"


def checked_public_url(url: str) -> str:
    """A base URL objects can be loaded from without signing; ValueError otherwise.

    http(s), a host, no query or fragment (it would be left out wherever the URL is
    shown, see ``without_signature``), no credentials."""
    if not isinstance(url, str):
        raise ValueError(f"public_url must give a URL string, not {type(url).__name__}.")
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        host = None
        parts = urlsplit("")
    if (
        parts.scheme not in ("http", "https")
        or not host
        or parts.query
        or parts.fragment
        or "?" in url
        or "#" in url
        or parts.username is not None
        or any(character.isspace() or ord(character) < 32 for character in url)
    ):
        raise ValueError(
            f"public_url must be an http(s) base URL with a host and no query, fragment or "
            f"credentials (such as https://cdn.example.com/images), not {url[:200]!r}."
        )
    return url
