"""One batched endpoint call of k images against k single calls (`make bench`).

The real handler (endpoint/code/inference.py, through the local container host) with the
tiny random-weight pipeline on this machine's CPU: the figures show what batching
(num_images_per_prompt) saves in per-call work on a CPU, not GPU timings: a GPU's gain
depends on how far one image leaves it idle. Batched and single runs alternate, REPEATS
times per cell, and the medians are compared; k = 1 (the same work both ways) shows the noise.
Writes bench/results/batching.md (batching-quick.md with --quick).

    uv run python bench/batching.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

import torch

from text2image.local.containers import InferenceScriptContainer
from text2image.tiny_pipeline import build_tiny_pipeline

RESULTS = Path(__file__).parent / "results"
REPEATS = {256: 5, 512: 3}
STEPS = 10


def seconds(container: InferenceScriptContainer, size: int, count: int, seed: int) -> float:
    body = {"prompt": "a lighthouse at dusk", "width": size, "height": size, "num_inference_steps": STEPS, "num_images_per_prompt": count, "seed": seed}
    started = time.perf_counter()
    answer = json.loads(container.invoke(json.dumps(body).encode(), "application/json", "application/json;jpeg"))
    elapsed = time.perf_counter() - started
    assert len(answer["generated_images"]) == count
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one size, k up to 4, one run per cell")
    args = parser.parse_args()
    sizes, counts = ([256], [1, 2, 4]) if args.quick else ([256, 512], [1, 2, 4, 8])
    with tempfile.TemporaryDirectory() as folder:
        container = InferenceScriptContainer(build_tiny_pipeline(Path(folder)))
        seconds(container, 64, 1, 0)  # warm-up: first-call allocations
        rows = []
        for size in sizes:
            repeats = 1 if args.quick else REPEATS[size]
            for count in counts:
                runs = [
                    (seconds(container, size, count, 1), sum(seconds(container, size, 1, 1 + i) for i in range(count)))  # alternate: drift hits both
                    for _ in range(repeats)
                ]
                batched, single = statistics.median(b for b, _ in runs), statistics.median(s for _, s in runs)
                rows.append((size, count, repeats, batched, single))
                print(f"{size}x{size} k={count}: batched {batched:.3f} s, {count} single calls {single:.3f} s, x{single / batched:.2f}", flush=True)
    lines = [
        "# Batching: one call of k images vs k single calls (CPU, tiny pipeline)",
        "",
        f"`uv run python bench/batching.py{' --quick' if args.quick else ''}`: endpoint/code/inference.py on the tiny random-weight "
        f"Stable Diffusion pipeline (text2image/tiny_pipeline.py), {STEPS} steps, DDIM, CPU only "
        f"({platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads, torch {torch.__version__}); "
        "batched and single runs alternate; median of the runs per cell (k = 1 is the same work both ways: its ratio is the noise). "
        "These are CPU figures for a toy model: they show the handler's batching works "
        "and what it saves in per-call work here, not what a GPU gains.",
        "",
        "| size | k | runs | one batched call (s) | k single calls (s) | per image batched (s) | per image single (s) | speed-up |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for size, count, repeats, batched, single in rows:
        lines.append(
            f"| {size}x{size} | {count} | {repeats} | {batched:.3f} | {single:.3f} | {batched / count:.3f} | {single / count:.3f} | {single / batched:.2f}x |"
        )
    report = RESULTS / ("batching-quick.md" if args.quick else "batching.md")  # a smoke run keeps the full results
    report.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {report}")


if __name__ == "__main__":
    main()
