"""Bulk generation against its physical limit (`make bench`): a batch of LINES 2-image 256² lines
through `POST /text2image/batches` on `text2image up --endpoints 4 --latency 0.25`.

The ideal is the GPUs' time alone: total images × T / endpoints (80 × 0.25 / 4 = 5 s); the
acceptance limit (issue 16) is 1.3 × the ideal + 2 s. The clock runs, on the client, from the POST
to the first look at the batch's status.json (polled every POLL_S, as a client would) that says
the batch ended. After each clock stops, every image URL the status lists is fetched and checked
(a 256² JPEG, all distinct), and the endpoint calls are read from `GET /_local/stats`. A file with
bad lines 3 and 17 must be refused naming both, with no endpoint call. A warm-up batch runs first
(the functions' first imports). Writes bench/results/bulk.md.

    uv run python bench/bulk.py [--runs 3] [--lines 40]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import statistics
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from text2image.batch_workflow import batch_concurrency
from text2image.client import ApiCallFailed, batch_status, download, fetch, submit_batch
from text2image.local.process import LocalStackProcess

RESULTS = Path(__file__).parent / "results" / "bulk.md"
ENDPOINTS = 4
LATENCY = 0.25
IMAGES_PER_LINE = 2
SIZE = 256
POLL_S = 0.05
JSONL = "application/x-ndjson"
STACK_ARGS = ("--endpoints", str(ENDPOINTS), "--latency", str(LATENCY))


def ideal_seconds(lines: int) -> float:
    return lines * IMAGES_PER_LINE * LATENCY / ENDPOINTS


def limit_seconds(lines: int) -> float:
    return 1.3 * ideal_seconds(lines) + 2.0


def batch_file(lines: int, tag: str) -> bytes:
    """LINES requests, each of its own prompt (a run's content is its own: the same file is one batch)."""
    requests = [{"text": f"bulk {tag} line {n}", "num_images": IMAGES_PER_LINE, "width": SIZE, "height": SIZE} for n in range(1, lines + 1)]
    return "".join(json.dumps(request) + "\n" for request in requests).encode()


def endpoint_calls(api: str) -> int:
    _, _, body = fetch(f"{api}/_local/stats")
    return sum(endpoint["invocations"] for endpoint in json.loads(body)["endpoints"].values())


@dataclass(frozen=True)
class Run:
    seconds: float
    lines: int
    images: int
    calls: int

    @property
    def lines_per_second(self) -> float:
        return self.lines / self.seconds

    @property
    def images_per_second(self) -> float:
        return self.images / self.seconds


def run_batch(api: str, lines: int) -> Run:
    calls_before = endpoint_calls(api)
    started = time.monotonic()
    answer = submit_batch(api, batch_file(lines, uuid.uuid4().hex[:12]), JSONL, None)
    while (document := batch_status(answer["status_url"]))["status"] == "running":
        time.sleep(POLL_S)
    seconds = time.monotonic() - started
    if document["status"] != "succeeded":
        raise SystemExit(f"batch {answer['batch_id']} ended {document['status']}: {json.dumps(document)[:2000]}")
    check_images(document, lines)
    return Run(seconds, lines, document["images"], endpoint_calls(api) - calls_before)


def check_images(document: dict[str, Any], lines: int) -> None:
    urls = [url for line in document["lines"] for url in line["images"]]
    if len(urls) != lines * IMAGES_PER_LINE:
        raise SystemExit(f"{len(urls)} images listed, not {lines * IMAGES_PER_LINE}")
    digests = set()
    for url in urls:
        data = download(url)
        with Image.open(io.BytesIO(data)) as image:
            if (image.format, image.size) != ("JPEG", (SIZE, SIZE)):
                raise SystemExit(f"{url}: {image.format} {image.size}, not a {SIZE}² JPEG")
        digests.add(hashlib.sha256(data).hexdigest())
    if len(digests) != len(urls):
        raise SystemExit(f"only {len(digests)} distinct images of {len(urls)}")


def bad_lines_refused(api: str) -> str:
    """A file whose lines 3 and 17 are bad: refused naming both, no endpoint called."""
    lines: list[dict[str, Any]] = [{"text": f"fine {n}"} for n in range(1, 21)]
    lines[2], lines[16] = {"text": ""}, {"text": "unknown field", "colour": "red"}
    calls_before = endpoint_calls(api)
    try:
        submit_batch(api, "".join(json.dumps(line) + "\n" for line in lines).encode(), JSONL, None)
    except ApiCallFailed as exc:
        named = [line["line"] for line in exc.body.get("lines", [])]
        calls = endpoint_calls(api) - calls_before
        if exc.status != 400 or named != [3, 17] or calls:
            raise SystemExit(f"bad lines: {exc.status}, lines {named}, {calls} endpoint calls") from None
        return f"{exc.status} {exc.body['error']}, lines {named}, {calls} endpoint calls: {exc.body['message']}"
    raise SystemExit("a file with bad lines 3 and 17 was accepted")


def report(runs: list[Run], lines: int, refusal: str) -> str:
    ideal, limit = ideal_seconds(lines), limit_seconds(lines)
    median = statistics.median(run.seconds for run in runs)
    rows = "\n".join(
        f"| {n} | {run.seconds:.2f} s | {run.seconds / ideal:.2f} | {run.lines_per_second:.2f} | {run.images_per_second:.2f} | {run.calls} |"
        for n, run in enumerate(runs, start=1)
    )
    verdict = "met" if median <= limit else "NOT met"
    load = " / ".join(f"{value:.1f}" for value in os.getloadavg())
    return f"""# Bulk generation: a batch through the Distributed Map (bench/bulk.py)

`text2image up --endpoints {ENDPOINTS} --latency {LATENCY}` (MaxConcurrency {batch_concurrency(0, ENDPOINTS)} lines, the
default of two per endpoint); {lines} lines of {IMAGES_PER_LINE} images of {SIZE}² each, JSONL through
`POST /text2image/batches`; the clock runs from the POST to the first look at status.json (every
{POLL_S:g} s) that says the batch ended; every image fetched and checked after it stops.

Ideal (total images × T / endpoints): **{ideal:.2f} s** ({lines * IMAGES_PER_LINE / ideal:.1f} images/s, {lines / ideal:.1f} lines/s).
Acceptance limit (1.3 × ideal + 2 s): **{limit:.2f} s**: median **{median:.2f} s**, {verdict}.

| run | batch | × ideal | lines/s | images/s | endpoint calls |
|---|---|---|---|---|---|
{rows}

Bad lines 3 and 17: {refusal}

Load average while it ran (1 / 5 / 15 min): {load} on {os.cpu_count()} CPUs (the local stack is one
Python process: moto, the functions and the endpoints share its interpreter).
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--lines", type=int, default=40)
    args = parser.parse_args(argv)
    with LocalStackProcess(*STACK_ARGS) as stack:
        run_batch(stack.url, 4)  # warm-up: the functions' first imports and clients
        refusal = bad_lines_refused(stack.url)
        runs = []
        for n in range(1, args.runs + 1):
            runs.append(run_batch(stack.url, args.lines))
            print(f"run {n}: {runs[-1].seconds:.2f} s ({runs[-1].images_per_second:.1f} images/s)", flush=True)
    text = report(runs, args.lines, refusal)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(text, encoding="utf-8")
    print(text)
    return 0 if statistics.median(run.seconds for run in runs) <= limit_seconds(args.lines) else 1


if __name__ == "__main__":
    sys.exit(main())
