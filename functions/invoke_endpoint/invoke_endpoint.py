"""InvokeEndpoint Lambda: one image, one SageMaker call, one JPEG in S3.

Input: one image of the plan (:class:`WorkItem`). Output: :class:`ImageResult`.

Failures are raised as errors the workflow can tell apart (invocation_errors.py):
``EndpointBusy`` (throttled, not ready, unavailable, internal: retried by the workflow),
``ModelError`` (the model failed on this input), ``EndpointRejected`` (SageMaker refused
the call: wrong name, bad parameters), ``EndpointTimeout`` (no answer within the read
timeout), ``InvalidModelResponse`` (unusable answer) and ``ImageWriteFailed``.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, TypedDict

import boto3
from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ReadTimeoutError
from botocore.exceptions import ConnectionError as BotoConnectionError

from invocation_errors import EndpointBusy, EndpointRejected, EndpointTimeout, ImageWriteFailed, ModelError, endpoint_failure
from model_answer import InvalidModelResponse, image_from_answer

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sagemaker_runtime import SageMakerRuntimeClient


class WorkItem(TypedDict):
    """One image of the plan, as Prepare's planning.py builds it."""

    request_id: str
    index: int
    endpoint: str
    seed: int
    key: str
    prompt: str
    negative_prompt: str
    width: int
    height: int
    num_inference_steps: int
    guidance_scale: float


class ImageResult(TypedDict):
    """A stored image, for Collect."""

    index: int
    key: str
    seed: int
    endpoint: str
    seconds: float


@dataclass(frozen=True)
class Settings:
    bucket: str
    read_timeout: float

    @classmethod
    def from_env(cls) -> Settings:
        # SageMaker allows 60 s per call; the client waits a little longer so the
        # service's own timeout error, not ours, is what normally ends a slow call.
        return cls(bucket=os.environ["BUCKET_NAME"], read_timeout=float(os.environ.get("ENDPOINT_READ_TIMEOUT", "70")))


@cache
def get_settings() -> Settings:
    """Parsed once per container, on first use: importing the module needs no environment."""
    return Settings.from_env()


@cache
def s3_client() -> S3Client:
    return boto3.client("s3")


@cache
def sagemaker_client() -> SageMakerRuntimeClient:
    # Retries belong to the workflow (visible, with backoff and jitter), not to botocore.
    config = Config(read_timeout=get_settings().read_timeout, connect_timeout=5, retries={"total_max_attempts": 1})
    return boto3.client("sagemaker-runtime", config=config)


logger = Logger()
tracer = Tracer()


def endpoint_payload(image: WorkItem) -> dict[str, Any]:
    """The JumpStart Stable Diffusion request for one image."""
    return {
        "prompt": image["prompt"],
        "negative_prompt": image["negative_prompt"],
        "width": image["width"],
        "height": image["height"],
        "num_inference_steps": image["num_inference_steps"],
        "guidance_scale": image["guidance_scale"],
        "num_images_per_prompt": 1,
        "seed": image["seed"],
    }


@tracer.capture_method
def call_endpoint(image: WorkItem) -> bytes:
    try:
        response = sagemaker_client().invoke_endpoint(
            EndpointName=image["endpoint"],
            ContentType="application/json",
            Accept="application/json;jpeg",
            Body=json.dumps(endpoint_payload(image)).encode(),
        )
        body: bytes = response["Body"].read()
        return body
    except (ClientError, ReadTimeoutError, BotoConnectionError) as exc:
        raise endpoint_failure(exc, get_settings().read_timeout) from None


@tracer.capture_method
def store_image(image: WorkItem, jpeg: bytes, seconds: float) -> None:
    """Write the JPEG with what a page shows under it as object metadata, so a client polling
    the planned URL learns it the moment the image exists."""
    metadata = {"endpoint": image["endpoint"], "seed": str(image["seed"]), "seconds": f"{seconds:.3f}", "index": str(image["index"])}
    key = image["key"]
    try:
        s3_client().put_object(Bucket=get_settings().bucket, Key=key, Body=jpeg, ContentType="image/jpeg", Metadata=metadata)
    except (ClientError, BotoCoreError) as exc:
        raise ImageWriteFailed(f"could not write {key}: {exc}") from None


def emit_metric(name: str, unit: MetricUnit, value: float, endpoint: str) -> None:
    """A metric with its endpoint dimension, flushed at once. ``Metrics`` keeps one metric
    set per process; the local stack runs concurrent invocations in one process, where a
    shared set would mix their endpoint dimensions."""
    with single_metric(name=name, unit=unit, value=value) as metric:
        metric.add_dimension(name="endpoint", value=endpoint)


@logger.inject_lambda_context(correlation_id_path="request_id")
@tracer.capture_lambda_handler
def handler(image: WorkItem, context: LambdaContext) -> ImageResult:
    logger.append_keys(index=image["index"], endpoint=image["endpoint"])
    started = time.perf_counter()
    try:
        jpeg = image_from_answer(call_endpoint(image), image["width"], image["height"])
        seconds = round(time.perf_counter() - started, 3)
        store_image(image, jpeg, seconds)
    except (EndpointBusy, ModelError, EndpointRejected, EndpointTimeout, InvalidModelResponse, ImageWriteFailed) as exc:
        emit_metric(type(exc).__name__, MetricUnit.Count, 1, image["endpoint"])
        logger.warning("image failed", extra={"error": type(exc).__name__, "reason": str(exc)})
        raise
    emit_metric("ImagesGenerated", MetricUnit.Count, 1, image["endpoint"])
    emit_metric("ImageSeconds", MetricUnit.Seconds, seconds, image["endpoint"])
    logger.info("image stored", extra={"key": image["key"], "seconds": seconds, "bytes": len(jpeg)})
    return {"index": image["index"], "key": image["key"], "seed": image["seed"], "endpoint": image["endpoint"], "seconds": seconds}
