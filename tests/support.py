"""Helpers shared by the workflow, e2e and unit tests."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from PIL import Image

from text2image.local.aws import BUCKET
from text2image.local.stack import LocalStack

EXECUTION_DEADLINE = 60.0
# The shared corpus of good and bad requests every layer is tested with.
CORPUS: dict[str, list[dict[str, Any]]] = json.loads((Path(__file__).parent / "data" / "requests.json").read_text(encoding="utf-8"))


# `text2image up` throttles like the deployed stage (about 1 request/s); tests that send bursts of
# API calls to one lift it, as the session stack's GatewayConfig does.
UNTHROTTLED = ("--throttle-rate", "1000", "--throttle-burst", "1000")


def run_workflow(stack: LocalStack, execution_input: Any, name: str | None = None, state_machine_arn: str | None = None) -> dict[str, Any]:
    """Start an execution and return its final description once it has ended."""
    arn = stack.aws.start_execution(json.dumps(execution_input), name=name or uuid.uuid4().hex, state_machine_arn=state_machine_arn)
    assert stack.aws.wait(arn, EXECUTION_DEADLINE), f"execution {arn} still running after {EXECUTION_DEADLINE} s"
    execution: dict[str, Any] = stack.aws.sfn.describe_execution(executionArn=arn)
    return execution


def keys_under(stack: LocalStack, prefix: str) -> list[str]:
    pages = stack.aws.s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    return sorted(obj["Key"] for page in pages for obj in page.get("Contents", []))


def read_object(stack: LocalStack, key: str) -> tuple[bytes, str]:
    obj = stack.aws.s3.get_object(Bucket=BUCKET, Key=key)
    return obj["Body"].read(), obj["ContentType"]


def read_manifest(stack: LocalStack, request_id: str) -> dict[str, Any]:
    from collect_response import manifest_key

    body, _ = read_object(stack, manifest_key(request_id))
    manifest: dict[str, Any] = json.loads(body)
    return manifest


def jpeg_dimensions(data: bytes) -> tuple[int, int]:
    """Decode fully with Pillow (not just the header) and return the size."""
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "JPEG"
        image.load()
        return image.size


def sagemaker_runtime(endpoint_server_url: str, read_timeout: float = 30) -> Any:
    """A sagemaker-runtime client on the local endpoint server, one attempt per call (as the Lambda's)."""
    return boto3.client(
        "sagemaker-runtime",
        endpoint_url=endpoint_server_url,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=Config(retries={"total_max_attempts": 1}, read_timeout=read_timeout),
    )


def invocations(stack: LocalStack) -> dict[str, int]:
    return {name: stats["invocations"] for name, stats in stack.endpoints.stats().items()}


def s3_event(bucket: str, key: str, sequencer: str = "0062E99A88DC407460", etag: str = "e1f2") -> dict[str, Any]:
    """An S3 "Object Created" event as EventBridge delivers it."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": "123456789012",
        "time": "2026-11-25T12:00:00Z",
        "region": "us-east-1",
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket},
            "object": {"key": key, "size": 100, "etag": etag, "sequencer": sequencer},
            "request-id": "57H08PA84AB1JZW0",
            "requester": "123456789012",
            "source-ip-address": "127.0.0.1",
            "reason": "PutObject",
        },
    }


def custom_event(request: Any, event_id: str | None = None) -> dict[str, Any]:
    return {
        "version": "0",
        "id": event_id or str(uuid.uuid4()),
        "detail-type": "Text2Image Request",
        "source": "text2image",
        "account": "123456789012",
        "time": "2026-11-25T12:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": request,
    }


def http(method: str, url: str, body: bytes | None = None, content_type: str | None = "application/json") -> tuple[int, dict[str, str], bytes]:
    """One HTTP exchange; (status, headers, body) whatever the status."""
    headers = {"Content-Type": content_type} if content_type else {}
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def post_json(url: str, payload: Any) -> tuple[int, dict[str, Any]]:
    status, _, body = http("POST", url, json.dumps(payload).encode())
    answer: dict[str, Any] = json.loads(body)
    return status, answer


def wait_until(condition: Any, what: str, timeout: float = 30.0) -> Any:
    """Poll ``condition()`` until it returns something truthy (for state another thread makes)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        time.sleep(0.02)


def endpoint_stats(url: str) -> dict[str, dict[str, Any]]:
    """Each local endpoint's counters and, with ``--scale-to-zero``, its ``state``, ``copies`` and
    ``cold_refusals`` (the endpoint server's ``GET /_local/stats``, also at the gateway's URL)."""
    _, _, body = http("GET", f"{url}/_local/stats", content_type=None)
    stats: dict[str, dict[str, Any]] = json.loads(body)["endpoints"]
    return stats


def wait_for_endpoints(url: str, state: str, timeout: float) -> None:
    """Until every endpoint of a stack started with ``--scale-to-zero`` is ``state`` (warm, cold, warming)."""
    wait_until(lambda: all(e["state"] == state for e in endpoint_stats(url).values()), f"every endpoint {state}", timeout=timeout)


def run_cli(api: str, config: Path, *args: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess[str]:
    """One `text2image` command against ``api``, in its own process, with ``config`` as the user's
    config folder (XDG_CONFIG_HOME: no tokens of the user running the tests) and ``env`` added."""
    environment = {name: value for name, value in os.environ.items() if not name.startswith("TEXT2IMAGE_")} | {"XDG_CONFIG_HOME": str(config)} | env
    command = [sys.executable, "-m", "text2image.cli", *args, "--api", api]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=environment, stdin=subprocess.DEVNULL)
