"""Fan-out against its physical limit, one call per image against batched calls (`make bench`).

The local stack's preview endpoints cost like a GPU: a call of k images takes C + k·T
(`text2image up --call-overhead C --latency T`). Two parts, sync API, client clock, median of
the runs of each cell after a warm-up:

1. C + k·T, the H100's SD 1.5 512² fit (C = 1.1 s, T = 0.23 s) and the acceptance settings
   (C = 1.0 s, T = 0.25 s): K = 1, 2, 4 endpoints, M = 1, 2, 4, 8, 16 images of 512², each
   cell on the same endpoints one call per image (`--images-per-call 1`) and batched (the
   default: an endpoint's whole share in one call). The ideal is the slowest lane's sum of
   C + k·T over its planned calls (C + ceil(M/K)·T when a share fits one call), read from the
   planner itself (functions/prepare/planning.py), not a copy of it.
2. C = 0 (T = 1 s and 0.25 s, K = 1, 2, 4, 8), where batching changes nothing, next to two
   baselines against the same endpoints: (a) one endpoint, images one after another, called
   directly; (b) the original design, one Python process per image (multiprocessing), each
   calling its endpoint and writing to S3 itself. Then throughput: R concurrent 4-image
   requests on K = 4 (T = 1) against K / T.

Every measured request's endpoint calls are read from the local stack's `GET /_local/stats`
and compared with the plan's; one run per cell fetches every image and checks they are
distinct JPEGs, after its clock stops. Writes bench/results/fanout.md and fanout.png
(fanout-quick.* with --quick: the acceptance cells only).

    uv run --group bench python bench/fanout.py [--runs 3] [--quick]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import math
import multiprocessing
import re
import statistics
import sys
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from text2image.client import download, fetch, text2image
from text2image.deploy_settings import context_defaults
from text2image.local.aws import BUCKET
from text2image.local.lambdas import function_module
from text2image.local.process import LocalStackProcess

planning = function_module("planning")

# The stage's throttling is not what is measured here: lifted, as for the tests' bursts.
UNTHROTTLED = ("--throttle-rate", "1000", "--throttle-burst", "1000")
RESULTS = Path(__file__).parent / "results"
IMAGES = (1, 2, 4, 8, 16)
SIZE = {"width": 512, "height": 512}
LONG_CELL_S = 4.0
# (C, T): the H100's SD 1.5 512² fit (README, Performance) and the acceptance settings.
COSTS = ((1.1, 0.23), (1.0, 0.25))
COST_ENDPOINTS = (1, 2, 4)
# C = 0: the original measurements, kept so that a regression shows.
FLAT_LATENCIES = (1.0, 0.25)
FLAT_ENDPOINTS = (1, 2, 4, 8)
PER_IMAGE, BATCHED = 1, 0  # --images-per-call


@dataclass(frozen=True)
class Target:
    """An acceptance check (issue 13): the batched median of cell (C, T, K, M) within ``limit`` s."""

    overhead: float
    latency: float
    endpoints: int
    images: int
    limit: float


# Batched: ≤ 1.1 × ideal + 0.2 s with one endpoint call per endpoint; C = 0, T = 1: no regression.
TARGET_FACTOR, TARGET_MARGIN = 1.1, 0.2
ACCEPTANCE = (
    Target(1.0, 0.25, 2, 8, 1.1 * 2.0 + 0.2),
    Target(1.0, 0.25, 2, 16, 1.1 * 3.0 + 0.2),
    Target(1.0, 0.25, 4, 8, 1.1 * 1.5 + 0.2),
    Target(1.0, 0.25, 4, 16, 1.1 * 2.0 + 0.2),
    Target(0.0, 1.0, 2, 4, 2.3),
)


@dataclass(frozen=True)
class Stack:
    api: str
    endpoints_url: str
    aws_url: str
    names: tuple[str, ...]


@dataclass
class Cell:
    """One mode of one cell: its runs' seconds, the endpoint calls of each run, the ideal."""

    ideal: float
    planned: dict[str, int]
    seconds: list[float] = field(default_factory=list)
    calls: list[dict[str, int]] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def as_planned(self) -> bool:
        return all(calls == self.planned for calls in self.calls)

    def calls_text(self) -> str:
        """Calls per endpoint that made images, e.g. ``1 ×2`` (each of 2 endpoints called once)."""
        counts = sorted({count for calls in self.calls for count in calls.values()})
        used = {len(calls) for calls in self.calls}
        text = "/".join(map(str, counts)) + " ×" + "/".join(map(str, sorted(used)))
        return text if self.as_planned else f"{text} (planned {planned_text(self.planned)})"


def planned_text(planned: dict[str, int]) -> str:
    return "/".join(map(str, sorted(set(planned.values())))) + f" ×{len(planned)}"


def per_call_limit(images_per_call: int) -> int:
    """The most 512² images one call carries, as Prepare computes it from the stack's limits."""
    defaults = context_defaults()
    limits = planning.CallLimits(images_per_call, int(defaults["maxImagesPerCall"]), int(defaults["maxPixelsPerCall"]))
    per_call: int = limits.per_call(SIZE["width"], SIZE["height"])
    return per_call


def planned_calls(stack: Stack, images: int, images_per_call: int) -> dict[str, list[int]]:
    """Endpoint -> the image count of each of its calls, from the planner."""
    sizes: dict[str, list[int]] = planning.call_sizes(images, tuple(planning.Endpoint(name) for name in stack.names), per_call_limit(images_per_call))
    return sizes


def ideal_seconds(sizes: dict[str, list[int]], overhead: float, latency: float) -> float:
    """The slowest lane: an endpoint makes its calls one after another, each C + k·T."""
    return max(sum(overhead + count * latency for count in calls) for calls in sizes.values())


def stack_urls(process: LocalStackProcess) -> Stack:
    endpoints = re.search(r"endpoints\s+(http://\S+)\s+([\w, -]+);", process.banner)
    aws = re.search(r"local AWS\s+(http://\S+)", process.banner)
    assert endpoints and aws, process.banner
    return Stack(process.url, endpoints.group(1), aws.group(1), tuple(name.strip() for name in endpoints.group(2).split(",")))


def invocations(api: str) -> dict[str, int]:
    status, _, body = fetch(f"{api}/_local/stats")
    assert status == 200, body
    return {name: stats["invocations"] for name, stats in json.loads(body)["endpoints"].items()}


def sync_request(api: str, num_images: int, number: int) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    answer = text2image(api, {"text": f"fan-out #{number}", "num_images": num_images, **SIZE}, timeout=120)
    elapsed = time.perf_counter() - started
    assert len(answer["images"]) == num_images and not answer["errors"], answer
    return elapsed, answer


def check_images(answer: dict[str, Any]) -> None:
    """Every image of the answer is a JPEG at its own URL, and no two are the same."""
    urls = [image["url"] for image in answer["images"]]
    bodies = [download(url) for url in urls]
    assert all(body.startswith(b"\xff\xd8") for body in bodies), urls
    assert len(set(urls)) == len(urls) and len({hashlib.sha256(body).digest() for body in bodies}) == len(bodies), urls


def measure(stack: Stack, images: int, runs: int, cell: Cell) -> None:
    """``runs`` requests of ``images``: seconds and each run's endpoint calls; the first run's
    images fetched and checked after its clock stopped."""
    for run in range(runs):
        before = invocations(stack.api)
        elapsed, answer = sync_request(stack.api, images, run)
        after = invocations(stack.api)
        cell.seconds.append(elapsed)
        cell.calls.append({name: after[name] - before[name] for name in after if after[name] > before[name]})
        if run == 0:
            check_images(answer)


def runs_for(ideal: float, runs: int) -> int:
    # Long cells vary least and cost most: one run where the ideal is LONG_CELL_S or more.
    return 1 if ideal >= LONG_CELL_S else runs


def cost_rows(costs: Iterable[tuple[float, float]], endpoint_counts: Iterable[int], image_counts: Iterable[int], runs: int) -> list[dict[str, Any]]:
    """Part 1: per cell, one call per image and batched on stacks of the same endpoints."""
    rows: list[dict[str, Any]] = []
    for overhead, latency in costs:
        for endpoints in endpoint_counts:
            cells: dict[tuple[int, int], Cell] = {}
            for mode in (PER_IMAGE, BATCHED):
                cost = ("--latency", str(latency), "--call-overhead", str(overhead))
                args = ("--endpoints", str(endpoints), *cost, "--images-per-call", str(mode), *UNTHROTTLED)
                with LocalStackProcess(*args) as process:
                    stack = stack_urls(process)
                    sync_request(stack.api, 1, 0)  # warm-up: imports, connections
                    for images in image_counts:
                        sizes = planned_calls(stack, images, mode)
                        cell = Cell(ideal_seconds(sizes, overhead, latency), {name: len(calls) for name, calls in sizes.items()})
                        measure(stack, images, runs_for(cell.ideal, runs), cell)
                        cells[(mode, images)] = cell
                        progress = {"C": overhead, "T": latency, "K": endpoints, "M": images, "per_call": mode, "median": round(cell.median, 3)}
                        print(json.dumps(progress), flush=True)
            rows += [
                {"C": overhead, "T": latency, "K": endpoints, "M": images, "per_image": cells[(PER_IMAGE, images)], "batched": cells[(BATCHED, images)]}
                for images in image_counts
            ]
    return rows


def clients(stack: Stack) -> tuple[Any, Any]:
    # The default session, as the seed's code used it: forked children share its loaded
    # service models, so a client costs milliseconds (a new Session would reload them).
    common: dict[str, Any] = {"region_name": "us-east-1", "aws_access_key_id": "local", "aws_secret_access_key": "local"}
    runtime = boto3.client("sagemaker-runtime", endpoint_url=stack.endpoints_url, config=Config(read_timeout=70, retries={"total_max_attempts": 1}), **common)
    return runtime, boto3.client("s3", endpoint_url=stack.aws_url, **common)


def one_image(stack: Stack, endpoint: str, key: str, seed: int, warm: tuple[Any, Any] | None = None) -> None:
    """What the original Lambda did per image: call the endpoint, write the JPEG to S3
    (with its own clients, as each of the seed's processes made them, unless ``warm``)."""
    runtime, s3 = warm or clients(stack)
    payload = {"prompt": "baseline", "num_images_per_prompt": 1, "seed": seed, **SIZE}
    answer = json.loads(
        runtime.invoke_endpoint(EndpointName=endpoint, ContentType="application/json", Accept="application/json;jpeg", Body=json.dumps(payload))["Body"].read()
    )
    s3.put_object(Bucket=BUCKET, Key=key, Body=base64.b64decode(answer["generated_images"][0]), ContentType="image/jpeg")


def baseline_sequential(stack: Stack, num_images: int) -> float:
    """(a) One endpoint, images one after another, with clients made before the clock starts."""
    warm = clients(stack)
    started = time.perf_counter()
    for index in range(num_images):
        one_image(stack, stack.names[0], f"bench/sequential/{index}.jpeg", index, warm)
    return time.perf_counter() - started


def baseline_processes(stack: Stack, endpoints: int, num_images: int) -> float:
    """(b) The seed's design: a Process per image, image i on endpoint i mod K, start all, join all."""
    started = time.perf_counter()
    procs = [
        multiprocessing.Process(target=one_image, args=(stack, stack.names[index % endpoints], f"bench/processes/{index}.jpeg", index))
        for index in range(num_images)
    ]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join()
        assert proc.exitcode == 0
    return time.perf_counter() - started


def throughput(api: str, concurrent: int) -> tuple[float, list[float]]:
    """(images per second, per-request latencies) for ``concurrent`` 4-image requests at once;
    their images checked after the clock stopped."""
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrent) as pool:
        answers = list(pool.map(lambda n: sync_request(api, 4, 1000 + n), range(concurrent)))
    rate = 4 * concurrent / (time.perf_counter() - started)
    for _, answer in answers:
        check_images(answer)
    return rate, [elapsed for elapsed, _ in answers]


def flat_rows(
    latencies: Iterable[float], endpoint_counts: Iterable[int], image_counts: Iterable[int], runs: int, with_throughput: bool
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Part 2: C = 0, batched (the default) against baselines (a) and (b); throughput."""
    rows: list[dict[str, Any]] = []
    sequential: dict[tuple[float, int], float] = {}
    throughput_rows: list[dict[str, Any]] = []
    for latency in latencies:
        for endpoints in endpoint_counts:
            with LocalStackProcess("--endpoints", str(endpoints), "--latency", str(latency), *UNTHROTTLED) as process:
                stack = stack_urls(process)
                sync_request(stack.api, 1, 0)  # warm-up: imports, connections
                for images in image_counts:
                    sizes = planned_calls(stack, images, BATCHED)
                    cell = Cell(ideal_seconds(sizes, 0.0, latency), {name: len(calls) for name, calls in sizes.items()})
                    measure(stack, images, runs_for(cell.ideal, runs), cell)
                    if (latency, images) not in sequential:
                        sequential[(latency, images)] = baseline_sequential(stack, images)
                    rows.append({"C": 0.0, "T": latency, "K": endpoints, "M": images, "batched": cell, "sequential": sequential[(latency, images)]})
                    rows[-1]["processes"] = baseline_processes(stack, endpoints, images)
                    print(json.dumps({"C": 0, "T": latency, "K": endpoints, "M": images, "median": round(cell.median, 3)}), flush=True)
                if with_throughput and latency == 1.0 and endpoints == 4:
                    for concurrent in (1, 4, 8):
                        rate, request_latencies = throughput(stack.api, concurrent)
                        throughput_rows.append({"R": concurrent, "rate": rate, "ideal": endpoints / latency, "latencies": request_latencies})
                        print(json.dumps({"R": concurrent, "images_per_s": round(rate, 3)}), flush=True)
    return rows, throughput_rows


def main() -> int:
    clients(Stack("", "http://127.0.0.1:1", "http://127.0.0.1:1", ()))  # load the service models once, before any fork
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per cell (median reported)")
    parser.add_argument("--quick", action="store_true", help="acceptance cells only: C = 1, T = 0.25, K = 2, 4, M = 8, 16; C = 0, T = 1, K = 2, M = 4")
    args = parser.parse_args()
    started = time.perf_counter()
    if args.quick:
        rows = cost_rows(((1.0, 0.25),), (2, 4), (8, 16), args.runs)
        flat, throughput_rows = flat_rows((1.0,), (2,), (4,), args.runs, with_throughput=False)
    else:
        rows = cost_rows(COSTS, COST_ENDPOINTS, IMAGES, args.runs)
        flat, throughput_rows = flat_rows(FLAT_LATENCIES, FLAT_ENDPOINTS, IMAGES, args.runs, with_throughput=True)
    # A smoke run never overwrites the committed full results.
    write_report(rows, flat, throughput_rows, args.runs, time.perf_counter() - started, "fanout-quick" if args.quick else "fanout")
    return 0


def target_text(row: dict[str, Any]) -> str:
    cell: Cell = row["batched"]
    met = cell.median <= TARGET_FACTOR * cell.ideal + TARGET_MARGIN and cell.as_planned
    return "met" if met else "MISSED"


def acceptance_lines(rows: list[dict[str, Any]]) -> list[str]:
    lines = []
    for target in ACCEPTANCE:
        found = [r for r in rows if (r["C"], r["T"], r["K"], r["M"]) == (target.overhead, target.latency, target.endpoints, target.images)]
        if not found:
            continue
        cell: Cell = found[0]["batched"]
        met = cell.median <= target.limit and cell.as_planned
        lines.append(
            f"| {target.overhead:g} | {target.latency:g} | {target.endpoints} | {target.images} | {cell.ideal:.2f} | ≤ {target.limit:.2f} "
            f"| {cell.median:.3f} | {cell.calls_text()} | {'met' if met else 'MISSED'} |"
        )
    return lines


def write_report(rows: list[dict[str, Any]], flat: list[dict[str, Any]], throughput_rows: list[dict[str, Any]], runs: int, seconds: float, name: str) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    lines = [
        "# Fan-out: one call per image against batched calls (local stack, preview model)",
        "",
        f"`make bench` (`bench/fanout.py`, {seconds / 60:.1f} minutes): sync API, client clock, median of {runs} runs per cell after a warm-up "
        f"(one run where the ideal is {LONG_CELL_S:g} s or more); M images of 512² on K endpoints whose call of k images takes C + k·T. "
        "Ideal: the slowest endpoint's sum of C + k·T over its planned calls, C + ceil(M/K)·T when its share fits one call, "
        "ceil(M/K)·(C + T) one call per image. Calls: endpoint calls per endpoint in every run (`GET /_local/stats`), × the endpoints "
        "that made images; every image of one run per cell fetched and distinct. Target (batched): ≤ 1.1 × ideal + 0.2 s, calls as planned.",
        "",
        "## Acceptance (issue 13)",
        "",
        "| C s | T s | K | M | ideal s | limit s | batched s | calls each × endpoints | result |",
        "|---|---|---|---|---|---|---|---|---|",
        *acceptance_lines(rows + flat),
        "",
        "## C + k·T: one call per image against batched",
        "",
        "| C s | T s | K | M | per image: ideal s | measured s | calls each × endpoints "
        "| batched: ideal s | measured s | calls each × endpoints | target | speed-up |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        single, batched = r["per_image"], r["batched"]
        lines.append(
            f"| {r['C']:g} | {r['T']:g} | {r['K']} | {r['M']} | {single.ideal:.2f} | {single.median:.3f} | {single.calls_text()} "
            f"| {batched.ideal:.2f} | {batched.median:.3f} | {batched.calls_text()} | {target_text(r)} | {single.median / batched.median:.2f}× |"
        )
    lines += [
        "",
        "## C = 0: against the original design",
        "",
        "Batching changes nothing here (k·T either way); baselines measured once per cell in the same run against the same endpoints: "
        "(a) one endpoint, images one after another, called directly; (b) the original design, a Python process per image. "
        "Target (T = 1 s): overhead ≤ 5 % of ideal + 0.1 s.",
        "",
        "| T s | K | M | ideal s | text2image s | calls each × endpoints | overhead s | efficiency | target | (a) sequential s | (b) process per image s |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in flat:
        cell = r["batched"]
        overhead = cell.median - cell.ideal
        target = "" if r["T"] != 1.0 else ("met" if overhead <= 0.05 * cell.ideal + 0.1 else "MISSED")
        lines.append(
            f"| {r['T']:g} | {r['K']} | {r['M']} | {cell.ideal:.2f} | {cell.median:.3f} | {cell.calls_text()} | {overhead:+.3f} "
            f"| {cell.ideal / cell.median:.2f} | {target} | {r['sequential']:.3f} | {r['processes']:.3f} |"
        )
    if throughput_rows:
        lines += [
            "",
            "Throughput: R concurrent requests of 4 images on K = 4 endpoints, C = 0, T = 1 s (ideal K / T = 4 images/s; target ≥ 90 % at R = 8).",
            "",
            "| R | images/s | of ideal | p50 s | p95 s |",
            "|---|---|---|---|---|",
        ]
        for t in throughput_rows:
            ordered = sorted(t["latencies"])
            p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
            lines.append(f"| {t['R']} | {t['rate']:.2f} | {t['rate'] / t['ideal']:.0%} | {statistics.median(ordered):.2f} | {p95:.2f} |")
    (RESULTS / f"{name}.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    chart(rows, flat, RESULTS / f"{name}.png")
    print(f"wrote {RESULTS / f'{name}.md'} and {RESULTS / f'{name}.png'}")


def chart(rows: list[dict[str, Any]], flat: list[dict[str, Any]], path: Path) -> None:
    """Latency against M: per (C, T), one call per image (dashed) and batched (solid) for each
    K, ideals dotted; for C = 0, text2image (solid) and baseline (b) (dashed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FormatStrFormatter

    panels = [(c, t, False) for c, t in dict.fromkeys((r["C"], r["T"]) for r in rows)] + [(0.0, t, True) for t in dict.fromkeys(r["T"] for r in flat)]
    columns = 2
    fig, axes = plt.subplots(math.ceil(len(panels) / columns), columns, figsize=(13, 4.8 * math.ceil(len(panels) / columns)), squeeze=False)
    for ax, (overhead, latency, baseline) in zip(axes.flat, panels, strict=False):
        cells = [r for r in (flat if baseline else rows) if (r["C"], r["T"]) == (overhead, latency)]
        for endpoints in sorted({r["K"] for r in cells}):
            line_rows = sorted((r for r in cells if r["K"] == endpoints), key=lambda r: r["M"])
            ms = [r["M"] for r in line_rows]
            (line,) = ax.plot(ms, [r["batched"].median for r in line_rows], marker="o", label=f"K = {endpoints}")
            ax.plot(ms, [r["batched"].ideal for r in line_rows], linestyle=":", color=line.get_color())
            if baseline:
                ax.plot(ms, [r["processes"] for r in line_rows], linestyle="--", marker="x", color=line.get_color(), alpha=0.5)
            else:
                ax.plot(ms, [r["per_image"].median for r in line_rows], linestyle="--", marker="x", color=line.get_color(), alpha=0.6)
                ax.plot(ms, [r["per_image"].ideal for r in line_rows], linestyle=":", color=line.get_color(), alpha=0.4)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xticks(IMAGES, [str(m) for m in IMAGES])
        ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
        ax.yaxis.set_minor_formatter(FormatStrFormatter("%g"))
        ax.set_xlabel("images M (512²)")
        ax.set_ylabel("seconds (client clock)")
        dashed = "process per image (x)" if baseline else "one call per image (x)"
        ax.set_title(f"C = {overhead:g} s, T = {latency:g} s: batched (o), {dashed}, ideal (dotted)", fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_visible(False)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    sys.exit(main())
