"""The real ASL file, executed by moto's engine with the real handlers and the local endpoints."""

from __future__ import annotations

import json
from typing import Any

import pytest
from support import custom_event, invocations, jpeg_dimensions, keys_under, read_manifest, read_object, run_workflow, s3_event

from request_validation import SCHEMA
from text2image.local.aws import BUCKET
from text2image.local.stack import LocalStack

BASE = "http://127.0.0.1"


def succeeded(execution: dict[str, Any]) -> dict[str, Any]:
    assert execution["status"] == "SUCCEEDED", (execution.get("error"), execution.get("cause"))
    output: dict[str, Any] = json.loads(execution["output"])
    return output


def error_body(execution: dict[str, Any], error: str) -> dict[str, Any]:
    assert execution["status"] == "FAILED"
    assert execution["error"] == error
    body: dict[str, Any] = json.loads(json.loads(execution["cause"])["errorMessage"])
    return body


def test_happy_path_fans_out_over_both_endpoints_one_call_each(clean_stack: LocalStack) -> None:
    out = succeeded(run_workflow(clean_stack, {"text": "A flower, fantasy, happy", "seed": 7}, name="happy-1"))
    assert out["statusCode"] == 200 and out["request_id"] == "happy-1" and out["errors"] == []
    assert [image["index"] for image in out["images"]] == [0, 1, 2, 3]
    assert [image["endpoint"] for image in out["images"]] == ["sd-local-1"] * 2 + ["sd-local-2"] * 2
    assert [image["seed"] for image in out["images"]] == [7, 8, 9, 10]
    assert json.loads(out["body"]) == [image["url"] for image in out["images"]]
    assert out["images"][0]["url"] == f"{clean_stack.gateway.url}/images/happy-1/0.jpeg"
    assert isinstance(out["time"], float) and out["time"] > 0
    assert invocations(clean_stack) == {"sd-local-1": 1, "sd-local-2": 1}
    assert len({read_object(clean_stack, f"images/happy-1/{i}.jpeg")[0] for i in range(4)}) == 4  # every image its own
    assert keys_under(clean_stack, "images/happy-1/") == [f"images/happy-1/{i}.jpeg" for i in range(4)]
    for i in range(4):
        data, content_type = read_object(clean_stack, f"images/happy-1/{i}.jpeg")
        assert content_type == "image/jpeg"
        assert jpeg_dimensions(data) == (768, 512)
    manifest = read_manifest(clean_stack, "happy-1")
    assert manifest["status"] == "succeeded"
    assert {k: v for k, v in manifest.items() if k not in ("status", "request")} == out
    assert manifest["request"]["text"] == "A flower, fantasy, happy"


def test_same_seed_same_images_different_seed_different_images(clean_stack: LocalStack) -> None:
    succeeded(run_workflow(clean_stack, {"text": "seeded", "num_images": 1, "seed": 5}, name="seed-a"))
    succeeded(run_workflow(clean_stack, {"text": "seeded", "num_images": 1, "seed": 5}, name="seed-b"))
    succeeded(run_workflow(clean_stack, {"text": "seeded", "num_images": 1, "seed": 6}, name="seed-c"))
    a, b, c = (read_object(clean_stack, f"images/seed-{x}/0.jpeg")[0] for x in "abc")
    assert a == b and a != c


def test_validation_failure_names_the_field_and_calls_no_endpoint(clean_stack: LocalStack) -> None:
    execution = run_workflow(clean_stack, {"text": "a", "width": 1001}, name="invalid-1")
    body = error_body(execution, "ValidationError")
    assert body == {"error": "ValidationError", "message": "width: must be a multiple of 8 (got 1001)", "field": "width"}
    assert invocations(clean_stack) == {"sd-local-1": 0, "sd-local-2": 0}
    assert keys_under(clean_stack, "images/invalid-1/") == [] and keys_under(clean_stack, "requests/invalid-1") == []


def test_one_endpoint_failing_gives_a_partial_result(clean_stack: LocalStack) -> None:
    clean_stack.endpoints.set_fault("sd-local-2", "error")
    out = succeeded(run_workflow(clean_stack, {"text": "partial", "num_images": 4}, name="partial-1"))
    assert [image["index"] for image in out["images"]] == [0, 1]
    assert [(e["index"], e["endpoint"], e["error"]) for e in out["errors"]] == [
        (2, "sd-local-2", "ModelError"),
        (3, "sd-local-2", "ModelError"),
    ]
    assert out["errors"][0]["message"] == "the model container answered 500: injected fault"
    assert json.loads(out["body"]) == [image["url"] for image in out["images"]]
    assert keys_under(clean_stack, "images/partial-1/") == ["images/partial-1/0.jpeg", "images/partial-1/1.jpeg"]
    assert read_manifest(clean_stack, "partial-1")["status"] == "partial"


def test_all_endpoints_failing_is_generation_failed_with_every_error(clean_stack: LocalStack) -> None:
    for name in ("sd-local-1", "sd-local-2"):
        clean_stack.endpoints.set_fault(name, "error")
    execution = run_workflow(clean_stack, {"text": "doomed", "num_images": 3}, name="failed-1")
    body = error_body(execution, "GenerationFailed")
    assert body["error"] == "GenerationFailed" and body["request_id"] == "failed-1"
    assert [e["index"] for e in body["errors"]] == [0, 1, 2]
    manifest = read_manifest(clean_stack, "failed-1")
    assert manifest["status"] == "failed" and manifest["images"] == [] and len(manifest["errors"]) == 3


@pytest.mark.parametrize("mode", ["throttle", "notready", "unavailable"])
def test_transient_errors_are_retried_to_success(clean_stack: LocalStack, mode: str) -> None:
    clean_stack.endpoints.set_fault("sd-local-1", mode, count=2)
    out = succeeded(run_workflow(clean_stack, {"text": "retry me", "num_images": 2}, name=f"retry-{mode}"))
    assert out["errors"] == [] and len(out["images"]) == 2
    assert invocations(clean_stack) == {"sd-local-1": 3, "sd-local-2": 1}


def test_a_model_error_is_not_retried(clean_stack: LocalStack) -> None:
    clean_stack.endpoints.set_fault("sd-local-1", "error", count=1)
    out = succeeded(run_workflow(clean_stack, {"text": "no retry", "num_images": 2}, name="noretry-1"))
    assert [e["error"] for e in out["errors"]] == ["ModelError"]
    assert invocations(clean_stack) == {"sd-local-1": 1, "sd-local-2": 1}


def test_garbage_answers_are_invalid_model_responses(clean_stack: LocalStack) -> None:
    clean_stack.endpoints.set_fault("sd-local-2", "garbage")
    out = succeeded(run_workflow(clean_stack, {"text": "garbage", "num_images": 2}, name="garbage-1"))
    assert [(e["index"], e["error"]) for e in out["errors"]] == [(1, "InvalidModelResponse")]
    assert keys_under(clean_stack, "images/garbage-1/") == ["images/garbage-1/0.jpeg"]


def test_s3_prompt_file_event_runs_with_a_request_id_derived_from_the_object(clean_stack: LocalStack) -> None:
    request = {"text": "from a prompt file", "num_images": 2}
    clean_stack.aws.s3.put_object(Bucket=BUCKET, Key="prompts/flower.json", Body=json.dumps(request).encode())
    event = s3_event(BUCKET, "prompts/flower.json", sequencer="00AA")
    out = succeeded(run_workflow(clean_stack, event))
    assert out["request_id"].startswith("s3-")
    assert len(out["images"]) == 2
    assert read_manifest(clean_stack, out["request_id"])["request"]["text"] == "from a prompt file"


def test_the_same_event_twice_rewrites_the_same_keys(clean_stack: LocalStack) -> None:
    request = {"text": "delivered twice", "num_images": 3}
    clean_stack.aws.s3.put_object(Bucket=BUCKET, Key="prompts/twice.json", Body=json.dumps(request).encode())
    event = s3_event(BUCKET, "prompts/twice.json", sequencer="00BB")
    first = succeeded(run_workflow(clean_stack, event))
    images_after_first = {key: read_object(clean_stack, key)[0] for key in keys_under(clean_stack, f"images/{first['request_id']}/")}
    second = succeeded(run_workflow(clean_stack, {**event, "id": "another-delivery-id"}))
    assert second["request_id"] == first["request_id"]
    assert [i["url"] for i in second["images"]] == [i["url"] for i in first["images"]]
    images_after_second = {key: read_object(clean_stack, key)[0] for key in keys_under(clean_stack, f"images/{first['request_id']}/")}
    assert images_after_second == images_after_first and len(images_after_first) == 3
    assert keys_under(clean_stack, f"requests/{first['request_id']}") == [f"requests/{first['request_id']}.json"]


def test_a_new_version_of_the_prompt_file_is_a_new_request(clean_stack: LocalStack) -> None:
    clean_stack.aws.s3.put_object(Bucket=BUCKET, Key="prompts/v.json", Body=b'{"text": "v", "num_images": 1}')
    one = succeeded(run_workflow(clean_stack, s3_event(BUCKET, "prompts/v.json", sequencer="01")))
    two = succeeded(run_workflow(clean_stack, s3_event(BUCKET, "prompts/v.json", sequencer="02")))
    assert one["request_id"] != two["request_id"]


def test_custom_event_detail_is_the_request_and_its_id_makes_the_request_id(clean_stack: LocalStack) -> None:
    event = custom_event({"text": "from EventBridge", "num_images": 1}, event_id="evt-123")
    first = succeeded(run_workflow(clean_stack, event))
    again = succeeded(run_workflow(clean_stack, event))
    assert first["request_id"] == again["request_id"] and first["request_id"].startswith("event-")


@pytest.mark.parametrize(
    ("make_event", "field"),
    [
        (lambda: s3_event(BUCKET, "images/not-a-prompt.json"), "event"),
        (lambda: s3_event("someone-elses-bucket", "prompts/x.json"), "event"),
        (lambda: {**custom_event({"text": "a"}), "source": "other"}, "event"),
        (lambda: {**custom_event({"text": "a"}), "time": "not a time"}, "event"),
        (lambda: custom_event({"text": "a", "width": 7}), "width"),
    ],
)
def test_bad_events_fail_validation_naming_the_field(clean_stack: LocalStack, make_event: Any, field: str) -> None:
    body = error_body(run_workflow(clean_stack, make_event()), "ValidationError")
    assert body["field"] == field
    assert invocations(clean_stack) == {"sd-local-1": 0, "sd-local-2": 0}


def test_a_prompt_file_that_is_not_json_is_a_validation_error(clean_stack: LocalStack) -> None:
    clean_stack.aws.s3.put_object(Bucket=BUCKET, Key="prompts/broken.json", Body=b"{not json")
    body = error_body(run_workflow(clean_stack, s3_event(BUCKET, "prompts/broken.json")), "ValidationError")
    assert body["field"] == "body"


def test_tricky_prompts_round_trip_exactly_into_the_manifest(clean_stack: LocalStack, valid_case: dict[str, Any]) -> None:
    request = {**valid_case["request"], "num_images": 1}
    out = succeeded(run_workflow(clean_stack, request))
    assert read_manifest(clean_stack, out["request_id"])["request"]["text"] == request["text"]


def test_an_unsafe_execution_name_never_reaches_an_s3_key(clean_stack: LocalStack) -> None:
    out = succeeded(run_workflow(clean_stack, {"text": "n", "num_images": 1}, name="my.run"))
    assert out["request_id"].startswith("name-")
    assert all("my.run" not in key for key in keys_under(clean_stack, "images/"))


def largest_request() -> dict[str, Any]:
    """The biggest request the schema allows, in the characters that cost the most bytes: every
    prompt character 4 bytes in UTF-8 and 12 as a JSON \\u escape pair."""
    limits = SCHEMA["properties"]
    return {
        "text": "🌸" * limits["text"]["maxLength"],
        "negative_prompt": "🐈" * limits["negative_prompt"]["maxLength"],
        "num_images": limits["num_images"]["maximum"],
        "width": 256,
        "height": 256,
        "num_inference_steps": 1,
    }


def test_the_largest_request_fits_step_functions_state_limit(clean_stack: LocalStack) -> None:
    """Step Functions refuses a state over 256 KiB (States.DataLimitExceeded; moto enforces it
    too). The plan holds the prompts once: 16 copies, one per image, did not fit."""
    execution = run_workflow(clean_stack, largest_request())
    out = succeeded(execution)
    assert len(out["images"]) == largest_request()["num_images"] and out["errors"] == []
    history = clean_stack.aws.sfn.get_execution_history(executionArn=execution["executionArn"], maxResults=1000)["events"]
    payloads = [
        details[kind] for event in history for details in event.values() if isinstance(details, dict) for kind in ("input", "output") if kind in details
    ]
    assert payloads and max(len(payload.encode()) for payload in payloads) < 256 * 1024


def test_batching_does_not_change_the_images(clean_stack: LocalStack, monkeypatch: pytest.MonkeyPatch, cold_start: None) -> None:
    """The same request made one image per call (IMAGES_PER_CALL=1, `up --images-per-call 1`) and
    in one call per endpoint gives the same images under the same keys: image i has seed + i."""
    request = {"text": "batched or not", "num_images": 4, "seed": 21}
    succeeded(run_workflow(clean_stack, request, name="batched"))
    assert invocations(clean_stack) == {"sd-local-1": 1, "sd-local-2": 1}
    clean_stack.endpoints.reset_stats()
    import prepare

    monkeypatch.setenv("IMAGES_PER_CALL", "1")
    prepare.get_settings.cache_clear()  # a cold start: Prepare reads its settings anew (cold_start: again after the test)
    one_by_one = succeeded(run_workflow(clean_stack, request, name="one-by-one"))
    assert invocations(clean_stack) == {"sd-local-1": 2, "sd-local-2": 2}
    assert [image["seed"] for image in one_by_one["images"]] == [21, 22, 23, 24]
    for i in range(4):
        assert read_object(clean_stack, f"images/batched/{i}.jpeg")[0] == read_object(clean_stack, f"images/one-by-one/{i}.jpeg")[0]
