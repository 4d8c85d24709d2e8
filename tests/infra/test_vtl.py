"""The API's mapping templates, rendered for tricky prompts (see vtl.py for the renderer)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from support import CORPUS
from vtl import escape_javascript, render

from infra.api import JOB_EXECUTION_NAME, JOB_RESPONSE_TEMPLATE, SYNC_EXECUTION_NAME, SYNC_RESPONSE_TEMPLATE, request_template
from text2image.local.gateway import job_answer

ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:Text2Image"
REQUEST_ID = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
REQUEST = request_template(ARN, SYNC_EXECUTION_NAME, 4)
JOB_REQUEST = request_template(ARN, JOB_EXECUTION_NAME, 4)
RESPONSE = SYNC_RESPONSE_TEMPLATE.read_text(encoding="utf-8")
JOB_RESPONSE = JOB_RESPONSE_TEMPLATE.read_text(encoding="utf-8")
TRICKY = [
    "it's a 'quoted' \"double\" prompt",
    "back\\slash \\n not a newline \\' and \\\"",
    "line one\nline two\r\n\ttab",
    "emoji 🌸🐈‍⬛ and RTL زهرة",
    "</script><img src=x onerror=alert(1)> & /slashes/",
    "control \x01\x1f chars",
]


def test_escape_javascript_matches_commons_lang() -> None:
    assert escape_javascript('it\'s "a"/b\\c\n🌸é') == 'it\\\'s \\"a\\"\\/b\\\\c\\n\\uD83C\\uDF38\\u00E9'


@pytest.mark.parametrize("text", TRICKY + [case["request"]["text"] for case in CORPUS["valid"]])
def test_the_request_template_passes_the_body_through_exactly(text: str) -> None:
    body = {"text": text, "width": 512, "seed": 7}
    output, _ = render(REQUEST, json.dumps(body))
    start = json.loads(output)  # the StartSyncExecution request is valid JSON
    assert start["stateMachineArn"] == ARN
    assert start["name"] == REQUEST_ID
    assert json.loads(start["input"]) == body
    job, _ = render(JOB_REQUEST, json.dumps(body))
    assert json.loads(json.loads(job)["input"]) == body


def lambda_cause(error_body: dict[str, Any], error_type: str) -> str:
    return json.dumps({"errorMessage": json.dumps(error_body), "errorType": error_type, "stackTrace": []})


def test_succeeded_passes_the_output_through() -> None:
    output = {"statusCode": 200, "body": json.dumps(["https://d/images/r/0.jpeg"]), "time": 1.5, "request_id": "r", "images": [], "errors": []}
    rendered, context = render(RESPONSE, json.dumps({"status": "SUCCEEDED", "output": json.dumps(output)}))
    assert "status" not in context["responseOverride"]
    assert json.loads(rendered) == output


@pytest.mark.parametrize(
    ("error", "status"),
    [("ValidationError", 400), ("GenerationFailed", 502)],
)
def test_named_errors_map_to_their_status_with_the_body_they_carry(error: str, status: int) -> None:
    body = {"error": error, "message": 'text: it\'s "bad" \\ here', "field": "text", "errors": [{"index": 0, "message": "a 'quote'"}]}
    rendered, context = render(RESPONSE, json.dumps({"status": "FAILED", "error": error, "cause": lambda_cause(body, error)}))
    assert context["responseOverride"]["status"] == status
    assert json.loads(rendered) == body


def test_other_failures_are_internal_errors_and_timeouts_are_504() -> None:
    rendered, context = render(RESPONSE, json.dumps({"status": "FAILED", "error": "States.Runtime", "cause": "boom"}))
    assert context["responseOverride"]["status"] == 500 and json.loads(rendered)["error"] == "InternalError"
    rendered, context = render(RESPONSE, json.dumps({"status": "TIMED_OUT"}))
    assert context["responseOverride"]["status"] == 504 and json.loads(rendered)["error"] == "Timeout"


@pytest.mark.parametrize(("body", "count"), [({"text": "a"}, 4), ({"text": "a", "num_images": 1}, 1), ({"text": "a", "num_images": 16}, 16)])
def test_the_job_is_named_with_its_image_count_and_answers_the_planned_urls(body: dict[str, Any], count: int) -> None:
    start, _ = render(JOB_REQUEST, json.dumps(body))
    name = json.loads(start)["name"]
    assert name == f"{REQUEST_ID}-n{count}"
    started = {"executionArn": f"arn:aws:states:us-east-1:123456789012:execution:Text2Image:{name}", "startDate": 1.7e9}
    base = "https://d111111abcdef8.cloudfront.net"
    rendered, context = render(JOB_RESPONSE, json.dumps(started), stage_variables={"publicBaseUrl": base})
    assert context["responseOverride"]["status"] == 202
    assert json.loads(rendered) == job_answer(base, name, count)  # the same answer as the local gateway's
