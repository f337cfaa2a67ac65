"""A soak of ChatNanoBanana against the emulator on loopback, with seeded random faults.

Every call must end with a whole, decodable image or a mapped OpenRouterError;
none may hang past its deadline; no file descriptor may be left open afterwards.

    python -m tests.support.soak                      # 300 requests, 32 at a time, 25% faults
    python -m tests.support.soak --requests 60 --concurrency 16
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import random
import time
from collections import Counter
from dataclasses import asdict, dataclass, field

from langchain_core.messages import AIMessage, AIMessageChunk

from langchain_nanobanana import ChatNanoBanana
from langchain_nanobanana._content.dimensions import image_dimensions
from langchain_nanobanana.errors import OpenRouterError
from langchain_nanobanana.testing import FakeOpenRouter, Outcome

TIMEOUT = 1.0


def fault_menu() -> list[tuple[str, Outcome]]:
    """Every fault the wire facts list, as the emulator plays it."""
    return [
        ("408", Outcome.http_error(408)),
        ("429 Retry-After", Outcome.http_error(429, headers={"Retry-After": "0"})),
        ("429", Outcome.http_error(429)),
        ("500", Outcome.http_error(500)),
        ("502", Outcome.http_error(502)),
        ("503", Outcome.http_error(503)),
        ("524", Outcome.http_error(524)),
        ("529", Outcome.http_error(529)),
        ("400", Outcome.http_error(400)),
        ("error body in 200", Outcome.error_in_200(502)),
        ("mid-stream error", Outcome.choice_error(502)),
        ("dropped connection", Outcome.drop_connection()),
        ("truncated stream", Outcome.truncated_stream()),
        ("malformed JSON", Outcome.raw(200, b'{"id": "gen-1", "choices": [', "application/json")),
        ("HTML error page", Outcome.raw(502, b"<html><body>Bad gateway</body></html>")),
        ("slow past timeout", Outcome.wait(TIMEOUT + 0.5)),
    ]


@dataclass
class SoakReport:
    requests: int
    concurrency: int
    faults_injected: int
    successes: int = 0
    mapped_errors: int = 0
    hangs: int = 0
    unexpected: list[str] = field(default_factory=list)
    errors_by_type: dict[str, int] = field(default_factory=dict)
    faults_by_kind: dict[str, int] = field(default_factory=dict)
    leaked_fds: int = 0
    seconds: float = 0.0


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _whole_image(message: AIMessage | AIMessageChunk) -> bool:
    images = [b for b in message.content if isinstance(b, dict) and b.get("type") == "image"]
    if len(images) != 1:
        return False
    data = base64.b64decode(images[0]["base64"])
    return image_dimensions(data) is not None and data.endswith(b"IEND\xaeB`\x82")


async def _one(llm: ChatNanoBanana, number: int) -> AIMessage | AIMessageChunk:
    if number % 2:
        return await llm.ainvoke(f"picture {number}")
    total: AIMessageChunk | None = None
    async for chunk in llm.astream(f"picture {number}"):
        total = chunk if total is None else total + chunk
    assert total is not None
    return total


async def soak(
    requests: int = 300, concurrency: int = 32, fault_share: float = 0.25, seed: int = 7
) -> SoakReport:
    rng = random.Random(seed)
    menu = fault_menu()
    plan = [
        rng.choice(menu) if rng.random() < fault_share else ("none", Outcome.answer())
        for _ in range(requests)
    ]
    report = SoakReport(requests, concurrency, sum(kind != "none" for kind, _ in plan))
    report.faults_by_kind = dict(Counter(kind for kind, _ in plan if kind != "none"))
    fake = FakeOpenRouter()
    fake.enqueue(*(outcome for _, outcome in plan))
    errors: Counter[str] = Counter()
    fds_before = _open_fds()
    started = time.perf_counter()
    with fake.serve() as base_url:
        llm = ChatNanoBanana(
            api_key="sk-or-soak", base_url=base_url, timeout=TIMEOUT, max_retries=2
        )
        deadline = TIMEOUT * 3 + 8  # three attempts, backoff, and slack
        gate = asyncio.Semaphore(concurrency)

        async def guarded(number: int) -> None:
            async with gate:
                try:
                    message = await asyncio.wait_for(_one(llm, number), deadline)
                except asyncio.TimeoutError:
                    report.hangs += 1
                except OpenRouterError as error:
                    report.mapped_errors += 1
                    errors[type(error).__name__] += 1
                except Exception as error:
                    report.unexpected.append(f"{type(error).__name__}: {error}")
                else:
                    if _whole_image(message):
                        report.successes += 1
                    else:
                        report.unexpected.append(f"request {number}: answer without a whole image")

        await asyncio.gather(*(guarded(n) for n in range(requests)))
        await llm._get_transport().async_client().aclose()
    report.seconds = round(time.perf_counter() - started, 2)
    for _ in range(30):  # server threads close their sockets a moment after the client
        if _open_fds() <= fds_before:
            break
        await asyncio.sleep(0.1)
    report.leaked_fds = max(0, _open_fds() - fds_before)
    report.errors_by_type = dict(errors)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--fault-share", type=float, default=0.25)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    report = asyncio.run(soak(args.requests, args.concurrency, args.fault_share, args.seed))
    print(json.dumps(asdict(report), indent=2))


if __name__ == "__main__":
    main()
