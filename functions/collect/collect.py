"""Collect Lambda: the lanes' results -> the response, the manifest, the URLs.

Input: :class:`collect_response.CollectInput` (the plan, each lane's image results or caught
failures, the execution's start time). Output: the response contract of
:class:`collect_response.Response`. The manifest ``collect_response.manifest_key(request_id)``
is that object plus ``status`` and the normalized ``request``. Fails with ``GenerationFailed``
(message: the JSON 502 body listing the errors) when no image was made; the manifest is
written first, so a failed run is on record too.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING

import boto3
from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.typing import LambdaContext
from boto3.dynamodb.types import TypeSerializer
from botocore.exceptions import ClientError

from collect_response import CollectInput, Manifest, Response, build_response, cold_images, failure_body, manifest_key, status_of
from run_history import run_item, user_key

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

PARAMETER_MAX_AGE = 300
SERIALIZER = TypeSerializer()


class GenerationFailed(Exception):
    """No image could be made. ``str()`` is the JSON body the API returns with 502."""


class WarmingUp(Exception):
    """No image could be made because endpoints were cold and are starting. ``str()`` is the JSON
    body the API returns with 503 and Retry-After."""


@dataclass(frozen=True)
class Settings:
    bucket: str
    # The public base URL (CloudFront) lives in an SSM parameter, not in an environment
    # variable: the distribution depends on the API, the API on the state machine, the state
    # machine on this function, so this function cannot take the distribution's domain at
    # deploy time without a cycle. Only the parameter's fixed *name* is passed in.
    public_base_url_parameter: str
    usage_table: str | None  # signed-in runs go to their user's history; None: sign-in is off
    history_days: int  # a run stays in the history as long as its images exist
    cold_start_seconds: int  # about how long a cold endpoint takes to serve (text2image:endpointColdStartSeconds): WarmingUp's Retry-After

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            bucket=os.environ["BUCKET_NAME"],
            public_base_url_parameter=os.environ["PUBLIC_BASE_URL_PARAMETER"],
            usage_table=os.environ.get("USAGE_TABLE") or None,
            history_days=int(os.environ.get("HISTORY_DAYS", "30")),
            cold_start_seconds=int(os.environ["COLD_START_SECONDS"]),
        )


@cache
def get_settings() -> Settings:
    """Parsed once per container, on first use: importing the module needs no environment."""
    return Settings.from_env()


@cache
def s3_client() -> S3Client:
    return boto3.client("s3")


@cache
def dynamodb_client() -> DynamoDBClient:
    return boto3.client("dynamodb")


logger = Logger()
tracer = Tracer()


def public_base_url() -> str:
    """Read through Powertools Parameters, cached for 5 minutes per container."""
    name = get_settings().public_base_url_parameter
    base_url = str(parameters.get_parameter(name, max_age=PARAMETER_MAX_AGE)).rstrip("/")
    if not base_url.startswith(("https://", "http://")):
        raise ValueError(f"{name} must hold an http(s) URL, not {base_url!r}")
    return base_url


def seconds_since(started: str) -> float:
    return (datetime.now(UTC) - datetime.fromisoformat(started)).total_seconds()


@tracer.capture_method
def write_manifest(request_id: str, manifest: Manifest) -> None:
    s3_client().put_object(
        Bucket=get_settings().bucket,
        Key=manifest_key(request_id),
        Body=json.dumps(manifest, ensure_ascii=False).encode(),
        ContentType="application/json",
        CacheControl="no-cache",
    )


@tracer.capture_method
def record_run(event: CollectInput, response: Response, status: str, base_url: str) -> None:
    """Put a signed-in caller's run in their history ("My runs"), after its manifest."""
    plan, table = event["plan"], get_settings().usage_table
    caller = plan["caller"]
    if caller is None or table is None:
        return
    manifest_url = f"{base_url}/{manifest_key(plan['request_id'])}"
    item = run_item(caller, plan["request_id"], plan["request"], dict(response), status, event["started"], manifest_url, get_settings().history_days)
    dynamodb_client().put_item(TableName=table, Item={name: SERIALIZER.serialize(value) for name, value in item.items()})


@tracer.capture_method
def give_back_cold_images(event: CollectInput, response: Response) -> None:
    """Images a cold endpoint refused made no GPU work: take them off the caller's count for the
    day Prepare counted them on (a run retried once the GPUs are warm then counts once)."""
    plan, table, refused = event["plan"], get_settings().usage_table, cold_images(response)
    reservation, caller = plan["reservation"], plan["caller"]
    if not refused or reservation is None or caller is None or table is None:
        return
    # Once per run: the day's item remembers the runs it gave back to, so a Collect retried after
    # it ran (a Lambda service error) gives nothing back twice; and never on an expired day's item,
    # which would start a new count below zero.
    try:
        dynamodb_client().update_item(
            TableName=table,
            Key={"pk": {"S": user_key(caller["sub"])}, "sk": {"S": reservation["sk"]}},
            UpdateExpression="ADD images :refunded, given_back :run",
            ConditionExpression="attribute_exists(images) AND NOT contains(given_back, :request_id)",
            ExpressionAttributeValues={
                ":refunded": {"N": str(-min(refused, reservation["images"]))},
                ":run": {"SS": [plan["request_id"]]},
                ":request_id": {"S": plan["request_id"]},
            },
        )
    except ClientError as exc:
        # Best effort: the run's images and manifest stand whatever the quota table answers.
        reason = "already given back, or the day has expired" if exc.response["Error"]["Code"] == "ConditionalCheckFailedException" else str(exc)
        logger.warning("cold images not given back", extra={"images": refused, "reason": reason})
        return
    logger.info("cold images given back to the quota", extra={"images": refused})


def emit_metric(name: str, value: float) -> None:
    """One count metric, flushed at once. ``single_metric`` keeps no per-process metric set,
    which the local stack needs: it runs concurrent invocations in one process."""
    with single_metric(name=name, unit=MetricUnit.Count, value=value):
        pass


@logger.inject_lambda_context(correlation_id_path="plan.request_id")
@tracer.capture_lambda_handler
def handler(event: CollectInput, context: LambdaContext) -> Response:
    plan, base_url = event["plan"], public_base_url()
    response = build_response(plan, event["results"], seconds_since(event["started"]), base_url)
    status = status_of(response)
    write_manifest(plan["request_id"], {**response, "status": status, "request": plan["request"]})
    record_run(event, response, status, base_url)
    give_back_cold_images(event, response)
    emit_metric("ImagesDelivered", len(response["images"]))
    # Images a cold endpoint refused are not failures (they start it, and are asked again): counted
    # apart, so a cold start does not set off the failed-images alarm.
    cold = cold_images(response)
    emit_metric("ImagesFailed", len(response["errors"]) - cold)
    emit_metric("ImagesCold", cold)
    logger.info("collected", extra={"status": status, "images": len(response["images"]), "errors": len(response["errors"])})
    if status == "failed":
        body = failure_body(response, get_settings().cold_start_seconds)
        if body["error"] == "WarmingUp" and event["plan"]["capacity_deadline"] == 0:
            # The sync route answers it 503: counted, so the API's 5xx alarm leaves cold starts out.
            emit_metric("WarmingUpAnswers", 1)
        raise (WarmingUp if body["error"] == "WarmingUp" else GenerationFailed)(json.dumps(body))
    return response
