"""The Image API backend and n images: overhead against the floor, and fan-out wall time.

Same method as ``bench/run.py`` (whose emulator and timing helpers this uses): the
emulator serves from a separate process on loopback, figures are medians, and every
comparison is a ratio within this run.

    python bench/image_api.py            # a minute or two, Markdown on stdout
    python bench/image_api.py --smoke    # tiny repetitions: keeps the harness working

1. One 1024x1024 answer from ``POST /images`` (photo-sized PNG), ``invoke`` against a
   bare httpx post + json parse + base64 decode of ``data[0].b64_json``, the same floor
   as the chat path's;
2. n=4 images at 200 ms of server latency, against one image at the same latency: on
   the chat endpoint (four requests in parallel), on the Image API with a model that
   makes one image per request (four requests) and with one that makes several (one).
"""

from __future__ import annotations

import argparse
import base64
import json
import multiprocessing
import platform
from typing import Any

import httpx
from run import KEY, emulator, median_seconds

from langchain_nanobanana import ChatNanoBanana

IMAGES_MODEL = "openai/gpt-image-1"
BODY = {"model": IMAGES_MODEL, "prompt": "a nano banana dish"}


def _floor_body(client: httpx.Client, base_url: str) -> bytes:
    headers = {"Authorization": f"Bearer {KEY}"}
    return client.post(f"{base_url}/images", json=BODY, headers=headers).content


def _floor(client: httpx.Client, base_url: str, decode: bool = True) -> Any:
    """The least any client must do: post, parse the JSON, decode the image."""
    encoded = json.loads(_floor_body(client, base_url))["data"][0]["b64_json"]
    return base64.b64decode(encoded) if decode else encoded


def overhead(repeat: int) -> dict[str, float]:
    with emulator(noise=True) as base_url, httpx.Client(timeout=120) as client:
        llm = ChatNanoBanana(api_key=KEY, base_url=base_url, model=IMAGES_MODEL)
        floor = median_seconds(lambda: _floor(client, base_url), repeat)
        no_decode = median_seconds(lambda: _floor(client, base_url, decode=False), repeat)
        ours = median_seconds(lambda: llm.invoke("a nano banana dish"), repeat)
        payload = len(_floor_body(client, base_url))
    return {
        "floor_s": floor,
        "no_decode_s": no_decode,
        "invoke_s": ours,
        "payload_mb": payload / 1e6,
    }


def fan_out(repeat: int) -> list[dict[str, Any]]:
    rows = []
    cases = (
        ("chat, google/gemini-2.5-flash-image", {}),
        ("Image API, google/gemini-2.5-flash-image (1 per request)", {"endpoint": "images"}),
        ("Image API, openai/gpt-image-1 (several per request)", {"model": IMAGES_MODEL}),
    )
    with emulator(latency=0.2) as base_url:
        for name, fields in cases:
            llm = ChatNanoBanana(api_key=KEY, base_url=base_url, seed=1, **fields)
            one = median_seconds(lambda llm=llm: llm.invoke("a banana"), repeat)
            four = median_seconds(lambda llm=llm: llm.invoke("a banana", n=4), repeat)
            rows.append({"case": name, "one_s": one, "four_s": four, "ratio": four / one})
    return rows


def report(results: dict[str, Any]) -> str:
    over = results["overhead"]
    lines = [
        f"## 6. The Image API and n images ({results['machine']})",
        "",
        f"One 1024x1024 answer from `POST /images` ({over['payload_mb']:.1f} MB of JSON):",
        "",
        "| work | median s | vs floor |",
        "|---|---|---|",
        f"| bare httpx + json + b64decode (the floor) | {over['floor_s']:.3f} | 1.00 |",
        f"| bare httpx + json, no decode | {over['no_decode_s']:.3f} | {over['no_decode_s'] / over['floor_s']:.2f} |",
        f'| `ChatNanoBanana(model="{IMAGES_MODEL}").invoke` | {over["invoke_s"]:.3f} | {over["invoke_s"] / over["floor_s"]:.2f} |',
        "",
        "n=4 against one image, 200 ms of server latency per request:",
        "",
        "| backend and model | one image s | n=4 s | n=4 / one |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {row['case']} | {row['one_s']:.3f} | {row['four_s']:.3f} | {row['ratio']:.2f}x |"
        for row in results["fan_out"]
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--smoke", action="store_true", help="tiny repetitions")
    parser.add_argument("--json", help="also write the raw results here")
    args = parser.parse_args()
    repeat = 2 if args.smoke else 15
    results = {
        "machine": f"{platform.machine()}, {multiprocessing.cpu_count()} cores, Python {platform.python_version()}",
        "overhead": overhead(repeat),
        "fan_out": fan_out(2 if args.smoke else 9),
    }
    print(report(results))
    if args.json:
        with open(args.json, "w") as file:
            json.dump(results, file, indent=2)


if __name__ == "__main__":
    main()
