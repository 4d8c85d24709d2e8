"""The shared request corpus through all four doors: the JSON Schema module, the workflow's
own validation (console and event input), the sync API and the jobs API. They agree, bad
input calls no endpoint and writes nothing, and good prompts round-trip byte for byte."""

from __future__ import annotations

import json
from typing import Any

import pytest
from support import http, invocations, keys_under, post_json, read_manifest, run_workflow, wait_until

from request_validation import ValidationError, validated_request
from text2image.local.stack import LocalStack


def schema_answer(request: Any) -> dict[str, Any]:
    with pytest.raises(ValidationError) as raised:
        validated_request(request)
    return raised.value.body


def test_every_door_refuses_a_bad_request_with_the_same_answer(clean_stack: LocalStack, invalid_case: dict[str, Any]) -> None:
    request = invalid_case["request"]
    before = keys_under(clean_stack, "")
    expected = schema_answer(request)
    assert expected["field"] == invalid_case["field"]

    execution = run_workflow(clean_stack, request)  # as the console or an event would start it
    assert execution["status"] == "FAILED" and execution["error"] == "ValidationError"
    assert json.loads(json.loads(execution["cause"])["errorMessage"]) == expected

    for route in ("/text2image", "/text2image/jobs"):
        status, answer = post_json(clean_stack.gateway.url + route, request)
        assert (status, answer) == (400, expected), route

    assert invocations(clean_stack) == {"sd-local-1": 0, "sd-local-2": 0}
    assert keys_under(clean_stack, "") == before


def test_good_prompts_round_trip_byte_for_byte_through_both_routes(clean_stack: LocalStack, valid_case: dict[str, Any]) -> None:
    request = {**valid_case["request"], "num_images": 1}
    status, answer = post_json(f"{clean_stack.gateway.url}/text2image", request)
    assert status == 200, answer
    assert read_manifest(clean_stack, answer["request_id"])["request"]["text"] == request["text"]

    status, job = post_json(f"{clean_stack.gateway.url}/text2image/jobs", request)
    assert status == 202, job
    wait_until(lambda: http("GET", job["status_url"], content_type=None)[0] == 200, "the job's manifest")
    manifest = read_manifest(clean_stack, job["request_id"])
    assert manifest["request"]["text"] == request["text"] and manifest["status"] == "succeeded"


def test_s3_keys_never_carry_user_text(clean_stack: LocalStack) -> None:
    marker = "../../etc/passwd <script> 🌸"
    _, answer = post_json(f"{clean_stack.gateway.url}/text2image", {"text": marker, "negative_prompt": marker, "num_images": 2})
    keys = keys_under(clean_stack, "images/") + keys_under(clean_stack, "requests/")
    assert keys and not [key for key in keys if any(part in key for part in ("..", "<", "🌸", "passwd"))]
    assert all(key.startswith((f"images/{answer['request_id']}/", "images/", "requests/")) for key in keys)
