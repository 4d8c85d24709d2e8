"""End-to-end latency of the sync API against the local stack (client clock).

For each setup, `text2image up` runs in its own process with simulated GPU time per image;
a few 4-image requests are timed from the client and compared with the physical limit:
ceil(images / endpoints) x latency. Writes bench/results/latency.md.

    uv run python bench/latency.py [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
import sys
import time
import urllib.request
from pathlib import Path

from text2image.local.process import LocalStackProcess

RESULTS = Path(__file__).parent / "results" / "latency.md"
# (endpoints, seconds per image, images, target from issue 2)
SETUPS = [(1, 1.0, 4, None), (2, 1.0, 4, 2.3), (4, 1.0, 4, 1.3)]


def post(url: str, request: dict[str, object]) -> dict[str, object]:
    data = json.dumps(request).encode()
    req = urllib.request.Request(f"{url}/text2image", data=data, headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, timeout=120) as response:
        answer: dict[str, object] = json.loads(response.read())
    return answer


def measure(endpoints: int, latency: float, images: int, runs: int) -> list[float]:
    with LocalStackProcess("--endpoints", str(endpoints), "--latency", str(latency)) as stack:
        post(stack.url, {"text": "warm-up", "num_images": 1})  # first-call costs (imports, connections)
        times = []
        for run in range(runs):
            started = time.perf_counter()
            answer = post(stack.url, {"text": f"A flower, fantasy, happy #{run}", "num_images": images})
            times.append(time.perf_counter() - started)
            assert len(json.loads(str(answer["body"]))) == images, answer
        return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    rows = []
    missed = False
    for endpoints, latency, images, target in SETUPS:
        times = measure(endpoints, latency, images, args.runs)
        ideal = math.ceil(images / endpoints) * latency
        median = statistics.median(times)
        verdict = "" if target is None else ("met" if max(times) < target else "MISSED")
        missed |= verdict == "MISSED"
        rows.append(
            f"| {endpoints} | {latency:g} | {images} | {ideal:.2f} | {median:.3f} | {min(times):.3f} | {max(times):.3f} "
            f"| {median - ideal:+.3f} | {ideal / median:.2f} | {'' if target is None else f'< {target:g} s: {verdict}'} |"
        )
        print(rows[-1], flush=True)
    table = "\n".join(
        [
            "# Sync API latency, local stack (preview model, simulated GPU time)",
            "",
            f"Measured by `make bench` on {platform.machine()}, {platform.python_implementation()} {platform.python_version()}, "
            f"{args.runs} runs each after one warm-up; client clock, POST to the 200 answer.",
            "",
            "| endpoints | s/image | images | ideal s | median s | min s | max s | overhead s | efficiency | issue-2 target (every run) |",
            "|---|---|---|---|---|---|---|---|---|---|",
            *rows,
            "",
        ]
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(table, encoding="utf-8")
    print(f"wrote {RESULTS}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
