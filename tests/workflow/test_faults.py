"""The fault matrix: what each endpoint or storage failure does to a run, with nothing lost.
The test stack scales Retry waits by 0.01 and the endpoint call limit to 2 s (conftest.py)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from support import invocations, keys_under, read_manifest, run_workflow

from text2image.local.containers import PreviewContainer
from text2image.local.stack import LocalStack

# ASL: EndpointBusy -> 4 retries (1, 2, 4, 8 s, full jitter): 5 calls and at most 15 s of waits.
BUSY_CALLS = 5
# ImageWriteFailed -> 2 retries: 3 attempts.
WRITE_ATTEMPTS = 3


def assert_attempts(stack: LocalStack, calls: int) -> None:
    """Every endpoint was called ``calls`` times, or once more: when lanes retry at the same
    moment, moto's interpreter has once been seen granting one retry beyond MaxAttempts
    (4 attempts instead of 3 on one lane); on AWS the count is exact."""
    counts = invocations(stack)
    assert all(count >= calls for count in counts.values()), counts
    assert all(count <= calls + 1 for count in counts.values()), counts


def outcome(execution: dict[str, Any]) -> dict[str, Any]:
    if execution["status"] == "SUCCEEDED":
        result: dict[str, Any] = json.loads(execution["output"])
        return result
    assert execution["status"] == "FAILED", execution
    body: dict[str, Any] = json.loads(json.loads(execution["cause"])["errorMessage"])
    return body


def emf_lines(output: str) -> list[dict[str, Any]]:
    """The CloudWatch embedded-metric lines Powertools printed."""
    found = []
    for line in output.splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and "_aws" in record:
            found.append(record)
    return found


def test_a_throttled_batched_call_is_retried_whole_visibly_in_logs_and_metrics(
    clean_stack: LocalStack, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    clean_stack.endpoints.set_fault("sd-local-1", "throttle", count=2)
    result = outcome(run_workflow(clean_stack, {"text": "visible retries", "num_images": 4}))
    assert result["errors"] == [] and [i["index"] for i in result["images"]] == [0, 1, 2, 3]
    assert invocations(clean_stack) == {"sd-local-1": 3, "sd-local-2": 1}  # one call of 2 images, throttled twice
    failed = [r for r in caplog.records if r.getMessage() == "call failed" and getattr(r, "error", None) == "EndpointBusy"]
    assert len(failed) == 2 and all("ThrottlingException" in str(getattr(r, "reason", "")) for r in failed)
    busy = [m for m in emf_lines(capsys.readouterr().out) if "EndpointBusy" in m and m.get("endpoint") == "sd-local-1"]
    assert len(busy) == 2
    assert busy[0]["_aws"]["CloudWatchMetrics"][0]["Metrics"] == [{"Name": "EndpointBusy", "Unit": "Count"}]


@pytest.mark.parametrize("mode", ["throttle", "notready", "unavailable"])
def test_all_endpoints_busy_for_good_ends_in_generation_failed_after_the_retry_budget(clean_stack: LocalStack, mode: str) -> None:
    for name in ("sd-local-1", "sd-local-2"):
        clean_stack.endpoints.set_fault(name, mode)
    execution = run_workflow(clean_stack, {"text": "no luck", "num_images": 2})
    result = outcome(execution)
    assert execution["error"] == "GenerationFailed" and result["error"] == "GenerationFailed"
    assert [(e["index"], e["error"]) for e in result["errors"]] == [(0, "EndpointBusy"), (1, "EndpointBusy")]
    assert_attempts(clean_stack, BUSY_CALLS)


def test_an_endpoint_past_the_call_limit_loses_that_calls_images_only(clean_stack: LocalStack) -> None:
    clean_stack.endpoints.set_fault("sd-local-2", "slow", count=1)
    result = outcome(run_workflow(clean_stack, {"text": "one slow call", "num_images": 4}))
    assert [i["index"] for i in result["images"]] == [0, 1]
    assert [(e["index"], e["endpoint"], e["error"]) for e in result["errors"]] == [(2, "sd-local-2", "ModelError"), (3, "sd-local-2", "ModelError")]
    assert all("timed out" in e["message"] for e in result["errors"])


def test_a_failing_batched_call_lists_each_of_its_images_with_the_reason(clean_stack: LocalStack) -> None:
    clean_stack.endpoints.set_fault("sd-local-1", "error", count=1)
    result = outcome(run_workflow(clean_stack, {"text": "a model error", "num_images": 6}, name="batch-fails"))
    assert [i["index"] for i in result["images"]] == [3, 4, 5]
    assert [(e["index"], e["endpoint"], e["error"]) for e in result["errors"]] == [(i, "sd-local-1", "ModelError") for i in (0, 1, 2)]
    assert all("injected fault" in e["message"] for e in result["errors"])
    assert invocations(clean_stack) == {"sd-local-1": 1, "sd-local-2": 1}  # a model error is not retried
    assert keys_under(clean_stack, "images/batch-fails/") == [f"images/batch-fails/{i}.jpeg" for i in (3, 4, 5)]
    assert read_manifest(clean_stack, "batch-fails")["status"] == "partial"


def test_a_call_past_what_the_endpoint_takes_is_refused_before_the_gpu_and_listed(clean_stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> None:
    """An endpoint that takes fewer images per call than the stack plans by (one not created with
    the stack's maxImagesPerCall) refuses the call in its input check: no GPU time, each image listed."""
    container = clean_stack.endpoints.containers["sd-local-2"]
    assert isinstance(container, PreviewContainer)
    monkeypatch.setattr(container, "limits", container.contract.Limits(max_images=2))
    result = outcome(run_workflow(clean_stack, {"text": "too many for sd-local-2", "num_images": 6}))
    assert [i["index"] for i in result["images"]] == [0, 1, 2]
    assert [(e["index"], e["endpoint"], e["error"]) for e in result["errors"]] == [(i, "sd-local-2", "ModelError") for i in (3, 4, 5)]
    assert all("num_images_per_prompt must be a whole number in 1..2, not 3" in e["message"] for e in result["errors"])


def test_a_failing_s3_write_is_reported_for_every_image_never_silently_missing(
    clean_stack: LocalStack, monkeypatch: pytest.MonkeyPatch, cold_start: None
) -> None:
    import invoke_endpoint

    gone = invoke_endpoint.Settings(bucket="bucket-that-is-gone", read_timeout=10, inference_components={})
    monkeypatch.setattr(invoke_endpoint, "get_settings", lambda: gone)
    execution = run_workflow(clean_stack, {"text": "nowhere to write", "num_images": 2}, name="write-fails")
    result = outcome(execution)
    assert result["error"] == "GenerationFailed"
    assert [(e["index"], e["error"]) for e in result["errors"]] == [(0, "ImageWriteFailed"), (1, "ImageWriteFailed")]
    assert re.search(r"could not write images/write-fails/0\.jpeg", result["errors"][0]["message"])
    assert_attempts(clean_stack, WRITE_ATTEMPTS)
    assert read_manifest(clean_stack, "write-fails")["status"] == "failed"


def test_a_task_retried_after_it_wrote_rewrites_the_same_key(clean_stack: LocalStack) -> None:
    clean_stack.aws.lambdas.lose_answers("text2image-invoke-endpoint", 1)
    result = outcome(run_workflow(clean_stack, {"text": "written twice", "num_images": 3, "seed": 9}, name="retried-task"))
    assert result["errors"] == [] and len(result["images"]) == 3
    assert sum(invocations(clean_stack).values()) == 3  # two calls, one of them made twice...
    assert keys_under(clean_stack, "images/retried-task/") == [f"images/retried-task/{i}.jpeg" for i in range(3)]  # ...under one key
    assert keys_under(clean_stack, "requests/retried-task") == ["requests/retried-task.json"]


def test_collect_retried_after_it_wrote_keeps_one_manifest(clean_stack: LocalStack) -> None:
    clean_stack.aws.lambdas.lose_answers("text2image-collect", 1)
    result = outcome(run_workflow(clean_stack, {"text": "collected twice", "num_images": 2}, name="retried-collect"))
    assert len(result["images"]) == 2
    assert keys_under(clean_stack, "requests/retried-collect") == ["requests/retried-collect.json"]
    assert read_manifest(clean_stack, "retried-collect")["status"] == "succeeded"
