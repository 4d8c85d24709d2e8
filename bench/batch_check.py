"""How long the batch submit function takes to check the largest files it takes (`make bench`).

Every line of a batch is checked with the request schema before anything starts, inside the
submit function's 30 s (and API Gateway's 29 s), or the drop function's 60 s. Files at the
limits: the line limit (cdk.json's text2image:maxBatchLines, 10,000 lines) of short prompts;
lines with the schema's longest fields up to the route's byte limit (text2image/routes.py
BATCH_MAX_BYTES, 4 MiB); and the line limit of long lines up to the S3 drop's byte limit
(text2image/event_patterns.py BATCH_DROP_MAX_BYTES, 32 MiB). For each: the
whole check and storing work of functions/prepare/batch_input.py (parse_batch, the stored JSONL,
the first status document), median of RUNS, and its peak Python memory (tracemalloc, one more
run). For comparison, the same check through Powertools' validate(), which compiles the schema
on every call (what request_validation.py did before it compiled it once), on COMPARE_LINES lines.

Target: each file checked within TARGET_S here, so that a 512 MB Lambda (about 0.3 of a vCPU:
Lambda gives a whole vCPU at 1,769 MB) stays well inside its timeout. Writes
bench/results/batch_check.md.

    uv run python bench/batch_check.py [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
import tracemalloc
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from aws_lambda_powertools.utilities.validation import validate

from text2image.deploy_settings import context_defaults
from text2image.event_patterns import BATCH_DROP_MAX_BYTES
from text2image.local.lambdas import function_module
from text2image.manifest import BATCH_DROP, SUBMIT_BATCH
from text2image.routes import BATCH_MAX_BYTES

RESULTS = Path(__file__).parent / "results" / "batch_check.md"
TARGET_S = 3.0
COMPARE_LINES = 1_000
JSONL = "application/x-ndjson"
batch_input = function_module("batch_input")
request_validation = function_module("request_validation")


def short_lines(count: int) -> bytes:
    return "".join(json.dumps({"text": f"a lighthouse on a cliff at dusk, line {n}", "num_images": 4}) + "\n" for n in range(count)).encode()


def longest_lines(max_bytes: int, max_lines: int) -> bytes:
    """Lines with the schema's longest text and negative prompt, as many as fit in ``max_bytes``."""
    longest = request_validation.SCHEMA["properties"]
    text_length, negative_length = longest["text"]["maxLength"], longest["negative_prompt"]["maxLength"]
    lines: list[bytes] = []
    size = 0
    while len(lines) < max_lines:
        line = json.dumps({"text": f"{len(lines)} ".ljust(text_length, "x"), "negative_prompt": "y" * negative_length, "num_images": 4}).encode() + b"\n"
        if size + len(line) > max_bytes:
            return b"".join(lines)
        lines.append(line)
        size += len(line)
    return b"".join(lines)


def check_and_store(body: bytes, max_lines: int) -> Any:
    """What the submit and drop functions do with a good file before they write anything."""
    limits = batch_input.Limits(max_lines=max_lines, max_bytes=BATCH_DROP_MAX_BYTES, default_num_images=4)
    batch = batch_input.parse_batch(body, JSONL, limits)
    batch.input_jsonl()
    json.dumps(batch_input.initial_status(batch, "2026-11-27T00:00:00+00:00"))
    return batch


def timed(action: Callable[[], Any], runs: int) -> list[float]:
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        seconds.append(time.perf_counter() - started)
    return seconds


def peak_mib(action: Callable[[], Any]) -> float:
    tracemalloc.start()
    action()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def compiled_every_call(body: bytes) -> None:
    """The old way: Powertools' validate() on each line, which compiles the schema each time."""
    for line in body.splitlines():
        validate(event=json.loads(line), schema=request_validation.SCHEMA)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    max_lines = int(context_defaults()["maxBatchLines"])
    files = {
        f"{max_lines:,} short lines": short_lines(max_lines),
        "longest lines up to the route's 4 MiB": longest_lines(BATCH_MAX_BYTES, max_lines),
        "longest lines up to the drop's 32 MiB": longest_lines(BATCH_DROP_MAX_BYTES, max_lines),
    }
    rows = []
    for name, body in files.items():
        lines = body.count(b"\n")
        assert check_and_store(body, max_lines).total == lines
        seconds = timed(partial(check_and_store, body, max_lines), args.runs)
        peak = peak_mib(partial(check_and_store, body, max_lines))
        median = statistics.median(seconds)
        rows.append((name, lines, len(body), median, seconds, peak))
        print(f"{name}: {lines} lines, {len(body):,} bytes: median {median:.3f} s {[round(s, 3) for s in seconds]}, peak {peak:.1f} MiB", flush=True)
    sample = short_lines(COMPARE_LINES)
    new = statistics.median(timed(partial(check_and_store, sample, max_lines), args.runs))
    old = statistics.median(timed(partial(compiled_every_call, sample), 1))
    print(f"{COMPARE_LINES} lines: compiled once {new:.3f} s, compiled on every call {old:.3f} s", flush=True)
    met = all(row[3] <= TARGET_S for row in rows)
    load = os.getloadavg()
    table = "\n".join(
        f"| {name} | {lines:,} | {size:,} | **{median:.3f} s** | {', '.join(f'{s:.3f}' for s in seconds)} | {peak:.1f} MiB |"
        for name, lines, size, median, seconds, peak in rows
    )
    RESULTS.write_text(
        f"""# Checking a batch file before it starts (bench/batch_check.py)

The submit function ({SUBMIT_BATCH.memory_mb} MB, {SUBMIT_BATCH.timeout_seconds} s timeout) and the drop function ({BATCH_DROP.memory_mb} MB,
{BATCH_DROP.timeout_seconds} s) check every line with the request schema and build what they store, before anything
is written or started. Files at the limits; seconds of `parse_batch` + the stored JSONL + the first status document, median of
{args.runs}; peak Python memory of one more run (tracemalloc).

| file | lines | bytes | median | runs | peak memory |
|---|---|---|---|---|---|
{table}

Target {TARGET_S:g} s per file here (a 512 MB Lambda has about 0.3 of this vCPU): {"met" if met else "NOT met"}.
The memory column is Python's own allocations; the drop function also holds the file as read
and the stored copy it sends (twice the file).

The schema is compiled once per container (functions/prepare/request_validation.py). Through
Powertools' `validate()`, which compiles it on every call, {COMPARE_LINES:,} lines took {old:.2f} s
against {new:.3f} s: {old / new:.0f}× slower, so {max_lines:,} lines would have taken about
{old * max_lines / COMPARE_LINES:.0f} s here, past the function's timeout.

Load average while it ran (1 / 5 / 15 min): {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} on {os.cpu_count()} CPUs.
""",
        encoding="utf-8",
    )


if __name__ == "__main__":
    main()
