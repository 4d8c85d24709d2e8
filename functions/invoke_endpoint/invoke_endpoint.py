"""InvokeEndpoint Lambda: one call of k images, one SageMaker invocation, k JPEGs in S3.

Input: one call of the plan (:class:`WorkItem`): its images have consecutive indices, so the
endpoint is asked for ``num_images_per_prompt`` = k with the first image's seed, and makes
image i with seed + i, as k calls of one image would. Output: :class:`CallResult`, every image
stored under its planned key with its metadata.

Failures are raised as errors the workflow can tell apart (invocation_errors.py), for the whole
call (its Retry and Catch are per call; a caught call lists each of its images in ``errors``):
``EndpointBusy`` (throttled, not ready, unavailable, internal: retried by the workflow),
``EndpointWarming`` / ``EndpointCold`` (an endpoint scaled to zero: retried until the work item's
``capacity_deadline``, then listed as cold; a sync run's deadline is 0, so it does not wait),
``ModelError`` (the model failed on this input, or refused it: more images or pixels than the
endpoint takes per call), ``EndpointRejected`` (SageMaker refused the call: wrong name, bad
parameters), ``EndpointTimeout`` (no answer within the read timeout), ``InvalidModelResponse``
(unusable answer) and ``ImageWriteFailed``.
"""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
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

from invocation_errors import EndpointBusy, EndpointCold, EndpointRejected, EndpointTimeout, EndpointWarming, ImageWriteFailed, ModelError, endpoint_failure
from model_answer import InvalidModelResponse, images_from_answer

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sagemaker_runtime import SageMakerRuntimeClient


class PlannedImage(TypedDict):
    index: int
    seed: int
    key: str


class WorkItem(TypedDict):
    """One call of the plan, as Prepare's planning.py builds it."""

    request_id: str
    endpoint: str
    images: list[PlannedImage]
    prompt: str
    negative_prompt: str
    width: int
    height: int
    num_inference_steps: int
    guidance_scale: float
    capacity_deadline: float  # epoch seconds: until then a cold endpoint is waited for (0: not at all)


class ImageResult(TypedDict):
    """A stored image, for Collect."""

    index: int
    key: str
    seed: int
    endpoint: str
    seconds: float  # the call's: the image exists when its call has ended


class CallResult(TypedDict):
    images: list[ImageResult]


@dataclass(frozen=True)
class Settings:
    bucket: str
    read_timeout: float
    # Endpoints that host the model as an inference component (they scale to zero): the component
    # each call names. Endpoints not listed are called as they are (existing endpoints by name).
    inference_components: dict[str, str]

    @classmethod
    def from_env(cls) -> Settings:
        text = os.environ.get("INFERENCE_COMPONENTS") or "{}"
        try:
            components = json.loads(text)
        except json.JSONDecodeError:
            components = None
        if not (isinstance(components, dict) and all(isinstance(v, str) and v for v in components.values())):
            raise ValueError(f"INFERENCE_COMPONENTS must be a JSON object of endpoint name -> component name, not {text!r}")
        # SageMaker allows 60 s per call; the client waits a little longer so the
        # service's own timeout error, not ours, is what normally ends a slow call.
        return cls(
            bucket=os.environ["BUCKET_NAME"],
            read_timeout=float(os.environ.get("ENDPOINT_READ_TIMEOUT", "70")),
            inference_components=components,
        )


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
MAX_PARALLEL_WRITES = 8


def endpoint_payload(call: WorkItem) -> dict[str, Any]:
    """The JumpStart Stable Diffusion request for one call: k images from the first one's seed
    (the endpoint makes image i with seed + i, and the plan gave the call consecutive seeds)."""
    return {
        "prompt": call["prompt"],
        "negative_prompt": call["negative_prompt"],
        "width": call["width"],
        "height": call["height"],
        "num_inference_steps": call["num_inference_steps"],
        "guidance_scale": call["guidance_scale"],
        "num_images_per_prompt": len(call["images"]),
        "seed": call["images"][0]["seed"],
    }


@tracer.capture_method
def call_endpoint(call: WorkItem) -> bytes:
    component = get_settings().inference_components.get(call["endpoint"])
    try:
        response = sagemaker_client().invoke_endpoint(
            EndpointName=call["endpoint"],
            ContentType="application/json",
            Accept="application/json;jpeg",
            Body=json.dumps(endpoint_payload(call)).encode(),
            **({"InferenceComponentName": component} if component else {}),
        )
        body: bytes = response["Body"].read()
        return body
    except (ClientError, ReadTimeoutError, BotoConnectionError) as exc:
        raise endpoint_failure(exc, get_settings().read_timeout, may_wait=time.time() < call["capacity_deadline"]) from None


def store_image(endpoint: str, image: PlannedImage, jpeg: bytes, seconds: float) -> ImageResult:
    """Write the JPEG with what a page shows under it as object metadata, so a client polling
    the planned URL learns it the moment the image exists."""
    metadata = {"endpoint": endpoint, "seed": str(image["seed"]), "seconds": f"{seconds:.3f}", "index": str(image["index"])}
    key = image["key"]
    try:
        s3_client().put_object(Bucket=get_settings().bucket, Key=key, Body=jpeg, ContentType="image/jpeg", Metadata=metadata)
    except (ClientError, BotoCoreError) as exc:
        raise ImageWriteFailed(f"could not write {key}: {exc}") from None
    return {"index": image["index"], "key": key, "seed": image["seed"], "endpoint": endpoint, "seconds": seconds}


@tracer.capture_method
def store_images(call: WorkItem, jpegs: list[bytes], seconds: float) -> list[ImageResult]:
    """Every image of the call, written side by side (each write waits on the network, not on
    this function). A failed write fails the call: the workflow retries it whole, and the
    writes that succeeded are overwritten with the same bytes."""
    with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL_WRITES, len(jpegs))) as pool:
        return list(pool.map(lambda image, jpeg: store_image(call["endpoint"], image, jpeg, seconds), call["images"], jpegs))


def emit_metric(name: str, unit: MetricUnit, value: float, endpoint: str) -> None:
    """A metric with its endpoint dimension, flushed at once. ``Metrics`` keeps one metric
    set per process; the local stack runs concurrent invocations in one process, where a
    shared set would mix their endpoint dimensions."""
    with single_metric(name=name, unit=unit, value=value) as metric:
        metric.add_dimension(name="endpoint", value=endpoint)


@logger.inject_lambda_context(correlation_id_path="request_id")
@tracer.capture_lambda_handler
def handler(call: WorkItem, context: LambdaContext) -> CallResult:
    indices = [image["index"] for image in call["images"]]
    logger.append_keys(indices=indices, endpoint=call["endpoint"])
    started = time.perf_counter()
    try:
        jpegs = images_from_answer(call_endpoint(call), len(call["images"]), call["width"], call["height"])
        seconds = round(time.perf_counter() - started, 3)
        stored = store_images(call, jpegs, seconds)
    except (EndpointBusy, EndpointWarming, EndpointCold, ModelError, EndpointRejected, EndpointTimeout, InvalidModelResponse, ImageWriteFailed) as exc:
        emit_metric(type(exc).__name__, MetricUnit.Count, 1, call["endpoint"])
        logger.warning("call failed", extra={"error": type(exc).__name__, "reason": str(exc)})
        raise
    # One data point per call: ImagesGenerated's average is the images per call, CallSeconds' count the calls.
    emit_metric("ImagesGenerated", MetricUnit.Count, len(stored), call["endpoint"])
    emit_metric("CallSeconds", MetricUnit.Seconds, seconds, call["endpoint"])
    logger.info("images stored", extra={"keys": [image["key"] for image in stored], "seconds": seconds, "bytes": sum(map(len, jpegs))})
    return {"images": stored}
