"""Whether OpenRouter could fetch an image from a URL itself.

An edit whose source a store can sign a URL for sends that URL instead of the
image's base64 (megabytes less per request). That is only worth it when the
provider can reach the URL: https, and a public host. A URL on loopback, a
private network or plain http (a local S3 emulator, a dev bucket) would fail
on the provider's side, so such sources go as bytes.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

_LOCAL_NAMES = ("localhost", ".localhost", ".local", ".internal")


def fetchable_by_openrouter(url: str) -> bool:
    """An https URL whose host is a public name or a public address."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme != "https" or not host:
        return False
    if host.endswith(_LOCAL_NAMES):  # "localhost" itself included
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return "." in host  # a public-looking DNS name
    return address.is_global
