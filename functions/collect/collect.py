"""Collect Lambda: the lanes' results -> the response, the manifest, the URLs.

Input: ``{"plan": <Prepare output>, "results": [[<image result or caught failure>, ...], ...],
"started": <execution start time, ISO 8601>}``.
Output: the response contract of DESIGN.md (``statusCode``, ``body``, ``time``,
``request_id``, ``images``, ``errors``). The manifest ``requests/<request_id>.json`` is that
object plus ``status`` and the normalized ``request``. Fails with ``GenerationFailed``
(message: the JSON 502 body listing the errors) when no image was made; the manifest is
written first, so a failed run is on record too.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.typing import LambdaContext

MAX_ERROR_MESSAGE = 500
PARAMETER_MAX_AGE = 300


class GenerationFailed(Exception):
    """No image could be made. ``str()`` is the JSON body the API returns with 502."""


@dataclass(frozen=True)
class Settings:
    bucket: str
    # The public base URL (CloudFront) lives in an SSM parameter, not in an environment
    # variable: the distribution depends on the API, the API on the state machine, the state
    # machine on this function, so this function cannot take the distribution's domain at
    # deploy time without a cycle. Only the parameter's fixed *name* is passed in.
    public_base_url_parameter: str

    @classmethod
    def from_env(cls) -> Settings:
        return cls(bucket=os.environ["BUCKET_NAME"], public_base_url_parameter=os.environ["PUBLIC_BASE_URL_PARAMETER"])


SETTINGS = Settings.from_env()
logger = Logger()
tracer = Tracer()
s3 = boto3.client("s3")


def public_base_url() -> str:
    """Read through Powertools Parameters, cached for 5 minutes per container."""
    base_url = str(parameters.get_parameter(SETTINGS.public_base_url_parameter, max_age=PARAMETER_MAX_AGE)).rstrip("/")
    if not base_url.startswith(("https://", "http://")):
        raise ValueError(f"{SETTINGS.public_base_url_parameter} must hold an http(s) URL, not {base_url!r}")
    return base_url


def manifest_key(request_id: str) -> str:
    return f"requests/{request_id}.json"


def error_message(cause: Any) -> str:
    """The readable part of a Step Functions error cause (a Lambda error's cause is the
    JSON of ``errorMessage``/``errorType``/``stackTrace``)."""
    if cause is None:
        return ""
    message = cause if isinstance(cause, str) else json.dumps(cause)
    try:
        parsed = json.loads(message)
        if isinstance(parsed, dict) and isinstance(parsed.get("errorMessage"), str):
            message = parsed["errorMessage"]
    except json.JSONDecodeError:
        pass
    return message[:MAX_ERROR_MESSAGE]


def build_response(plan: dict[str, Any], results: list[list[dict[str, Any]]], seconds: float, base_url: str) -> dict[str, Any]:
    outcomes = sorted((item for lane in results for item in lane), key=lambda item: item["index"])
    images = [
        {
            "index": item["index"],
            "url": f"{base_url}/{item['key']}",
            "endpoint": item["endpoint"],
            "seed": item["seed"],
            "seconds": item["seconds"],
        }
        for item in outcomes
        if "error" not in item
    ]
    errors = [
        {"index": item["index"], "endpoint": item["endpoint"], "error": item["error"], "message": error_message(item.get("cause"))}
        for item in outcomes
        if "error" in item
    ]
    return {
        "statusCode": 200,
        "body": json.dumps([image["url"] for image in images]),
        "time": round(seconds, 2),
        "request_id": plan["request_id"],
        "images": images,
        "errors": errors,
    }


def status_of(response: dict[str, Any]) -> str:
    if not response["images"]:
        return "failed"
    return "partial" if response["errors"] else "succeeded"


def seconds_since(started: str) -> float:
    return (datetime.now(UTC) - datetime.fromisoformat(started)).total_seconds()


@tracer.capture_method
def write_manifest(request_id: str, manifest: dict[str, Any]) -> None:
    s3.put_object(
        Bucket=SETTINGS.bucket,
        Key=manifest_key(request_id),
        Body=json.dumps(manifest, ensure_ascii=False).encode(),
        ContentType="application/json",
        CacheControl="no-cache",
    )


def emit_metric(name: str, value: float) -> None:
    """One count metric, flushed at once. ``single_metric`` keeps no per-process metric set,
    which the local stack needs: it runs concurrent invocations in one process."""
    with single_metric(name=name, unit=MetricUnit.Count, value=value):
        pass


@logger.inject_lambda_context(correlation_id_path="plan.request_id")
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    plan = event["plan"]
    response = build_response(plan, event["results"], seconds_since(event["started"]), public_base_url())
    status = status_of(response)
    write_manifest(plan["request_id"], {**response, "status": status, "request": plan["request"]})
    emit_metric("ImagesDelivered", len(response["images"]))
    emit_metric("ImagesFailed", len(response["errors"]))
    logger.info("collected", extra={"status": status, "images": len(response["images"]), "errors": len(response["errors"])})
    if status == "failed":
        raise GenerationFailed(
            json.dumps(
                {
                    "error": "GenerationFailed",
                    "message": f"no image could be made: all {len(response['errors'])} failed",
                    "request_id": plan["request_id"],
                    "errors": response["errors"],
                }
            )
        )
    return response
