"""Collect's response, status and 502 body, built from the plan and the lanes' outcomes with no
AWS (tests/integration/test_handlers_with_aws.py runs the handler against S3 and SSM)."""

from __future__ import annotations

import json

import pytest

from collect_response import (
    CallResult,
    CaughtFailure,
    ImageResult,
    Plan,
    build_response,
    error_message,
    failure_body,
    manifest_key,
    status_of,
)

BASE = "https://d111.cloudfront.net"
PLAN: Plan = {"request_id": "col-1", "request": {"text": "t", "num_images": 3}, "caller": None, "reservation": None, "capacity_deadline": 0.0}
# Seeds, seconds and lanes in another order than the indexes: the order must come from the index.
FIRST: ImageResult = {"index": 0, "key": "images/col-1/0.jpeg", "seed": 9, "endpoint": "sd-1", "seconds": 1.5}
THIRD: ImageResult = {"index": 2, "key": "images/col-1/2.jpeg", "seed": 7, "endpoint": "sd-1", "seconds": 0.25}
LOST: CaughtFailure = {
    "endpoint": "sd-2",
    "images": [{"index": 1, "seed": 8, "key": "images/col-1/1.jpeg"}],
    "error": "ModelError",
    "cause": json.dumps({"errorMessage": "boom", "errorType": "ModelError", "stackTrace": []}),
}


def made(*images: ImageResult) -> CallResult:
    return {"images": list(images)}


def test_images_and_errors_come_in_index_order_across_lanes_and_calls() -> None:
    response = build_response(PLAN, [[made(THIRD)], [LOST, made(FIRST)]], 3.14159, BASE)
    assert response["images"] == [
        {"index": 0, "url": f"{BASE}/images/col-1/0.jpeg", "endpoint": "sd-1", "seed": 9, "seconds": 1.5},
        {"index": 2, "url": f"{BASE}/images/col-1/2.jpeg", "endpoint": "sd-1", "seed": 7, "seconds": 0.25},
    ]
    assert response["errors"] == [{"index": 1, "endpoint": "sd-2", "error": "ModelError", "message": "boom"}]
    assert json.loads(response["body"]) == [f"{BASE}/images/col-1/0.jpeg", f"{BASE}/images/col-1/2.jpeg"]
    assert (response["statusCode"], response["time"], response["request_id"]) == (200, 3.14, "col-1")


def test_a_call_of_several_images_gives_each_its_entry() -> None:
    response = build_response(PLAN, [[made(FIRST, THIRD)]], 1, BASE)
    assert [image["index"] for image in response["images"]] == [0, 2] and response["errors"] == []


def test_a_lost_call_lists_each_of_its_images_with_the_calls_reason() -> None:
    lost: CaughtFailure = {**LOST, "images": [{"index": 2, "seed": 7, "key": "images/col-1/2.jpeg"}, {"index": 0, "seed": 5, "key": "images/col-1/0.jpeg"}]}
    response = build_response(PLAN, [[made(FIRST)], [lost]], 1, BASE)
    assert response["errors"] == [
        {"index": 0, "endpoint": "sd-2", "error": "ModelError", "message": "boom"},
        {"index": 2, "endpoint": "sd-2", "error": "ModelError", "message": "boom"},
    ]


def test_the_status_says_whether_all_some_or_no_images_were_made() -> None:
    assert status_of(build_response(PLAN, [[made(FIRST, THIRD)]], 1, BASE)) == "succeeded"
    assert status_of(build_response(PLAN, [[made(FIRST)], [LOST]], 1, BASE)) == "partial"
    assert status_of(build_response(PLAN, [[LOST]], 1, BASE)) == "failed"


def test_a_failure_without_a_cause_has_an_empty_message() -> None:
    lost: CaughtFailure = {"endpoint": "sd-1", "images": [{"index": 0, "seed": 5, "key": "k"}], "error": "States.Timeout"}
    assert build_response(PLAN, [[lost]], 1, BASE)["errors"] == [{"index": 0, "endpoint": "sd-1", "error": "States.Timeout", "message": ""}]


def test_the_502_body_counts_and_lists_the_errors() -> None:
    response = build_response(PLAN, [[LOST, {**LOST, "images": [{"index": 0, "seed": 7, "key": "k"}]}]], 1, BASE)
    assert failure_body(response, 420) == {
        "error": "GenerationFailed",
        "message": "no image could be made: all 2 failed",
        "request_id": "col-1",
        "errors": response["errors"],
    }


def test_a_run_that_made_nothing_because_an_endpoint_was_cold_says_the_gpus_are_starting() -> None:
    """The refused calls have started the endpoints: the answer is when to come back, not a failure."""
    refusal = json.dumps({"errorMessage": "Inference Component has no capacity"})
    cold: CaughtFailure = {**LOST, "images": [{"index": 0, "seed": 9, "key": "images/col-1/0.jpeg"}], "error": "EndpointCold", "cause": refusal}
    response = build_response(PLAN, [[LOST], [cold]], 1, BASE)
    assert failure_body(response, 300) == {
        "error": "WarmingUp",
        "message": "the GPUs are starting (sd-2 had scaled to zero): try again in about 300 s",
        "request_id": "col-1",
        "errors": response["errors"],
        "retry_after": 300,
    }


@pytest.mark.parametrize(
    ("cause", "message"),
    [
        (json.dumps({"errorMessage": "boom", "errorType": "X"}), "boom"),  # a Lambda error
        ("Task timed out", "Task timed out"),  # not JSON
        ('["a list"]', '["a list"]'),  # JSON, not an object
        (json.dumps({"errorMessage": 3}), json.dumps({"errorMessage": 3})),  # no readable message
        (None, ""),
        ({"errorMessage": "as an object"}, "as an object"),
    ],
)
def test_the_readable_part_of_a_cause(cause: object, message: str) -> None:
    assert error_message(cause) == message


def test_messages_are_cut_at_500_characters() -> None:
    assert error_message("x" * 500) == "x" * 500
    assert error_message("x" * 501 + "y") == "x" * 500


def test_the_manifest_key() -> None:
    assert manifest_key("col-1") == "requests/col-1.json"
