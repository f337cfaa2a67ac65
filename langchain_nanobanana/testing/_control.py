"""Faults and latency for a running emulator: the fault names and the control endpoint.

``nanobanana serve --fault 429 --latency 2`` queues faults at start; while it runs,
anything that speaks HTTP queues more, or changes the latency:

    curl -X POST "$OPENROUTER_BASE_URL/_emulator/faults" -d '["429", "cut", "502*2"]'
    curl -X POST "$OPENROUTER_BASE_URL/_emulator/latency" -d '{"seconds": 3}'
    curl "$OPENROUTER_BASE_URL/_emulator"          # {"latency": 3.0, "queued_faults": 4, ...}

Each queued fault answers one chat or Image API request, in order; requests after
the queue is empty are answered normally. The control requests are not recorded
as OpenRouter traffic.
"""

from __future__ import annotations

import json
import re
from typing import Any, Protocol

from langchain_nanobanana.testing._outcomes import Outcome, default_message

CONTROL_PATH = "/_emulator"
_MAX_REPEAT = 1000
_SPEC = re.compile(r"(?P<name>[a-z0-9-]+)(?::(?P<seconds>\d+(?:\.\d+)?))?(?:\*(?P<count>\d+))?")

FAULTS_HELP = """\
faults (each answers one request; NAME*COUNT repeats it):
  STATUS        an HTTP error with OpenRouter's error body: 408, 429, 500, 502, 503, ...
  cut           the connection is cut in the middle of the answer
  truncate      a stream that ends cleanly without its image, usage or [DONE]
  error-in-200  HTTP 200 whose body is an error (code 502)
  no-image      an answer without an image (Gemini's IMAGE_SAFETY)
  slow:SECONDS  a normal answer after SECONDS"""


def fault_outcomes(spec: str) -> list[Outcome]:
    """The outcomes one fault spec names (``"429"``, ``"cut*3"``, ``"slow:2.5"``).

    ValueError, with the names that exist, for anything else."""
    found = _SPEC.fullmatch(spec.strip().lower())
    if not found:
        raise ValueError(_unknown(spec))
    count = int(found["count"] or 1)
    if not 1 <= count <= _MAX_REPEAT:
        raise ValueError(f"Fault {spec!r}: repeat it 1 to {_MAX_REPEAT} times.")
    outcome = _outcome(found["name"], found["seconds"], spec)
    return [outcome] * count


def _outcome(name: str, seconds: str | None, spec: str) -> Outcome:
    if name == "slow" and seconds is not None:
        return Outcome.wait(float(seconds))
    if seconds is not None:
        raise ValueError(_unknown(spec))
    if name.isdigit() and 400 <= int(name) <= 599:
        return Outcome.http_error(int(name), default_message(int(name)))
    named = {
        "cut": Outcome.drop_connection,
        "truncate": Outcome.truncated_stream,
        "error-in-200": lambda: Outcome.error_in_200(502),
        "no-image": Outcome.no_image,
    }
    if name not in named:
        raise ValueError(_unknown(spec))
    return named[name]()


def _unknown(spec: str) -> str:
    return (
        f"Unknown fault {spec!r}: use an HTTP status from 400 to 599, cut, truncate, "
        "error-in-200, no-image or slow:SECONDS, optionally followed by *COUNT."
    )


class Controlled(Protocol):
    """What the control endpoint changes: the emulator's queue and latency."""

    latency: float

    def enqueue(self, *outcomes: Outcome) -> None: ...

    def queued(self) -> int: ...


def control(emulator: Controlled, method: str, path: str, raw: bytes) -> tuple[int, dict[str, Any]]:
    """The status and JSON answer of one control request (``path`` after the API prefix)."""
    action = path.removeprefix(CONTROL_PATH).strip("/")
    try:
        body = json.loads(raw) if raw.strip() else None
    except ValueError:
        return 400, {"error": "The body is not JSON."}
    try:
        if (method, action) == ("POST", "faults"):
            specs = body.get("faults") if isinstance(body, dict) else body
            if not isinstance(specs, list) or not all(isinstance(s, str) for s in specs):
                raise ValueError('Send a JSON list of fault names, such as ["429", "cut"].')
            emulator.enqueue(*[o for spec in specs for o in fault_outcomes(spec)])
        elif (method, action) == ("POST", "latency"):
            seconds = body.get("seconds") if isinstance(body, dict) else None
            if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or seconds < 0:
                raise ValueError('Send {"seconds": S} with S a number of seconds, 0 or more.')
            emulator.latency = float(seconds)
        elif (method, action) != ("GET", ""):
            return 404, {"error": f"No control route {method} {CONTROL_PATH}/{action}."}
    except ValueError as error:
        return 400, {"error": str(error)}
    return 200, {"latency": emulator.latency, "queued_faults": emulator.queued()}
