"""The handlers called directly against the local stack: S3 and SSM are moto, SageMaker is the
local endpoint server. What they decide without AWS is in tests/unit/test_handlers.py."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from handler_events import CALL, call
from support import jpeg_dimensions, keys_under, read_manifest, read_object

from text2image.local.containers import PreviewContainer
from text2image.local.stack import LocalStack


@pytest.fixture
def invoke_endpoint(clean_stack: LocalStack) -> Any:
    import invoke_endpoint

    return invoke_endpoint


def test_invoke_endpoint_makes_the_call_in_one_invocation_and_stores_each_image(invoke_endpoint: Any, clean_stack: LocalStack) -> None:
    result = call(invoke_endpoint, CALL)
    assert [{k: image[k] for k in ("index", "key", "seed", "endpoint")} for image in result["images"]] == [
        {"index": 2, "key": "images/unit-1/2.jpeg", "seed": 11, "endpoint": "sd-local-1"},
        {"index": 3, "key": "images/unit-1/3.jpeg", "seed": 12, "endpoint": "sd-local-1"},
    ]
    assert clean_stack.endpoints.stats()["sd-local-1"]["invocations"] == 1
    assert len({image["seconds"] for image in result["images"]}) == 1  # both exist when the call ends
    stored = [read_object(clean_stack, f"images/unit-1/{index}.jpeg") for index in (2, 3)]
    assert all(content_type == "image/jpeg" and jpeg_dimensions(data) == (512, 256) for data, content_type in stored)
    assert stored[0][0] != stored[1][0]
    metadata = clean_stack.aws.s3.head_object(Bucket=clean_stack.aws.bucket, Key="images/unit-1/3.jpeg")["Metadata"]
    assert metadata == {"endpoint": "sd-local-1", "seed": "12", "index": "3", "seconds": f"{result['images'][1]['seconds']:.3f}"}


def test_a_batched_image_is_the_image_a_call_of_one_makes(invoke_endpoint: Any, clean_stack: LocalStack) -> None:
    """Image i of a call uses seed + i: batching does not change the images."""
    call(invoke_endpoint, CALL)
    alone = {**CALL, "images": [{"index": 9, "seed": 12, "key": "images/unit-1/9.jpeg"}]}
    call(invoke_endpoint, alone)
    assert read_object(clean_stack, "images/unit-1/3.jpeg")[0] == read_object(clean_stack, "images/unit-1/9.jpeg")[0]


@pytest.mark.parametrize(
    ("mode", "error"),
    [
        ("throttle", "EndpointBusy"),
        ("notready", "EndpointBusy"),
        ("unavailable", "EndpointBusy"),
        ("error", "ModelError"),
        ("garbage", "InvalidModelResponse"),
    ],
)
def test_endpoint_failures_become_named_errors_and_nothing_is_written(invoke_endpoint: Any, clean_stack: LocalStack, mode: str, error: str) -> None:
    clean_stack.endpoints.set_fault("sd-local-1", mode)
    images = [{**image, "key": f"images/unit-{mode}/{image['index']}.jpeg"} for image in CALL["images"]]
    with pytest.raises(Exception) as raised:
        call(invoke_endpoint, {**CALL, "images": images})
    assert type(raised.value).__name__ == error
    assert keys_under(clean_stack, f"images/unit-{mode}/") == []


def test_an_unknown_endpoint_is_rejected_not_retried(invoke_endpoint: Any) -> None:
    with pytest.raises(invoke_endpoint.EndpointRejected, match="ValidationError"):
        call(invoke_endpoint, {**CALL, "endpoint": "sd-nowhere"})


def test_a_call_of_more_images_than_the_endpoint_takes_is_refused_before_the_gpu(
    invoke_endpoint: Any, clean_stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An endpoint configured for fewer images per call than the plan's (say, one not created by
    the stack) refuses the call in its input check: a ModelError naming the field, nothing written."""
    container = clean_stack.endpoints.containers["sd-local-1"]
    assert isinstance(container, PreviewContainer)
    monkeypatch.setattr(container, "limits", container.contract.Limits(max_images=1))
    images = [{**image, "key": f"images/unit-limit/{image['index']}.jpeg"} for image in CALL["images"]]
    with pytest.raises(invoke_endpoint.ModelError, match=r"num_images_per_prompt must be a whole number in 1\.\.1, not 2"):
        call(invoke_endpoint, {**CALL, "images": images})
    assert keys_under(clean_stack, "images/unit-limit/") == []


def test_a_call_past_the_endpoint_time_limit_is_a_model_error(invoke_endpoint: Any, clean_stack: LocalStack) -> None:
    clean_stack.endpoints.set_fault("sd-local-1", "slow", count=1)
    with pytest.raises(invoke_endpoint.ModelError, match="timed out"):
        call(invoke_endpoint, CALL)


def test_no_answer_within_the_read_timeout_is_an_endpoint_timeout(
    invoke_endpoint: Any, clean_stack: LocalStack, monkeypatch: pytest.MonkeyPatch, cold_start: None
) -> None:
    monkeypatch.setenv("ENDPOINT_READ_TIMEOUT", "0.3")  # the client is made with it at the cold start
    clean_stack.endpoints.set_fault("sd-local-1", "slow", count=1)
    with pytest.raises(invoke_endpoint.EndpointTimeout, match=re.escape("no answer within 0.3 s")):
        call(invoke_endpoint, CALL)


def test_an_s3_write_failure_is_reported_not_swallowed(invoke_endpoint: Any, monkeypatch: pytest.MonkeyPatch, cold_start: None) -> None:
    monkeypatch.setenv("BUCKET_NAME", "no-such-bucket")
    with pytest.raises(invoke_endpoint.ImageWriteFailed, match=re.escape("images/unit-1/2.jpeg")):
        call(invoke_endpoint, CALL)


PLAN: dict[str, Any] = {
    "request_id": "col-1",
    "request": {"text": "t", "num_images": 3},
    "lanes": [],
    "caller": None,
    "reservation": None,
    "capacity_deadline": 0.0,
}
OK = {"index": 0, "key": "images/col-1/0.jpeg", "seed": 5, "endpoint": "sd-1", "seconds": 1.5}
LAMBDA_CAUSE = json.dumps({"errorMessage": "boom", "errorType": "ModelError", "stackTrace": []})


def test_collect_orders_images_and_errors_and_writes_the_manifest(clean_stack: LocalStack) -> None:
    import collect

    failed = {"endpoint": "sd-2", "images": [{"index": 1, "seed": 6, "key": "images/col-1/1.jpeg"}], "error": "ModelError", "cause": LAMBDA_CAUSE}
    third = {**OK, "index": 2, "key": "images/col-1/2.jpeg", "seed": 7}
    response = call(collect, {"plan": PLAN, "results": [[{"images": [OK, third]}], [failed]], "started": "2026-11-25T12:00:00.000Z"})
    base = clean_stack.gateway.url
    assert [i["url"] for i in response["images"]] == [f"{base}/images/col-1/0.jpeg", f"{base}/images/col-1/2.jpeg"]
    assert json.loads(response["body"]) == [i["url"] for i in response["images"]]
    assert response["errors"] == [{"index": 1, "endpoint": "sd-2", "error": "ModelError", "message": "boom"}]
    manifest = read_manifest(clean_stack, "col-1")
    assert manifest["status"] == "partial" and manifest["request"] == PLAN["request"]
    assert read_object(clean_stack, "requests/col-1.json")[1] == "application/json"


def test_collect_raises_generation_failed_after_recording_the_failure(clean_stack: LocalStack) -> None:
    import collect

    failed = {"endpoint": "sd-1", "images": [{"index": 0, "seed": 5, "key": "images/col-2/0.jpeg"}], "error": "States.Timeout", "cause": "Task timed out"}
    plan = {**PLAN, "request_id": "col-2"}
    with pytest.raises(collect.GenerationFailed) as raised:
        call(collect, {"plan": plan, "results": [[failed]], "started": "2026-11-25T12:00:00Z"})
    body = json.loads(str(raised.value))
    assert body["error"] == "GenerationFailed" and body["errors"][0]["message"] == "Task timed out"
    assert read_manifest(clean_stack, "col-2")["status"] == "failed"
