"""``nanobanana serve``'s slow and failing modes: ``--latency`` and ``--fault``."""

from __future__ import annotations

import argparse

from langchain_nanobanana.testing._control import FAULTS_HELP, fault_outcomes
from langchain_nanobanana.testing._outcomes import Outcome

_CONTROL_HELP = """\
while it serves, queue more faults or change the latency over HTTP:
  curl -X POST "$OPENROUTER_BASE_URL/_emulator/faults" -d '["429", "cut", "502*2"]'
  curl -X POST "$OPENROUTER_BASE_URL/_emulator/latency" -d '{"seconds": 3}'
  curl "$OPENROUTER_BASE_URL/_emulator"    # the latency and how many faults are queued"""


def add_fault_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--latency",
        type=_seconds,
        default=0.0,
        metavar="SECONDS",
        help="wait this long before every answer (heartbeats and timeouts become visible)",
    )
    parser.add_argument(
        "--fault",
        type=_fault,
        action="extend",
        default=[],
        metavar="FAULT",
        help="answer the next request with this fault (repeatable, in order; see below)",
    )
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = f"{FAULTS_HELP}\n\n{_CONTROL_HELP}"


def _seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= 3600:
        raise argparse.ArgumentTypeError("use a number of seconds from 0 to 3600")
    return seconds


def _fault(value: str) -> list[Outcome]:
    try:
        return fault_outcomes(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
