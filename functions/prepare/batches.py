"""Batch submit Lambda, two entries of one module:

- ``handler``: ``POST /text2image/batches`` behind API Gateway's Lambda proxy integration. The body
  is a JSONL (``application/x-ndjson``) or CSV (``text/csv``) file, base64-encoded by API Gateway
  (both are binary media types of the API, so the bytes arrive exactly; a plain body is taken too).
  Answers 202 ``{"batch_id", "status_url", "lines"}``; 400 ValidationError listing every bad line
  (batch_input.BatchRefused), nothing written or started; 415 for any other Content-Type. A
  signed-in caller's new batch must fit their daily quota: all its images within what is left of
  their day, else 429 QuotaExceeded (with Retry-After), or 400 when it asks for more than a whole
  day's quota; nothing is written or started (each line still reserves its images as it runs).
- ``drop_handler``: an S3 "Object Created" event from EventBridge for a file under
  ``batches/inbox/`` (``.jsonl`` or ``.csv``, by its name; at most ``MAX_DROP_BYTES``): the same
  checks; a refused file gets ``batches/<id>/status.json`` with status ``invalid`` and its bad lines.

A good file is stored as ``batches/<batch_id>/input.jsonl``, its status document is created
(every line pending) and the batch state machine is started with the batch id as execution name,
input ``{"batch_id", "bucket", "input_key", "total", "caller"}``. The same file again is the same
batch: nothing is rewritten, and an execution is started only while the batch's status says
running (a first submit that stopped before StartExecution; Step Functions answers the same
execution for a running one), so an ended batch is never restarted. A batch whose status says
running while its execution has closed (its objects expired and the file came again) runs again
under the next execution name, ``<batch_id>-2`` ...

Environment: ``BUCKET_NAME``, ``BATCH_STATE_MACHINE_ARN``, ``PUBLIC_BASE_URL_PARAMETER`` (the SSM
parameter holding the public base URL, as Collect reads it), ``MAX_BATCH_LINES`` (default 10000),
``MAX_BATCH_BYTES`` (the route's limit, which base64-encoded fits Lambda's invocation payload),
``MAX_DROP_BYTES`` (a dropped file's), ``DEFAULT_NUM_IMAGES`` (as Prepare reads it); with sign-in
``USAGE_TABLE`` and ``DAILY_IMAGES_PER_USER`` (as Prepare reads them).
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any, TypedDict

import boto3
from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError

import quota
import sources
from batch_input import (
    SUFFIX_MEDIA_TYPES,
    UNSUPPORTED_MEDIA_TYPE_MESSAGE,
    Batch,
    BatchRefused,
    Limits,
    initial_status,
    input_key,
    invalid_status,
    media_type_of,
    parse_batch,
    refused_batch_id,
    status_key,
)
from num_images import default_num_images
from prepare_environment import whole_number

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_stepfunctions import SFNClient

ROUTE = "/text2image/batches"
INBOX_PREFIX = "batches/inbox/"
PARAMETER_MAX_AGE = 300
DEFAULT_MAX_LINES = 10_000  # cdk.json's text2image:maxBatchLines
# S3's answers to a conditional write (If-None-Match: *) when the key exists, or is being written.
# Executions of one batch (a batch runs again after its objects expired): a bound, not an expected count.
MAX_INCARNATIONS = 20
KEY_EXISTS = frozenset({"PreconditionFailed", "ConditionalRequestConflict"})


class Submitted(TypedDict):
    batch_id: str
    status_url: str
    lines: int


class BatchExecutionInput(TypedDict):
    """The batch state machine's input (statemachine/text2image_batch.asl.json)."""

    batch_id: str
    bucket: str
    input_key: str
    total: int
    caller: sources.Caller | None  # who submitted it (signed in): each line counts against their quota


@dataclass(frozen=True)
class Settings:
    """The function's environment. A bad configuration fails the first invocation, loudly."""

    bucket: str
    state_machine_arn: str  # the batch state machine
    public_base_url_parameter: str  # the SSM parameter's name (Collect's: the same parameter)
    limits: Limits  # of a file sent to the route
    drop_max_bytes: int  # a dropped file's byte limit (its other limits are the route's)
    quota: quota.QuotaSettings | None  # None: sign-in is off, no caller is ever signed in

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            bucket=os.environ["BUCKET_NAME"],
            state_machine_arn=os.environ["BATCH_STATE_MACHINE_ARN"],
            public_base_url_parameter=os.environ["PUBLIC_BASE_URL_PARAMETER"],
            limits=Limits(
                max_lines=whole_number("MAX_BATCH_LINES", 1, DEFAULT_MAX_LINES),
                # Set by the stack from the route's one limit (text2image/routes.py BATCH_MAX_BYTES).
                max_bytes=whole_number("MAX_BATCH_BYTES", 1),
                default_num_images=default_num_images(),
            ),
            # Set by the stack (text2image/event_patterns.py BATCH_DROP_MAX_BYTES): S3 has no payload limit.
            drop_max_bytes=whole_number("MAX_DROP_BYTES", 1),
            quota=quota.QuotaSettings.from_env(),
        )


@cache
def get_settings() -> Settings:
    """Parsed once per container, on first use: importing the module needs no environment."""
    return Settings.from_env()


@cache
def s3_client() -> S3Client:
    return boto3.client("s3")


@cache
def sfn_client() -> SFNClient:
    return boto3.client("stepfunctions")


@cache
def dynamodb_client() -> DynamoDBClient:
    return boto3.client("dynamodb")


logger = Logger()
tracer = Tracer()
app = APIGatewayRestResolver()


def public_base_url() -> str:
    """Read through Powertools Parameters, cached for 5 minutes per container (as Collect reads it)."""
    name = get_settings().public_base_url_parameter
    base_url = str(parameters.get_parameter(name, max_age=PARAMETER_MAX_AGE)).rstrip("/")
    if not base_url.startswith(("https://", "http://")):
        raise ValueError(f"{name} must hold an http(s) URL, not {base_url!r}")
    return base_url


def utc_now() -> datetime:
    return datetime.now(UTC)


def now() -> str:
    return utc_now().isoformat(timespec="seconds")


def put_new(key: str, body: bytes, content_type: str) -> bool:
    """Write ``key`` unless it exists (S3's conditional write): False when it did."""
    try:
        s3_client().put_object(Bucket=get_settings().bucket, Key=key, Body=body, ContentType=content_type, CacheControl="no-cache", IfNoneMatch="*")
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in KEY_EXISTS:
            return False
        raise
    return True


def is_submitted(batch_id: str) -> bool:
    """Whether the batch's status document exists (it was submitted before). Listed rather than
    HEAD: a missing key's HEAD is a 404 only to a role that may list the bucket, and the role's
    ListBucket is limited to the batches/ prefix, which a listing names (s3:prefix) and a HEAD does not."""
    key = status_key(batch_id)
    listed = s3_client().list_objects_v2(Bucket=get_settings().bucket, Prefix=key, MaxKeys=1)
    return any(entry["Key"] == key for entry in listed.get("Contents", []))


def admit(batch: Batch, caller: sources.Caller) -> None:
    """A signed-in caller's new batch must fit their quota, refused whole rather than line by line
    as it runs: ``BatchRefused`` when it asks for more than a day's quota, ``QuotaExceeded`` when
    more than is left of today's. A batch submitted before is answered as it was (its lines count
    as they run, so the same file again must not be refused for the images it has used)."""
    settings = get_settings().quota
    if settings is None:
        raise ValueError("a signed-in batch arrived but USAGE_TABLE is not set: the stack's sign-in and quota are out of step")
    if batch.images > settings.daily_images:
        raise BatchRefused(
            f"body: asks for {batch.images} images in all; a user's daily quota is {settings.daily_images}: "
            f"send files of at most {settings.daily_images} images"
        )
    if not is_submitted(batch.batch_id):
        quota.check_room(dynamodb_client(), settings.table, caller["sub"], batch.images, settings.daily_images, utc_now())


def status_of_existing(batch_id: str) -> str:
    obj = s3_client().get_object(Bucket=get_settings().bucket, Key=status_key(batch_id))
    status: str = json.loads(obj["Body"].read())["status"]
    return status


@tracer.capture_method
def submit(batch: Batch, caller: sources.Caller | None) -> Submitted:
    """Store a checked batch and start it, once: see the module's docstring."""
    put_new(input_key(batch.batch_id), batch.input_jsonl(), "application/x-ndjson")
    created = put_new(status_key(batch.batch_id), json.dumps(initial_status(batch, now()), ensure_ascii=False).encode(), content_types.APPLICATION_JSON)
    status = "running" if created else status_of_existing(batch.batch_id)
    if status == "running":
        start(batch, caller)
    logger.info("batch submitted", extra={"batch_id": batch.batch_id, "lines": batch.total, "new": created, "status": status})
    emit_metric("BatchesSubmitted", 1)
    emit_metric("BatchLinesSubmitted", batch.total)
    return {"batch_id": batch.batch_id, "status_url": f"{public_base_url()}/{status_key(batch.batch_id)}", "lines": batch.total}


def start(batch: Batch, caller: sources.Caller | None) -> None:
    settings = get_settings()
    execution_input: BatchExecutionInput = {
        "batch_id": batch.batch_id,
        "bucket": settings.bucket,
        "input_key": input_key(batch.batch_id),
        "total": batch.total,
        "caller": caller,
    }
    # StartExecution of a Standard workflow is idempotent: the same name and input while it runs is
    # answered as the first call was (a second submit of a running batch starts nothing). The name
    # is refused (ExecutionAlreadyExists) only once that execution has closed, while this batch's
    # status still says running: its objects expired and the file came again (Step Functions keeps
    # names 90 days, the bucket the batch 30), or it ended without its final status. That batch
    # runs again under the next name, <batch id>-2, -3 ...: racing submits still start one.
    for incarnation in range(1, MAX_INCARNATIONS + 1):
        name = batch.batch_id if incarnation == 1 else f"{batch.batch_id}-{incarnation}"
        try:
            sfn_client().start_execution(stateMachineArn=settings.state_machine_arn, name=name, input=json.dumps(execution_input))
        except sfn_client().exceptions.ExecutionAlreadyExists:
            continue
        logger.info("batch started", extra={"batch_id": batch.batch_id, "execution": name})
        return
    raise RuntimeError(f"batch {batch.batch_id} has closed under {MAX_INCARNATIONS} execution names: it is not started again")


def record_refusal(batch_id: str, refused: BatchRefused) -> dict[str, Any]:
    """A dropped file has no caller to answer: its refusal is its status document."""
    status = invalid_status(batch_id, refused, now())
    s3_client().put_object(
        Bucket=get_settings().bucket,
        Key=status_key(batch_id),
        Body=json.dumps(status, ensure_ascii=False).encode(),
        ContentType=content_types.APPLICATION_JSON,
        CacheControl="no-cache",
    )
    return status


def emit_metric(name: str, value: float) -> None:
    """One count metric, flushed at once (``single_metric``: nothing kept per process)."""
    with single_metric(name=name, unit=MetricUnit.Count, value=value):
        pass


def request_body(event: Any) -> bytes:
    """The body's bytes: base64-decoded when API Gateway encoded it (a binary media type)."""
    body: str = event.body or ""
    # surrogatepass: a stray surrogate in a plain body reaches the UTF-8 check, which names its line.
    return base64.b64decode(body) if event.is_base64_encoded else body.encode("utf-8", "surrogatepass")


@app.post(ROUTE)
def submit_batch() -> Response[Any]:
    event = app.current_event
    media_type = media_type_of(event.headers.get("content-type"))
    if media_type is None:
        return Response(415, content_types.APPLICATION_JSON, {"error": "ValidationError", "message": UNSUPPORTED_MEDIA_TYPE_MESSAGE})
    caller = caller_of(event.request_context.authorizer.claims)
    try:
        batch = parse_batch(request_body(event), media_type, get_settings().limits, caller["sub"] if caller else None)
        if caller is not None:
            admit(batch, caller)
    except BatchRefused as exc:
        emit_metric("BatchesRefused", 1)
        logger.info("batch refused", extra={"reason": exc.body["message"], "bad_lines": len(exc.body["lines"])})
        return Response(400, content_types.APPLICATION_JSON, exc.body)
    except quota.QuotaExceeded as exc:
        emit_metric("QuotaRefusals", 1)
        logger.info("batch over the quota", extra={"reason": exc.body["message"]})
        return Response(429, content_types.APPLICATION_JSON, exc.body, headers={"Retry-After": str(exc.body["retry_after"])})
    return Response(202, content_types.APPLICATION_JSON, submit(batch, caller), headers={"Cache-Control": "no-store"})


def caller_of(claims: dict[str, Any] | None) -> sources.Caller | None:
    """The signed-in caller, from the claims of the ID token API Gateway's Cognito authorizer
    accepted (None on a stack without sign-in): the lines run as theirs, within their quota."""
    sub = (claims or {}).get("sub")
    return {"sub": sub, "username": str((claims or {}).get("cognito:username", ""))} if sub else None


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)


@logger.inject_lambda_context(correlation_id_path="id")
@tracer.capture_lambda_handler
def drop_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """A file dropped under batches/inbox/: its batch (``Submitted``) or its ``invalid`` status."""
    # Imported here, as Prepare does: pydantic's import is cold-start time the API entry never needs.
    from aws_lambda_powertools.utilities.parser import parse
    from aws_lambda_powertools.utilities.parser.models import S3EventNotificationEventBridgeModel

    settings = get_settings()
    detail = parse(event=event, model=S3EventNotificationEventBridgeModel).detail
    bucket, key = detail.bucket.name, detail.object.key
    if bucket != settings.bucket or not key.startswith(INBOX_PREFIX):
        raise ValueError(f"batch files are read from s3://{settings.bucket}/{INBOX_PREFIX} only, not s3://{bucket}/{key}")
    logger.append_keys(batch_file=key)
    unread = refused_batch_id(f"{key}\n{detail.object.etag}".encode())  # a file refused unread: its id from its name and version
    media_type = next((kind for suffix, kind in SUFFIX_MEDIA_TYPES.items() if key.lower().endswith(suffix)), None)
    if media_type is None:
        return refuse(unread, BatchRefused(f"body: a batch file's name must end in {' or '.join(SUFFIX_MEDIA_TYPES)}, not {key.rsplit('/', 1)[-1]!r}"))
    limits = replace(settings.limits, max_bytes=settings.drop_max_bytes)
    body = read_dropped_file(key, limits.max_bytes)
    if isinstance(body, int):
        return refuse(unread, BatchRefused(f"body: is {body} bytes; the limit is {limits.max_bytes}"))
    try:
        batch = parse_batch(body, media_type, limits)
    except BatchRefused as exc:
        return refuse(refused_batch_id(body), exc)
    return dict(submit(batch, None))  # a file dropped in the bucket is the stack owner's: no caller, no quota


def refuse(batch_id: str, refused: BatchRefused) -> dict[str, Any]:
    emit_metric("BatchesRefused", 1)
    logger.info("batch file refused", extra={"batch_id": batch_id, "reason": refused.body["message"]})
    return record_refusal(batch_id, refused)


def read_dropped_file(key: str, max_bytes: int) -> bytes | int:
    """The file's bytes, or its size when it is over ``max_bytes`` (left unread)."""
    obj = s3_client().get_object(Bucket=get_settings().bucket, Key=key)
    if obj["ContentLength"] > max_bytes:
        obj["Body"].close()
        return obj["ContentLength"]
    body: bytes = obj["Body"].read()
    return body
