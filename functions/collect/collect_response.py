"""What Collect makes of a run: the response the API answers and the manifest holds, built from
the plan and the lanes' outcomes. Pure: no client, no clock, no I/O (collect.py does those).

The shapes here are the workflow state Collect reads (tests/unit/test_workflow_state.py checks
them against Prepare's and InvokeEndpoint's, and against the ASL's Catch) and the answers it
makes: docs/design.md, "The answers" and "What travels in the state".
"""

from __future__ import annotations

import json
from typing import Any, NotRequired, TypedDict, final

MAX_ERROR_MESSAGE = 500


class Caller(TypedDict):
    """The signed-in user a run is for (Prepare's sources.Caller)."""

    sub: str
    username: str


class Reservation(TypedDict):
    """Images Prepare counted against the caller's day (quota.Reservation): the day's sort key and how many."""

    sk: str
    images: int


class Plan(TypedDict):
    """What Collect reads of Prepare's output; the lanes and origin travel along unread."""

    request_id: str
    request: dict[str, Any]  # written to the manifest as it is
    caller: Caller | None  # None: not signed in (no run history)
    reservation: Reservation | None  # None: not signed in (nothing counted)
    capacity_deadline: float  # 0: a run of the sync route, whose caller is answered at once


@final
class ImageResult(TypedDict):
    """A stored image, as InvokeEndpoint reports it."""

    index: int
    key: str
    seed: int
    endpoint: str
    seconds: float


@final
class CallResult(TypedDict):
    """InvokeEndpoint's output for a call: its images, all stored."""

    images: list[ImageResult]


@final
class PlannedImage(TypedDict):
    index: int
    seed: int
    key: str


@final
class CaughtFailure(TypedDict):
    """What the ASL's Catch on InvokeEndpoint passes on for a lost call: each of its images is lost."""

    endpoint: str
    images: list[PlannedImage]
    error: str  # the error name: EndpointBusy, ModelError, States.Timeout ...
    cause: NotRequired[str]  # a Lambda error's cause is the JSON of errorMessage/errorType/stackTrace


Outcome = CallResult | CaughtFailure


class CollectInput(TypedDict):
    plan: Plan
    results: list[list[Outcome]]  # one list per lane, one outcome per call
    started: str  # the execution's start time, ISO 8601


class ImageEntry(TypedDict):
    index: int
    url: str
    endpoint: str
    seed: int
    seconds: float


class ErrorEntry(TypedDict):
    index: int
    endpoint: str
    error: str
    message: str


class Response(TypedDict):
    statusCode: int  # the demo's response field, kept for its clients
    body: str  # the JSON list of image URLs
    time: float
    request_id: str
    images: list[ImageEntry]
    errors: list[ErrorEntry]


class Manifest(Response):
    status: str  # "succeeded" | "partial" | "failed"
    request: dict[str, Any]


class FailureBody(TypedDict):
    """The message of a run that made no image: the JSON body the API answers with, 502
    GenerationFailed, or 503 WarmingUp where an endpoint was cold (scaled to zero)."""

    error: str
    message: str
    request_id: str
    errors: list[ErrorEntry]
    retry_after: NotRequired[int]  # WarmingUp: seconds until the GPUs are expected to serve (also Retry-After)


# The error InvokeEndpoint's calls end with on an endpoint scaled to zero that did not come back in time.
ENDPOINT_COLD = "EndpointCold"


def manifest_key(request_id: str) -> str:
    """Where a run's manifest is written: the one place the manifest key layout is built."""
    return f"requests/{request_id}.json"


def error_message(cause: object) -> str:
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


def build_response(plan: Plan, results: list[list[Outcome]], seconds: float, base_url: str) -> Response:
    """The images made and the images lost, each in index order; ``body`` lists the URLs. A lost
    call loses each of its images, each listed with the call's reason."""
    images: list[ImageEntry] = []
    errors: list[ErrorEntry] = []
    for outcome in (call for lane in results for call in lane):
        if "error" in outcome:
            message = error_message(outcome.get("cause"))
            errors += [{"index": image["index"], "endpoint": outcome["endpoint"], "error": outcome["error"], "message": message} for image in outcome["images"]]
        else:
            images += [
                {
                    "index": image["index"],
                    "url": f"{base_url}/{image['key']}",
                    "endpoint": image["endpoint"],
                    "seed": image["seed"],
                    "seconds": image["seconds"],
                }
                for image in outcome["images"]
            ]
    images.sort(key=lambda image: image["index"])
    errors.sort(key=lambda error: error["index"])
    return {
        "statusCode": 200,
        "body": json.dumps([image["url"] for image in images]),
        "time": round(seconds, 2),
        "request_id": plan["request_id"],
        "images": images,
        "errors": errors,
    }


def cold_images(response: Response) -> int:
    """Images a cold endpoint refused: they cost no GPU time, so they are given back to the quota."""
    return sum(1 for error in response["errors"] if error["error"] == ENDPOINT_COLD)


def status_of(response: Response) -> str:
    if not response["images"]:
        return "failed"
    return "partial" if response["errors"] else "succeeded"


def failure_body(response: Response, cold_start_seconds: int) -> FailureBody:
    """Why no image was made: the GPUs are starting (some endpoint was cold: its refused call has
    started it, so trying again after about a cold start is the answer) or they failed."""
    cold = sorted({error["endpoint"] for error in response["errors"] if error["error"] == ENDPOINT_COLD})
    if cold:
        return {
            "error": "WarmingUp",
            "message": f"the GPUs are starting ({', '.join(cold)} had scaled to zero): try again in about {cold_start_seconds} s",
            "request_id": response["request_id"],
            "errors": response["errors"],
            "retry_after": cold_start_seconds,
        }
    return {
        "error": "GenerationFailed",
        "message": f"no image could be made: all {len(response['errors'])} failed",
        "request_id": response["request_id"],
        "errors": response["errors"],
    }
