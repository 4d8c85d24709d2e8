"""Batch status Lambda ("Summarize"): brings ``batches/<batch_id>/status.json`` up to date with the
manifests of the batch's lines, for the batch workflow (statemachine/text2image_batch.asl.json).

Input (:class:`BatchStatusInput`): ``{"batch_id": str, "total": int, "final": bool, "error": null |
{"Error": str, "Cause"?: str}}``. ``final`` is false for the looks while the batch runs and true for
the one after its map ended; ``error`` is the map's failure (Step Functions' error output, from the
Parallel's Catch), null when the map ran to its end. The bucket is the function's own (BUCKET_NAME).

Output (batch_summary.Summary): ``{"batch_id", "status", "total", "done", "failed", "images",
"ended"}``; ``status`` stays ``running`` until the final look, which decides ``succeeded``,
``partial`` or ``failed``.

Each look lists ``requests/<batch_id>-*`` (ListObjectsV2), reads only the manifests it has not read
in their current version and writes the document. A look while running that finds the document
already ended (the final look has written it) changes nothing and answers it as it is, and it
writes only over the version it read (S3's If-Match), so it can never put ``running`` back over
the final document written meanwhile.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any, TypedDict

import boto3
from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError

from batch_summary import MapError, StatusDocument, Summary, manifest_key, manifests_prefix, request_id_of, stale, summary_of, updated

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# Manifests read at once: each read is a round trip of some 20 ms, and a final look after a long
# pause may have hundreds to read.
READERS = 16
# S3's answers to a conditional write whose condition no longer holds (another writer was first).
CONFLICTS = frozenset({"PreconditionFailed", "ConditionalRequestConflict"})


class BatchStatusInput(TypedDict):
    batch_id: str
    total: int  # the execution's line count: checked against the document's
    final: bool
    error: MapError | None


@dataclass(frozen=True)
class Settings:
    bucket: str

    @classmethod
    def from_env(cls) -> Settings:
        return cls(bucket=os.environ["BUCKET_NAME"])


@cache
def get_settings() -> Settings:
    """Parsed once per container, on first use: importing the module needs no environment."""
    return Settings.from_env()


@cache
def s3_client() -> S3Client:
    return boto3.client("s3")


logger = Logger()
tracer = Tracer()


def status_key(batch_id: str) -> str:
    """Where the status document is (the submit's batch_input.status_key: the same layout)."""
    return f"batches/{batch_id}/status.json"


@tracer.capture_method
def read_status(batch_id: str) -> tuple[StatusDocument, str]:
    """The document and its ETag (the version a write may replace)."""
    obj = s3_client().get_object(Bucket=get_settings().bucket, Key=status_key(batch_id))
    document: StatusDocument = json.loads(obj["Body"].read())
    return document, obj["ETag"]


@tracer.capture_method
def list_manifests(batch_id: str) -> dict[str, str]:
    """Request id -> its manifest's ETag, for every manifest of the batch's lines written so far."""
    pages = s3_client().get_paginator("list_objects_v2").paginate(Bucket=get_settings().bucket, Prefix=manifests_prefix(batch_id))
    return {request_id_of(item["Key"]): item["ETag"] for page in pages for item in page.get("Contents", [])}


def read_manifest(request_id: str) -> tuple[str, dict[str, Any]] | None:
    """The manifest and its ETag; None when it is gone since the listing (expired)."""
    try:
        obj = s3_client().get_object(Bucket=get_settings().bucket, Key=manifest_key(request_id))
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "NoSuchKey":
            return None
        raise
    manifest: dict[str, Any] = json.loads(obj["Body"].read())
    return obj["ETag"], manifest


@tracer.capture_method
def read_manifests(request_ids: list[str]) -> dict[str, tuple[str, dict[str, Any]]]:
    with ThreadPoolExecutor(max_workers=READERS) as pool:
        read = dict(zip(request_ids, pool.map(read_manifest, request_ids), strict=True))
    return {request_id: found for request_id, found in read.items() if found is not None}


@tracer.capture_method
def write_status(document: StatusDocument, replacing: str | None) -> bool:
    """Write the document; with ``replacing`` (an ETag), only over that version: False when
    another writer was first."""
    condition = {"IfMatch": replacing} if replacing else {}
    try:
        s3_client().put_object(
            Bucket=get_settings().bucket,
            Key=status_key(document["batch_id"]),
            Body=json.dumps(document, ensure_ascii=False).encode(),
            ContentType="application/json",
            CacheControl="no-cache",
            **condition,  # type: ignore[arg-type]
        )
    except ClientError as exc:
        if replacing and exc.response.get("Error", {}).get("Code") in CONFLICTS:
            return False
        raise
    return True


def emit_metric(name: str, value: float) -> None:
    """One count metric, flushed at once (``single_metric``: nothing kept per process)."""
    with single_metric(name=name, unit=MetricUnit.Count, value=value):
        pass


@logger.inject_lambda_context(correlation_id_path="batch_id")
@tracer.capture_lambda_handler
def handler(event: BatchStatusInput, context: LambdaContext) -> Summary:
    batch_id, final = event["batch_id"], event["final"]
    document, version = read_status(batch_id)
    if document["total"] != event["total"]:
        raise ValueError(f"{status_key(batch_id)} has {document['total']} lines; the execution has {event['total']}")
    if not final and document["status"] != "running":
        return summary_of(document)  # the final look was first: nothing left to do
    listed = list_manifests(batch_id)
    document = updated(document, read_manifests(stale(document, listed)), final=final, error=event.get("error"), now=now())
    if not write_status(document, replacing=None if final else version):
        document, _ = read_status(batch_id)  # the final look wrote it meanwhile: that is the answer
    summary = summary_of(document)
    logger.info("batch status", extra={**summary, "manifests": len(listed)})
    if final:
        emit_metric("BatchLinesFailed", summary["failed"])
        emit_metric("BatchImagesDelivered", summary["images"])
    return summary


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
