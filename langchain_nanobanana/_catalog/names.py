"""Unknown names, refused with the closest valid one: for keywords and options alike."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def did_you_mean(name: str, valid: Iterable[str]) -> str:
    """`` (did you mean 'aspect_ratio'?)`` for the closest valid name, or "" when none is close."""
    close = difflib.get_close_matches(name, sorted(valid), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def unknown_names(names: Iterable[str], valid: Iterable[str]) -> str:
    """``'aspect_ration' (did you mean 'aspect_ratio'?), 'foo'``: each unknown name, sorted."""
    known = set(valid)
    return ", ".join(f"{name!r}{did_you_mean(name, known)}" for name in sorted(names))
