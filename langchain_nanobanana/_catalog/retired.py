"""Retired preview ids: each still works, as its released id, with a warning said once."""

from __future__ import annotations

import threading
import warnings

RETIRED_PREVIEWS: dict[str, str] = {
    "google/gemini-2.5-flash-image-preview": "google/gemini-2.5-flash-image",
    "google/gemini-3-pro-image-preview": "google/gemini-3-pro-image",
    "google/gemini-3.1-flash-image-preview": "google/gemini-3.1-flash-image",
}
"""Preview ids Google retired, by the released id that replaced each (the 3.x previews
were reported shut down on 2026-06-25; the 2.5 preview gave way to its release in 2025)."""

_warned: set[str] = set()
_lock = threading.Lock()


def released_id(model: str, *, stacklevel: int = 2) -> str:
    """The id to send for ``model``: its released id when it is a retired preview.

    The first time a process meets each retired id it says so in a ``FutureWarning``
    (shown by default) that names the released id to use instead.
    """
    released = RETIRED_PREVIEWS.get(model)
    if released is None:
        return model
    with _lock:
        first = model not in _warned
        _warned.add(model)
    if first:
        warnings.warn(
            f"{model!r} is a retired preview id; sending its released id {released!r} "
            f"instead. Pass model={released!r} to say so yourself.",
            FutureWarning,
            stacklevel=stacklevel + 1,
        )
    return released
