"""What the stack costs: per 1,000 images, per 1,000 batch lines, idle per hour, and when scale to zero saves money.

Reads the price table bench/prices.json (each price with its source and the date it was read)
and writes bench/results/cost.md. Arithmetic only, no AWS call and no timing: the per-image GPU
times are the README's measured or published figures (GPU_TIMES), the rest are the assumptions
below, each a parameter with a default.

    .venv/bin/python bench/cost.py [--endpoints 2] [--instance-type ml.g5.xlarge] [--images-per-day 1000]
        [--idle-minutes cdk.json endpointIdleMinutes] [--cold-start-minutes endpointColdStartSeconds / 60] [--sessions-per-day 4]
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from text2image.batch_workflow import PROGRESS_SECONDS
from text2image.deploy_settings import context_defaults
from text2image.manifest import BATCH_STATUS, COLLECT, INVOKE_ENDPOINT, PREPARE, SUBMIT_BATCH

PRICES = Path(__file__).parent / "prices.json"
RESULTS = Path(__file__).parent / "results" / "cost.md"
HOURS_PER_MONTH = 730  # AWS's convention for GB-month and per-hour conversions
MB_PER_GB = 1024
KB_PER_GB = 1024 * 1024


@dataclass(frozen=True)
class GpuTime:
    gpu: str
    instance_type: str
    gpus_per_instance: int  # one model copy per GPU: an 8-GPU instance makes 8 images at a time
    seconds_per_image: float
    source: str


# SD 1.5, 512 x 512, 50 steps. No ml.g6 (L4) row: the README has no time for it.
GPU_TIMES = (
    GpuTime("H100", "ml.p5.48xlarge", 8, 0.53, "README, batching table: measured, 4 images per call (1.36 s at 1 per call)"),
    GpuTime("A100", "ml.p4d.24xlarge", 8, 2.0, "README: diffusers torch 2.0 benchmark, one image"),
    GpuTime("A10G", "ml.g5.xlarge", 1, 2.5, "README: diffusers torch 2.0 benchmark, batches of 4"),
    GpuTime("T4", "ml.g4dn.xlarge", 1, 7.4, "README: diffusers torch 2.0 benchmark, batches of 4"),
)


@dataclass(frozen=True)
class Assumptions:
    endpoints: int
    instances: int  # per endpoint while warm
    instance_type: str
    images_per_request: int
    images_per_day: int
    idle_minutes: float  # without calls before scale-in to zero
    cold_start_minutes: float  # instance start plus model load, billed (assumed) from launch
    sessions_per_day: int  # separate periods of use, each paying one cold start and one idle tail
    retention_days: int
    image_kb: float = 60.0  # a 512 x 512 JPEG
    manifest_kb: float = 2.0
    workflow_overhead_s: float = 0.5  # Prepare, Collect and the transitions around the endpoint calls
    prepare_s: float = 0.05  # estimates: warm local invocations took 5-36 ms (bench/results/coldstart.md)
    collect_s: float = 0.1
    s3_write_s: float = 0.05  # Invoke's own work after the endpoint answers
    express_memory_mb: int = 64  # 50 MB + definition + payload, billed in 64 MB chunks
    dynamodb_writes_per_request: int = 2  # the quota reservation and the history item (signed-in)


# The batch workflow's billed state transitions (statemachine/text2image_batch.asl.json; Standard
# workflows bill each state entered, and a Distributed Map one more per child execution it starts:
# AWS, "Transitions in Distributed Map states"). tests/unit/test_batch_cost.py holds them to the file.
CHILD_TRANSITIONS = 2  # the child's start, and its one state (Line: the request workflow, .sync)
PARENT_TRANSITIONS = 3  # Batch (the Parallel), Lines (the map), Ran (the final status look)
LOOK_TRANSITIONS = 3  # each status look of the Progress branch: Progress, Ended?, then Pause (or Ended, the last)
BATCH_LINES = 1000


@dataclass(frozen=True)
class BatchAssumptions:
    lines: int = BATCH_LINES
    progress_seconds: float = PROGRESS_SECONDS  # between two status looks
    status_s: float = 0.2  # one status look: a listing, the new manifests read 16 at a time, one write (estimate)
    submit_s: float = 0.5  # parsing and checking 1,000 lines, two writes (estimate)
    result_files: int = 3  # the ResultWriter's manifest.json and its SUCCEEDED/FAILED files


def load_prices(path: Path = PRICES) -> dict[str, float]:
    table: dict[str, Any] = json.loads(path.read_text())
    return {key: float(entry["value"]) for key, entry in table["prices"].items()}


def instance_price_key(instance_type: str) -> str:
    return f"sagemaker.{instance_type}.hour"


def round_up(value: float, step: float) -> float:
    return math.ceil(round(value / step, 9)) * step


def gpu_cost_per_image(seconds_per_image: float, hourly_price: float, gpus_per_instance: int) -> float:
    return seconds_per_image * hourly_price / 3600 / gpus_per_instance


def lambda_cost(duration_s: float, memory_mb: int, prices: dict[str, float]) -> float:
    """One invocation: the request plus its duration (rounded up to 1 ms) at its memory size."""
    gb_seconds = round_up(duration_s, 0.001) * memory_mb / MB_PER_GB
    return prices["lambda.arm64.request"] + gb_seconds * prices["lambda.arm64.gb_second"]


def express_cost(duration_s: float, memory_mb: int, prices: dict[str, float]) -> float:
    """One Express execution: the request plus its duration (rounded up to 100 ms) at its memory
    (billed in 64 MB chunks). State transitions are not billed for Express."""
    gb_seconds = round_up(duration_s, 0.1) * round_up(memory_mb, 64) / MB_PER_GB
    return prices["stepfunctions.express.request"] + gb_seconds * prices["stepfunctions.express.gb_second"]


def serverless_cost_per_request(seconds_per_image: float, a: Assumptions, prices: dict[str, float]) -> dict[str, float]:
    """Everything but the GPU for one request of ``a.images_per_request`` images, by part."""
    images = a.images_per_request
    calls = min(images, a.endpoints)  # each endpoint's share in one call
    gpu_wall_s = math.ceil(images / a.endpoints) * seconds_per_image  # the slowest endpoint's share
    # Each Invoke waits on its endpoint: together they wait every image's GPU time.
    invoke = sum(lambda_cost(share * seconds_per_image + a.s3_write_s, INVOKE_ENDPOINT.memory_mb, prices) for share in shares(images, a.endpoints))
    transfer_gb = (images * a.image_kb + a.manifest_kb) / KB_PER_GB
    return {
        "Step Functions Express": express_cost(gpu_wall_s + a.workflow_overhead_s, a.express_memory_mb, prices),
        "Lambda Prepare": lambda_cost(a.prepare_s, PREPARE.memory_mb, prices),
        f"Lambda Invoke ({calls} calls)": invoke,
        "Lambda Collect": lambda_cost(a.collect_s, COLLECT.memory_mb, prices),
        "S3 PUT (images + manifest)": (images + 1) * prices["s3.put.request"],
        "S3 GET (CloudFront origin fetch)": (images + 1) * prices["s3.get.request"],
        "CloudFront transfer out": transfer_gb * prices["cloudfront.transfer_out.gb"],
        "DynamoDB writes": a.dynamodb_writes_per_request * prices["dynamodb.ondemand.write_request_unit"],
    }


def shares(images: int, endpoints: int) -> list[int]:
    """How many images each endpoint makes of one request, as Prepare spreads them."""
    return [images // endpoints + (1 if index < images % endpoints else 0) for index in range(min(images, endpoints))]


def batch_seconds(lines: int, images_per_line: int, seconds_per_image: float, gpus: int) -> float:
    """How long a batch runs when its images keep every GPU busy (MaxConcurrency: two lines per GPU)."""
    return lines * images_per_line * seconds_per_image / gpus


def batch_overhead(seconds_per_image: float, a: Assumptions, b: BatchAssumptions, prices: dict[str, float]) -> dict[str, float]:
    """What a batch adds to its lines' own runs (each line's Express run costs what a request
    costs: serverless_cost_per_request), by part. The status looks go on every progress_seconds for
    the whole batch: the one part that grows with its duration, not its lines."""
    looks = math.ceil(batch_seconds(b.lines, a.images_per_request, seconds_per_image, a.endpoints * a.instances) / b.progress_seconds) + 1
    transitions = b.lines * CHILD_TRANSITIONS + PARENT_TRANSITIONS + looks * LOOK_TRANSITIONS
    return {
        f"Step Functions Standard ({transitions:,} transitions)": transitions * prices["stepfunctions.standard.state_transition"],
        f"Lambda status ({looks + 1} looks)": (looks + 1) * lambda_cost(b.status_s, BATCH_STATUS.memory_mb, prices),
        "Lambda submit": lambda_cost(b.submit_s, SUBMIT_BATCH.memory_mb, prices),
        # LIST is billed as a PUT-class request.
        "S3 PUT/LIST (input, status, results)": (2 + 2 * (looks + 1) + b.result_files) * prices["s3.put.request"],
        "S3 GET (input, status, each line's manifest)": (1 + (looks + 1) + b.lines) * prices["s3.get.request"],
    }


def per_thousand_images(cost_per_request: float, images_per_request: int) -> float:
    return cost_per_request * 1000 / images_per_request


def idle_cost_per_hour(endpoints: int, instances: int, hourly_price: float) -> float:
    """Always warm: every instance of every endpoint bills whether it works or not."""
    return endpoints * instances * hourly_price


def storage_cost_per_hour(images_per_day: int, retention_days: int, image_kb: float, gb_month_price: float) -> float:
    """At rest with scale to zero only the images kept (the lifecycle rule's days) still cost."""
    stored_gb = images_per_day * retention_days * image_kb / KB_PER_GB
    return stored_gb * gb_month_price / HOURS_PER_MONTH


def busy_hours_per_day(images_per_day: int, seconds_per_image: float, endpoints: int, gpus_per_instance: int = 1) -> float:
    """GPU hours each endpoint works a day when the images are spread over the endpoints."""
    return images_per_day * seconds_per_image / endpoints / gpus_per_instance / 3600


def scale_to_zero_billed_hours(use_hours: float, sessions_per_day: int, cold_start_minutes: float, idle_minutes: float) -> float:
    """Hours an endpoint bills a day with scale to zero: the use, plus per session one cold start
    and the idle minutes before scale-in; never more than the day."""
    return min(24.0, use_hours + sessions_per_day * (cold_start_minutes + idle_minutes) / 60)


def break_even_use_hours(sessions_per_day: int, cold_start_minutes: float, idle_minutes: float) -> float:
    """Hours of use a day below which scale to zero costs less than always warm (24 h):
    U + n·(c + i)/60 < 24  ⇔  U < 24 − n·(c + i)/60."""
    return max(0.0, 24 - sessions_per_day * (cold_start_minutes + idle_minutes) / 60)


def money(value: float) -> str:
    if value >= 1:
        return f"${value:,.2f}"
    return f"${value:.4f}" if value >= 0.01 else f"${value:.6f}"


def report(a: Assumptions, prices: dict[str, float], table: dict[str, Any]) -> str:
    entries = table["prices"]
    lines = [
        "# What it costs",
        "",
        f"`bench/cost.py` from `bench/prices.json` ({table['region']}, on-demand, {table['currency']}; read 2026-11-26, no free tier applied). "
        "A price marked † is from a third-party page quoting AWS (AWS's own pages render most rate tables client-side): "
        "check it on AWS's page before relying on it.",
        "",
        f"Assumptions: {a.endpoints} endpoints × {a.instances} instance(s) of {a.instance_type}; requests of {a.images_per_request} images "
        f"(each endpoint's share in one call); {a.image_kb:g} KB JPEG per image (512²) fetched once through CloudFront; one S3 PUT per image plus "
        f"the manifest; Express billed at {a.express_memory_mb} MB for the slowest endpoint's share plus {a.workflow_overhead_s:g} s; Lambdas at their "
        f"manifest.py memory (Prepare {PREPARE.memory_mb} MB ~{a.prepare_s:g} s, Invoke {INVOKE_ENDPOINT.memory_mb} MB for its call's GPU time "
        f"+ {a.s3_write_s:g} s, Collect {COLLECT.memory_mb} MB ~{a.collect_s:g} s; estimates); {a.dynamodb_writes_per_request} DynamoDB writes per "
        "request (quota, history). Not counted: API Gateway, CloudWatch, CloudFront requests (rate not found; 10 M a month free), Cognito "
        "(10,000 MAUs free in Lite†).",
        "",
        "## Per 1,000 images (SD 1.5, 512², 50 steps)",
        "",
        "| GPU | instance | s/image | $/hour | GPU | everything else | total | time from |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for gpu in GPU_TIMES:
        key = instance_price_key(gpu.instance_type)
        serverless = per_thousand_images(sum(serverless_cost_per_request(gpu.seconds_per_image, a, prices).values()), a.images_per_request)
        if key in prices:
            hourly = prices[key]
            mark = "†" if entries[key]["authority"] == "third-party" else ""
            gpu_cost = 1000 * gpu_cost_per_image(gpu.seconds_per_image, hourly, gpu.gpus_per_instance)
            cells = [f"{money(hourly)}{mark}", money(gpu_cost), money(serverless), money(gpu_cost + serverless)]
        else:
            cells = ["not found", "—", money(serverless), "—"]
        per_gpu = f" ({gpu.gpus_per_instance} GPUs, one copy each)" if gpu.gpus_per_instance > 1 else ""
        lines.append(f"| {gpu.gpu} | {gpu.instance_type}{per_gpu} | {gpu.seconds_per_image:g} | " + " | ".join(cells) + f" | {gpu.source} |")

    chosen = next((gpu for gpu in GPU_TIMES if gpu.instance_type == a.instance_type), GPU_TIMES[2])
    parts = serverless_cost_per_request(chosen.seconds_per_image, a, prices)
    lines += ["", f"Everything else per 1,000 images on {chosen.gpu} ({chosen.seconds_per_image:g} s/image):", "", "| part | per 1,000 images |", "|---|---|"]
    lines += [f"| {name} | {money(per_thousand_images(cost, a.images_per_request))} |" for name, cost in parts.items()]

    lines += batch_report(chosen, a, BatchAssumptions(), prices)

    key = instance_price_key(a.instance_type)
    storage = storage_cost_per_hour(a.images_per_day, a.retention_days, a.image_kb, prices["s3.standard.gb_month"])
    lines += ["", "## Idle, per hour", ""]
    if key not in prices:
        lines.append(f"{a.instance_type}: price not found, so no idle figure.")
        return "\n".join(lines) + "\n"
    hourly = prices[key]
    warm = idle_cost_per_hour(a.endpoints, a.instances, hourly)
    lines += [
        f"- Always warm: {a.endpoints} endpoints × {a.instances} × {money(hourly)} = **{money(warm)} an hour** ({money(warm * 24)} a day), used or not.",
        f"- Scale to zero, at rest: no GPU, nothing for Lambda, Step Functions, API Gateway or DynamoDB on demand; "
        f"S3 storage of {a.retention_days} days of {a.images_per_day:,} images a day = **{money(storage)} an hour**.",
        "",
        "## When scale to zero saves money",
        "",
        "With scale to zero an endpoint bills for its use U (hours a day), plus, for each of the n separate sessions a day, the cold start c "
        "(instance start and model load, assumed billed) and the i idle minutes before scale-in. Always warm bills 24 h. So scale to zero "
        "costs less while U + n·(c + i)/60 < 24, that is U < 24 − n·(c + i)/60; with more than 24·60/(c + i) sessions a day it never does.",
        "",
    ]
    break_even = break_even_use_hours(a.sessions_per_day, a.cold_start_minutes, a.idle_minutes)
    use = busy_hours_per_day(a.images_per_day, chosen.seconds_per_image, a.endpoints, chosen.gpus_per_instance)
    billed = scale_to_zero_billed_hours(use, a.sessions_per_day, a.cold_start_minutes, a.idle_minutes)
    never = 24 * 60 / (a.cold_start_minutes + a.idle_minutes)
    lines += [
        f"- c = {a.cold_start_minutes:g} min, i = {a.idle_minutes:g} min, n = {a.sessions_per_day}: scale to zero saves money below "
        f"**{break_even:.2f} hours of use a day** (never with more than {never:.0f} sessions a day).",
        f"- At {a.images_per_day:,} images a day on {chosen.gpu}: U = {use:.2f} h per endpoint, billed {billed:.2f} h with scale to zero "
        f"against 24 h warm: {money(a.endpoints * a.instances * hourly * billed)} against {money(warm * 24)} a day for the GPUs "
        f"(scale-out from zero brings {a.instances} instance(s) per endpoint here).",
        "",
        "The price of scale to zero is latency, not money: the first call after idle waits the cold start (503 `WarmingUp`).",
    ]
    return "\n".join(lines) + "\n"


def batch_report(gpu: GpuTime, a: Assumptions, b: BatchAssumptions, prices: dict[str, float]) -> list[str]:
    """Per 1,000 lines of a batch (POST /text2image/batches): its own overhead beside the lines' runs."""
    lines = ["", f"## Batches, per {b.lines:,} lines", ""]
    if "stepfunctions.standard.state_transition" not in prices:
        return [*lines, "Step Functions Standard: price not found, so no batch figure."]
    gpus = a.endpoints * a.instances
    overhead = batch_overhead(gpu.seconds_per_image, a, b, prices)
    runs = b.lines * sum(serverless_cost_per_request(gpu.seconds_per_image, a, prices).values())
    minutes = batch_seconds(b.lines, a.images_per_request, gpu.seconds_per_image, gpus) / 60
    lines += [
        f"{b.lines:,} lines of {a.images_per_request} images ({b.lines * a.images_per_request:,} images) on {gpus} {gpu.gpu} GPU(s) at "
        f"{gpu.seconds_per_image:g} s/image: about {minutes:,.0f} minutes. Each line runs as a request does (its Express run, Lambdas, S3, "
        f"transfer: {money(runs)} for the {b.lines:,}); the batch adds its Standard workflow (two transitions a line, three per status look "
        f"every {b.progress_seconds:g} s), the status looks (Lambda {BATCH_STATUS.memory_mb} MB ~{b.status_s:g} s each; estimate) and S3 "
        "requests for the input, status.json, the results and one read of each line's manifest.",
        "",
        "| part | per 1,000 lines |",
        "|---|---|",
    ]
    lines += [f"| {name} | {money(cost)} |" for name, cost in overhead.items()]
    lines += [f"| **batch overhead** | **{money(sum(overhead.values()))}** |", f"| the lines' runs (everything but the GPU) | {money(runs)} |"]
    key = instance_price_key(gpu.instance_type)
    if key in prices:
        gpu_cost = b.lines * a.images_per_request * gpu_cost_per_image(gpu.seconds_per_image, prices[key], gpu.gpus_per_instance)
        lines.append(f"| the GPU | {money(gpu_cost)} |")
    return lines


def parse_args(argv: list[str] | None = None) -> Assumptions:
    defaults = context_defaults()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--endpoints", type=int, default=len(str(defaults["endpoints"]).split(",")))
    parser.add_argument("--instances", type=int, default=int(defaults["endpointInstanceCount"]))
    parser.add_argument("--instance-type", default=str(defaults["endpointInstanceType"]))
    parser.add_argument("--images-per-request", type=int, default=int(defaults["defaultNumImages"]))
    parser.add_argument("--images-per-day", type=int, default=1000)
    # The stack's own idle window and cold-start estimate (cdk.json), so the figures are the deployed defaults'.
    parser.add_argument("--idle-minutes", type=float, default=float(defaults["endpointIdleMinutes"]))
    parser.add_argument("--cold-start-minutes", type=float, default=float(defaults["endpointColdStartSeconds"]) / 60)
    parser.add_argument("--sessions-per-day", type=int, default=4)
    args = parser.parse_args(argv)
    return Assumptions(
        endpoints=args.endpoints,
        instances=args.instances,
        instance_type=args.instance_type,
        images_per_request=args.images_per_request,
        images_per_day=args.images_per_day,
        idle_minutes=args.idle_minutes,
        cold_start_minutes=args.cold_start_minutes,
        sessions_per_day=args.sessions_per_day,
        retention_days=int(defaults["imageRetentionDays"]),
    )


def main(argv: list[str] | None = None) -> None:
    assumptions = parse_args(argv)
    table = json.loads(PRICES.read_text())
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(report(assumptions, load_prices(), table))
    print(RESULTS.read_text())


if __name__ == "__main__":
    main()
