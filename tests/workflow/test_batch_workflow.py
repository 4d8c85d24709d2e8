"""The batch workflow (statemachine/text2image_batch.asl.json) on the local AWS: a batch stored and
started by the submit function's own code, its lines run as jobs of the request workflow, its
status document, its faults. The test stack scales Retry waits and the progress interval by 0.01."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from support import EXECUTION_DEADLINE, invocations, keys_under, read_manifest, read_object, wait_until

from text2image.event_patterns import BATCH_INBOX_PREFIX
from text2image.local.aws import BATCH_STATE_MACHINE_NAME, BUCKET, state_machine_arn
from text2image.local.lambdas import function_module
from text2image.local.stack import LocalStack
from text2image.manifest import PREPARE

batches, batch_input = function_module("batches"), function_module("batch_input")


def jsonl(requests: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(request) + "\n" for request in requests).encode()


def submit(stack: LocalStack, requests: list[dict[str, Any]]) -> str:
    """Store the batch and start it as POST /text2image/batches does (the submit function's code); its id."""
    batch = batch_input.parse_batch(jsonl(requests), batch_input.JSONL, batches.get_settings().limits)
    batches.submit(batch, None)
    return str(batch.batch_id)


def execution_arn(batch_id: str) -> str:
    return state_machine_arn(BATCH_STATE_MACHINE_NAME).replace(":stateMachine:", ":execution:") + f":{batch_id}"


def run_batch(stack: LocalStack, requests: list[dict[str, Any]]) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """Submit, wait for the batch execution to end: (batch id, its description, its status document)."""
    batch_id = submit(stack, requests)
    assert stack.aws.wait(execution_arn(batch_id), EXECUTION_DEADLINE), f"batch {batch_id} still running after {EXECUTION_DEADLINE} s"
    execution: dict[str, Any] = stack.aws.sfn.describe_execution(executionArn=execution_arn(batch_id))
    return batch_id, execution, status_document(stack, batch_id)


def status_document(stack: LocalStack, batch_id: str) -> dict[str, Any]:
    body, _ = read_object(stack, f"batches/{batch_id}/status.json")
    document: dict[str, Any] = json.loads(body)
    return document


def unique(text: str) -> str:
    """Each test's batch has content of its own: the same content is the same batch."""
    return f"{text} {uuid.uuid4().hex[:8]}"


def test_a_batch_runs_every_line_as_a_job_and_its_status_ends_succeeded(clean_stack: LocalStack) -> None:
    requests = [{"text": unique("a red fox"), "num_images": 2}, {"text": "a blue jay", "num_images": 1, "seed": 7}, {"text": "an owl", "num_images": 3}]
    batch_id, execution, status = run_batch(clean_stack, requests)
    assert execution["status"] == "SUCCEEDED", execution
    assert (status["status"], status["total"], status["done"], status["failed"], status["images"]) == ("succeeded", 3, 3, 0, 6)
    for number, (request, line) in enumerate(zip(requests, status["lines"], strict=True), start=1):
        manifest = read_manifest(clean_stack, f"{batch_id}-{number}")
        assert (line["line"], line["request_id"], line["status"], line["errors"]) == (number, f"{batch_id}-{number}", "succeeded", 0)
        assert manifest["request"]["text"] == request["text"] and manifest["status"] == "succeeded"
        assert line["images"] == [image["url"] for image in manifest["images"]] and len(line["images"]) == request["num_images"]
    assert read_manifest(clean_stack, f"{batch_id}-2")["request"]["seed"] == 7
    (results,) = keys_under(clean_stack, f"batches/{batch_id}/results/")  # the map run's ResultWriter
    assert results.endswith("/manifest.json")


def test_deal_from_spreads_the_lines_images_over_the_endpoints_as_one_stream(clean_stack: LocalStack) -> None:
    """Four 1-image lines on two endpoints: each line's image is dealt after the lines before it,
    so they alternate instead of all going to the first endpoint."""
    batch_id, execution, status = run_batch(clean_stack, [{"text": unique(f"line {n}"), "num_images": 1} for n in range(4)])
    assert execution["status"] == "SUCCEEDED" and status["status"] == "succeeded", (execution, status)
    endpoints = [read_manifest(clean_stack, f"{batch_id}-{line}")["images"][0]["endpoint"] for line in range(1, 5)]
    assert endpoints == ["sd-local-1", "sd-local-2", "sd-local-1", "sd-local-2"]
    assert invocations(clean_stack) == {"sd-local-1": 2, "sd-local-2": 2}


def test_an_endpoint_down_for_the_whole_batch_makes_it_partial_with_every_lost_image_listed(clean_stack: LocalStack) -> None:
    clean_stack.endpoints.set_fault("sd-local-2", "error")
    batch_id, execution, status = run_batch(clean_stack, [{"text": unique(f"half of line {n}"), "num_images": 2} for n in range(3)])
    assert execution["status"] == "SUCCEEDED", execution  # each line made an image: no line failed
    assert (status["status"], status["done"], status["failed"], status["images"]) == ("partial", 3, 0, 3)
    for number, line in enumerate(status["lines"], start=1):
        manifest = read_manifest(clean_stack, f"{batch_id}-{number}")
        lost = [(error["endpoint"], error["error"]) for error in manifest["errors"]]
        assert (line["status"], len(line["images"]), line["errors"], lost) == ("partial", 1, 1, [("sd-local-2", "ModelError")])


def test_a_batch_whose_lines_all_fail_fails_past_the_tolerated_share_and_its_status_says_failed(clean_stack: LocalStack) -> None:
    """Every line fails (GenerationFailed): more than the tolerated 10 %, so the map run fails,
    the final look ends the batch failed, and the execution fails with the map's error (redrivable)."""
    for name in ("sd-local-1", "sd-local-2"):
        clean_stack.endpoints.set_fault(name, "error")
    batch_id, execution, status = run_batch(clean_stack, [{"text": unique(f"no luck {n}"), "num_images": 1} for n in range(2)])
    assert (execution["status"], execution["error"]) == ("FAILED", "BatchFailed"), execution
    assert execution["cause"].startswith("States.ExceedToleratedFailureThreshold: 2 of 2 items failed")
    assert (status["status"], status["done"], status["failed"], status["images"]) == ("failed", 2, 2, 0)
    assert [line["status"] for line in status["lines"]] == ["failed", "failed"]
    assert all(read_manifest(clean_stack, f"{batch_id}-{line}")["status"] == "failed" for line in (1, 2))


@pytest.fixture
def prepare_answers_lost(clean_stack: LocalStack) -> Iterator[LocalStack]:
    """Every Prepare run's answer is lost (the Lambda service fails after it ran): its Retry gives up."""
    clean_stack.aws.lambdas.lose_answers(PREPARE.name, 1000)
    yield clean_stack
    clean_stack.aws.lambdas.lose_answers(PREPARE.name, 0)


def test_a_line_that_failed_before_writing_a_manifest_is_failed_by_the_final_look(prepare_answers_lost: LocalStack) -> None:
    batch_id, execution, status = run_batch(prepare_answers_lost, [{"text": unique("never planned"), "num_images": 1}])
    assert (execution["status"], execution["error"]) == ("FAILED", "BatchFailed"), execution
    assert keys_under(prepare_answers_lost, f"requests/{batch_id}-") == []
    (line,) = status["lines"]
    assert (status["status"], line["status"], line["images"]) == ("failed", "failed", [])


def test_a_batch_file_dropped_under_the_inbox_runs_as_a_batch(clean_stack: LocalStack) -> None:
    requests = [{"text": unique("dropped"), "num_images": 1}, {"text": "also dropped", "num_images": 1}]
    clean_stack.aws.s3.put_object(Bucket=BUCKET, Key=f"{BATCH_INBOX_PREFIX}{uuid.uuid4().hex}.jsonl", Body=jsonl(requests))
    batch_id = batch_input.parse_batch(jsonl(requests), batch_input.JSONL, batches.get_settings().limits).batch_id
    assert wait_until(lambda: clean_stack.aws.wait(execution_arn(batch_id), 0.1), "the dropped batch's execution to end", timeout=EXECUTION_DEADLINE)
    status = status_document(clean_stack, batch_id)
    assert (status["status"], status["images"]) == ("succeeded", 2)
