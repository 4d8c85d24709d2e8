"""The handlers called directly against the local stack: S3 and SSM are moto, SageMaker is the
local endpoint server. What they decide without AWS is in tests/unit/test_handlers.py."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from handler_events import IMAGE, call
from support import jpeg_dimensions, keys_under, read_manifest, read_object

from text2image.local.stack import LocalStack


@pytest.fixture
def invoke_endpoint(clean_stack: LocalStack) -> Any:
    import invoke_endpoint

    return invoke_endpoint


def test_invoke_endpoint_stores_a_jpeg_and_reports_it(invoke_endpoint: Any, clean_stack: LocalStack) -> None:
    result = call(invoke_endpoint, IMAGE)
    assert {k: result[k] for k in ("index", "key", "seed", "endpoint")} == {
        "index": 0,
        "key": "images/unit-1/0.jpeg",
        "seed": 11,
        "endpoint": "sd-local-1",
    }
    assert result["seconds"] >= 0
    data, content_type = read_object(clean_stack, "images/unit-1/0.jpeg")
    assert content_type == "image/jpeg" and jpeg_dimensions(data) == (512, 256)


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
    image = {**IMAGE, "key": f"images/unit-{mode}/0.jpeg"}
    with pytest.raises(Exception) as raised:
        call(invoke_endpoint, image)
    assert type(raised.value).__name__ == error
    assert keys_under(clean_stack, f"images/unit-{mode}/") == []


def test_an_unknown_endpoint_is_rejected_not_retried(invoke_endpoint: Any) -> None:
    with pytest.raises(invoke_endpoint.EndpointRejected, match="ValidationError"):
        call(invoke_endpoint, {**IMAGE, "endpoint": "sd-nowhere"})


def test_a_call_past_the_endpoint_limit_is_a_model_error(invoke_endpoint: Any, clean_stack: LocalStack) -> None:
    clean_stack.endpoints.set_fault("sd-local-1", "slow", count=1)
    with pytest.raises(invoke_endpoint.ModelError, match="timed out"):
        call(invoke_endpoint, IMAGE)


def test_no_answer_within_the_read_timeout_is_an_endpoint_timeout(
    invoke_endpoint: Any, clean_stack: LocalStack, monkeypatch: pytest.MonkeyPatch, cold_start: None
) -> None:
    monkeypatch.setenv("ENDPOINT_READ_TIMEOUT", "0.3")  # the client is made with it at the cold start
    clean_stack.endpoints.set_fault("sd-local-1", "slow", count=1)
    with pytest.raises(invoke_endpoint.EndpointTimeout, match=re.escape("no answer within 0.3 s")):
        call(invoke_endpoint, IMAGE)


def test_an_s3_write_failure_is_reported_not_swallowed(invoke_endpoint: Any, monkeypatch: pytest.MonkeyPatch, cold_start: None) -> None:
    monkeypatch.setenv("BUCKET_NAME", "no-such-bucket")
    with pytest.raises(invoke_endpoint.ImageWriteFailed, match=re.escape("images/unit-1/0.jpeg")):
        call(invoke_endpoint, IMAGE)


PLAN = {"request_id": "col-1", "request": {"text": "t", "num_images": 3}, "lanes": []}
OK = {"index": 0, "key": "images/col-1/0.jpeg", "seed": 5, "endpoint": "sd-1", "seconds": 1.5}
LAMBDA_CAUSE = json.dumps({"errorMessage": "boom", "errorType": "ModelError", "stackTrace": []})


def test_collect_orders_images_and_errors_and_writes_the_manifest(clean_stack: LocalStack) -> None:
    import collect

    failed = {"index": 1, "endpoint": "sd-2", "seed": 6, "error": "ModelError", "cause": LAMBDA_CAUSE}
    third = {**OK, "index": 2, "key": "images/col-1/2.jpeg", "seed": 7}
    response = call(collect, {"plan": PLAN, "results": [[OK, third], [failed]], "started": "2026-11-25T12:00:00.000Z"})
    base = clean_stack.gateway.url
    assert [i["url"] for i in response["images"]] == [f"{base}/images/col-1/0.jpeg", f"{base}/images/col-1/2.jpeg"]
    assert json.loads(response["body"]) == [i["url"] for i in response["images"]]
    assert response["errors"] == [{"index": 1, "endpoint": "sd-2", "error": "ModelError", "message": "boom"}]
    manifest = read_manifest(clean_stack, "col-1")
    assert manifest["status"] == "partial" and manifest["request"] == PLAN["request"]
    assert read_object(clean_stack, "requests/col-1.json")[1] == "application/json"


def test_collect_raises_generation_failed_after_recording_the_failure(clean_stack: LocalStack) -> None:
    import collect

    failed = {"index": 0, "endpoint": "sd-1", "seed": 5, "error": "States.Timeout", "cause": "Task timed out"}
    plan = {**PLAN, "request_id": "col-2"}
    with pytest.raises(collect.GenerationFailed) as raised:
        call(collect, {"plan": plan, "results": [[failed]], "started": "2026-11-25T12:00:00Z"})
    body = json.loads(str(raised.value))
    assert body["error"] == "GenerationFailed" and body["errors"][0]["message"] == "Task timed out"
    assert read_manifest(clean_stack, "col-2")["status"] == "failed"
