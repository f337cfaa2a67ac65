"""Text for a sentence: what an agent reads in a tool result, what a terminal prints."""

from __future__ import annotations

import re

# ANSI escape sequences (CSI, OSC, two-byte) and the other C0/C1 controls a server
# could send to a terminal; tab and newline stay.
_ESCAPE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-~])")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def shorten(text: str, limit: int) -> str:
    """``text`` on one line, cut to ``limit`` characters with an ellipsis when longer."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


def printable(text: str) -> str:
    """``text`` without terminal escape sequences or control characters, for printing
    what a server sent (a message could otherwise recolour or rewrite the terminal)."""
    return _CONTROL.sub("", _ESCAPE.sub("", text))
