"""Prepare Lambda: normalize the source, validate with the one schema, plan the lanes and their calls.

Input (from the workflow): ``{"input": <execution input>, "execution_name": <name>}``.
Output: the plan of :func:`planning.plan` plus ``origin`` and ``caller``.
Fails with ``ValidationError`` (message: the JSON error body naming the field), and with
``QuotaExceeded`` when a signed-in caller's images would pass the daily quota (message: the JSON
429 body; the manifest then says ``refused``, so a job's status URL tells why).
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any, NotRequired, TypedDict, cast

import boto3
from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.typing import LambdaContext

import planning
import quota
import sources
from num_images import default_num_images
from prepare_environment import whole_number
from request_validation import ValidationError, validated_request

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

MAX_PROMPT_FILE_BYTES = 64 * 1024
DEFAULT_COLD_WAIT_SECONDS = 200
# A call that finds its endpoint warm at the deadline may still take SageMaker's 60 s, after up to
# one more 15 s Retry interval: every call after the first in a lane needs that much of the wait.
SECONDS_PER_LATER_CALL = 75


class PrepareInput(TypedDict):
    """What the workflow's Prepare state passes. Both may be missing or of any type: the
    execution input is whatever the caller sent, and a bad name is refused with a clear error."""

    input: NotRequired[Any]
    execution_name: NotRequired[Any]


class PrepareOutput(planning.Plan):
    origin: str  # "request" | "s3" | "event"
    caller: sources.Caller | None  # the signed-in user, for Collect's run history
    # What was counted against the caller's quota (None: not signed in): Collect gives back the
    # images a cold endpoint refused, which cost no GPU time.
    reservation: quota.Reservation | None
    # Epoch seconds until which a call to a cold endpoint (scaled to zero) is retried: 0 for a sync
    # run (its caller is answered 503 WarmingUp at once), now + COLD_WAIT_SECONDS for the others.
    capacity_deadline: float


@dataclass(frozen=True)
class Settings:
    """The function's environment. A bad configuration fails the first invocation, loudly."""

    bucket: str
    endpoints: tuple[planning.Endpoint, ...]
    default_num_images: int  # used when a request names no num_images
    call_limits: planning.CallLimits
    quota: quota.QuotaSettings | None  # None: sign-in is off, no caller is ever signed in
    # How long a run that is not waited on (a job, an event, a prompt file) waits for cold endpoints:
    # the workflow's 300 s less one more call (up to 60 s) and Collect. The local stack scales it
    # with its Retry intervals.
    cold_wait_seconds: float
    # What each call after the first in a lane needs of that wait (SECONDS_PER_LATER_CALL; the
    # local stack scales its Retry part and uses its own per-call limit).
    later_call_seconds: float

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            bucket=os.environ["BUCKET_NAME"],
            endpoints=planning.parse_endpoints(os.environ["ENDPOINT_NAMES"]),
            default_num_images=default_num_images(),
            call_limits=planning.CallLimits(
                images_per_call=whole_number("IMAGES_PER_CALL", low=0),
                max_images=whole_number("MAX_IMAGES_PER_CALL", low=1),
                max_pixels=whole_number("MAX_PIXELS_PER_CALL", low=1),
            ),
            quota=quota.QuotaSettings.from_env(),
            cold_wait_seconds=_seconds("COLD_WAIT_SECONDS", DEFAULT_COLD_WAIT_SECONDS),
            later_call_seconds=_seconds("LATER_CALL_SECONDS", SECONDS_PER_LATER_CALL),
        )


def _seconds(variable: str, default: float) -> float:
    text = os.environ.get(variable) or str(default)
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds >= 0):
        raise ValueError(f"{variable} must be 0 or more seconds, not {text!r}")
    return seconds


@cache
def get_settings() -> Settings:
    """Parsed once per container, on first use: importing the module needs no environment."""
    return Settings.from_env()


@cache
def s3_client() -> S3Client:
    """One client per container, made on first use (after the environment is read)."""
    return boto3.client("s3")


@cache
def dynamodb_client() -> DynamoDBClient:
    return boto3.client("dynamodb")


logger = Logger()
tracer = Tracer()


def read_prompt_file(bucket: str, key: str) -> bytes:
    if bucket != get_settings().bucket:
        raise ValidationError("event", f"prompt files are read only from this stack's bucket, not {bucket!r}")
    obj = s3_client().get_object(Bucket=bucket, Key=key)
    if obj["ContentLength"] > MAX_PROMPT_FILE_BYTES:
        raise ValidationError("body", f"the prompt file is {obj['ContentLength']} bytes; the limit is {MAX_PROMPT_FILE_BYTES}")
    body: bytes = obj["Body"].read()
    return body


def images_per_call(request: planning.Request, limits: planning.CallLimits) -> int:
    """How many of this request's images one endpoint call carries; a size no endpoint call can
    carry is refused here, before any GPU is asked."""
    try:
        return limits.per_call(request["width"], request["height"])
    except ValueError as exc:
        raise ValidationError("width", f"{exc}: ask for a smaller image") from None


def reserve_images(caller: sources.Caller, request_id: str, request: planning.Request) -> quota.Reservation:
    """Count the request against the caller's daily quota; when it would pass it, put the refusal
    on record as the run's manifest (a job's status URL) and raise ``QuotaExceeded``."""
    settings = get_settings()
    if settings.quota is None:
        raise ValueError("a signed-in request arrived but USAGE_TABLE is not set: the stack's sign-in and quota are out of step")
    now = datetime.now(UTC)
    try:
        quota.reserve(dynamodb_client(), settings.quota.table, caller["sub"], request["num_images"], settings.quota.daily_images, now)
    except quota.QuotaExceeded as exc:
        refused = {**exc.body, "request_id": request_id, "status": "refused", "images": [], "errors": [], "request": request}
        s3_client().put_object(
            Bucket=settings.bucket,
            Key=manifest_key(request_id),
            Body=json.dumps(refused, ensure_ascii=False).encode(),
            ContentType="application/json",
            CacheControl="no-cache",
        )
        emit_metric("QuotaRefusals", 1)
        logger.info("quota exceeded", extra={"reason": exc.body["message"]})
        raise
    return {"sk": quota.quota_key(quota.day_of(now)[0]), "images": request["num_images"]}


def cold_wait_deadline(now: float, cold_wait_seconds: float, later_call_seconds: float, plan: planning.Plan) -> float:
    """Until when a job waits for cold endpoints: COLD_WAIT_SECONDS leaves room for one more call
    and Collect in the workflow's 300 s, so a lane of several calls waits less (never past now)."""
    longest_lane = max(len(lane["calls"]) for lane in plan["lanes"])
    return now + max(0.0, cold_wait_seconds - later_call_seconds * (longest_lane - 1))


def manifest_key(request_id: str) -> str:
    """Where a run's manifest is written (Collect's collect_response.manifest_key, the same layout:
    tests/unit/test_key_layout.py holds the two together)."""
    return f"requests/{request_id}.json"


def emit_metric(name: str, value: float) -> None:
    """One count metric, flushed at once. ``single_metric`` keeps no per-process metric set,
    which the local stack needs: it runs concurrent invocations in one process."""
    with single_metric(name=name, unit=MetricUnit.Count, value=value):
        pass


@logger.inject_lambda_context(correlation_id_path="execution_name")
@tracer.capture_lambda_handler
def handler(event: PrepareInput, context: LambdaContext) -> PrepareOutput:
    settings = get_settings()
    try:
        source = sources.normalize(event.get("input"), event.get("execution_name"), read_prompt_file)
        logger.append_keys(request_id=source.request_id, origin=source.origin, user=source.caller["sub"] if source.caller else None)
        # None (left out of the log line) outside a batch: the keys stay on the logger from one invocation to the next.
        logger.append_keys(batch_id=source.batch["id"] if source.batch else None, batch_line=source.batch["line"] if source.batch else None)
        # The schema guarantees the shape: every field present (defaults filled in) but seed.
        request = cast("planning.Request", validated_request(source.request))
        if "num_images" not in source.request:
            request["num_images"] = settings.default_num_images
        per_call = images_per_call(request, settings.call_limits)
    except ValidationError as exc:
        emit_metric("RequestsRejected", 1)
        logger.info("request rejected", extra={"field": exc.field, "reason": exc.reason})
        raise
    reservation = reserve_images(source.caller, source.request_id, request) if source.caller is not None else None
    plan = planning.plan(request, source.request_id, settings.endpoints, per_call, source.deal_from)
    emit_metric("RequestsPlanned", 1)
    emit_metric("ImagesPlanned", request["num_images"])
    calls = sum(len(lane["calls"]) for lane in plan["lanes"])
    emit_metric("CallsPlanned", calls)
    logger.info("planned", extra={"images": request["num_images"], "lanes": len(plan["lanes"]), "calls": calls})
    capacity_deadline = 0.0 if source.sync else cold_wait_deadline(time.time(), settings.cold_wait_seconds, settings.later_call_seconds, plan)
    return {**plan, "origin": source.origin, "caller": source.caller, "reservation": reservation, "capacity_deadline": capacity_deadline}
