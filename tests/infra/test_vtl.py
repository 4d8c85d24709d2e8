"""The API's mapping templates, as the synthesized stack deploys them, rendered in Apache
Velocity 1.7 with API Gateway's variables (tests/vtl.py), for tricky prompts and every
outcome of a run; their answers are the local gateway's."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from support import CORPUS
from vtl import REQUEST_ID, Rendered, Velocity

from text2image.deploy_settings import context_defaults
from text2image.local.auth import Caller
from text2image.local.gateway import ERROR_STATUS, execution_error_answer, execution_input, job_answer, retry_after
from text2image.paths import REQUEST_SCHEMA

JSON = "application/json"
BASE = "https://d111111abcdef8.cloudfront.net"
DEFAULT_NUM_IMAGES = int(context_defaults()["defaultNumImages"])
MAX_NUM_IMAGES = int(json.loads(REQUEST_SCHEMA.read_text(encoding="utf-8"))["properties"]["num_images"]["maximum"])
# Step Functions' execution names: 1-80 characters, no "$", whitespace, brackets, wildcards or
# punctuation beyond "-" and "_" (ours are API Gateway request ids plus a count).
EXECUTION_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
TRICKY = [
    "it's a 'quoted' \"double\" prompt",
    "back\\slash \\n not a newline \\' and \\\" and \\u0041",
    "line one\nline two\r\n\ttab",
    "emoji 🌸🐈‍⬛ and RTL زهرة and é",
    "</script><img src=x onerror=alert(1)> & /slashes/ <!-- -->",
    "control \x01\x1f chars",
    "velocity $context.requestId #set($x = 1) ${x} ## not a comment",
]


def started(methods: dict[str, dict[str, Any]], action: str) -> dict[str, Any]:
    """The integration response of a call Step Functions accepted (the one with no selection pattern)."""
    responses: list[dict[str, Any]] = [r for r in methods[action]["Integration"]["IntegrationResponses"] if "SelectionPattern" not in r]
    (response,) = responses
    return response


def answered_status(method: dict[str, Any], response: dict[str, Any], rendered: Rendered) -> int:
    """The HTTP status an answer goes out with: the one the template set (responseOverride.status),
    else the integration response's. Each must have a method response on the route, or API
    Gateway cannot answer it ("Output mapping refers to an invalid method response": a 500)."""
    status = rendered.status or int(response["StatusCode"])
    declared = {int(r["StatusCode"]) for r in method["MethodResponses"]}
    assert status in declared, (status, declared)
    return status


def express_arn(name: str) -> str:
    return f"arn:aws:states:us-east-1:123456789012:express:Text2Image:{name}:6f9c4e1a-6d1b-4e5e-9d0c-2b1f0c9e7a31"


def standard_arn(name: str) -> str:
    return f"arn:aws:states:us-east-1:123456789012:execution:Text2Image:{name}"


# -- request: POST /text2image and /text2image/jobs -> StartSyncExecution / StartExecution --------


@pytest.mark.parametrize("action", ["StartSyncExecution", "StartExecution"])
@pytest.mark.parametrize("text", TRICKY + [case["request"]["text"] for case in CORPUS["valid"]])
def test_the_open_stacks_request_template_passes_the_body_through_exactly(
    velocity: Velocity, open_request_templates: dict[str, str], state_machine_arn: str, action: str, text: str
) -> None:
    """text2image:auth=none: a job's input is the body itself (as the console's); the sync route
    wraps the body, unchanged, with "route": "sync" (it never waits for a cold endpoint); both as
    the local gateway builds them."""
    body = {"text": text, "width": 512, "seed": 7, "negative_prompt": text}
    rendered = velocity.render(open_request_templates[action], json.dumps(body))
    start = json.loads(rendered.output)  # the StartSyncExecution / StartExecution request is JSON
    assert start["stateMachineArn"] == state_machine_arn
    sync = action == "StartSyncExecution"
    assert json.loads(start["input"]) == ({"request": body, "route": "sync"} if sync else body) == execution_input(body, None, sync=sync)
    assert EXECUTION_NAME.match(start["name"]), start["name"]


def claims(sub: str, username: str) -> dict[str, Any]:
    """``$context.authorizer`` after API Gateway's Cognito authorizer accepted an ID token: its
    claims as API Gateway hands them to a template, every value a string (dates spelled out)."""
    return {
        "authorizer": {
            "claims": {
                "sub": sub,
                "email_verified": "true",
                "iss": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123",
                "cognito:username": username,
                "origin_jti": "3f1c7a52-5f0e-4c4e-9c55-2f8f1a3c9d10",
                "aud": "3n4b5urk1ft4fl3mg5e0dn8dp",
                "event_id": "7d8c2b1e-4a3f-4f5e-8d9c-0b1a2c3d4e5f",
                "token_use": "id",
                "auth_time": "1795000000",
                "exp": "Thu Nov 26 20:13:20 UTC 2026",
                "iat": "Thu Nov 26 19:13:20 UTC 2026",
                "jti": "9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d",
                "email": "alice@example.org",
            }
        }
    }


SUB = "a1b2c3d4-5e6f-4a8b-9c0d-e1f2a3b4c5d6"
# Cognito user names: any letters, marks, symbols, numbers and punctuation (no spaces).
USERNAMES = ["alice", "o'brien", 'say"hi"', "back\\slash", "zoë🌸", "ゆき", "a/b<c>&d", "$context.requestId", "#set($x=1)"]


@pytest.mark.parametrize("action", ["StartSyncExecution", "StartExecution"])
@pytest.mark.parametrize("username", USERNAMES)
@pytest.mark.parametrize("text", TRICKY)
def test_a_signed_in_callers_run_gets_the_body_and_who_sent_it(
    velocity: Velocity, request_templates: dict[str, str], state_machine_arn: str, action: str, username: str, text: str
) -> None:
    """The default stack (sign-in): {"request": <the body, unchanged>, "caller": {"sub", "username"}}
    from the token's claims, whatever quotes, backslashes or characters either holds, and
    "route": "sync" from the sync route; as the local gateway builds it."""
    body = {"text": text, "num_images": 2, "negative_prompt": text}
    rendered = velocity.render(request_templates[action], json.dumps(body), context=claims(SUB, username))
    start = json.loads(rendered.output)
    assert start["stateMachineArn"] == state_machine_arn and EXECUTION_NAME.match(start["name"]), start["name"]
    sync = action == "StartSyncExecution"
    expected = {"request": body, "caller": {"sub": SUB, "username": username}} | ({"route": "sync"} if sync else {})
    assert json.loads(start["input"]) == expected == execution_input(body, Caller(sub=SUB, username=username), sync=sync)


@pytest.mark.parametrize(
    ("body", "count"),
    [({"text": "a"}, DEFAULT_NUM_IMAGES), ({"text": "a", "num_images": 1}, 1), ({"text": "a", "num_images": MAX_NUM_IMAGES}, MAX_NUM_IMAGES)],
)
def test_executions_are_named_with_the_request_id_and_jobs_with_their_image_count(
    velocity: Velocity, request_templates: dict[str, str], body: dict[str, Any], count: int
) -> None:
    sync = json.loads(velocity.render(request_templates["StartSyncExecution"], json.dumps(body), context=claims(SUB, "alice")).output)
    assert sync["name"] == REQUEST_ID
    job = json.loads(velocity.render(request_templates["StartExecution"], json.dumps(body), context=claims(SUB, "alice")).output)
    assert job["name"] == f"{REQUEST_ID}-n{count}"  # a request without num_images plans Prepare's default


# -- answer of POST /text2image/jobs: 202 with where the results will be -------------------------


@pytest.mark.parametrize("arn", [express_arn, standard_arn], ids=["express", "standard"])
@pytest.mark.parametrize("count", [1, DEFAULT_NUM_IMAGES, MAX_NUM_IMAGES])
def test_a_started_job_answers_202_with_the_local_gateways_answer(
    velocity: Velocity, request_templates: dict[str, str], methods: dict[str, dict[str, Any]], arn: Any, count: int
) -> None:
    body = {"text": "a cat", "num_images": count}
    name = json.loads(velocity.render(request_templates["StartExecution"], json.dumps(body), context=claims(SUB, "alice")).output)["name"]
    response = started(methods, "StartExecution")
    execution = {"executionArn": arn(name), "startDate": 1.7e9}
    rendered = velocity.render(response["ResponseTemplates"][JSON], json.dumps(execution), stage_variables={"publicBaseUrl": BASE})
    assert answered_status(methods["StartExecution"], response, rendered) == 202
    assert json.loads(rendered.output) == job_answer(BASE, name, count)


# -- answer of POST /text2image: the run's outcome ----------------------------------------------


def sync_answer(velocity: Velocity, methods: dict[str, dict[str, Any]], execution: dict[str, Any]) -> tuple[int, Any]:
    response = started(methods, "StartSyncExecution")
    rendered = velocity.render(response["ResponseTemplates"][JSON], json.dumps(execution))
    return answered_status(methods["StartSyncExecution"], response, rendered), json.loads(rendered.output)


def lambda_cause(error_body: dict[str, Any], error_type: str) -> str:
    """A Lambda error's cause as Step Functions reports it."""
    return json.dumps({"errorMessage": json.dumps(error_body), "errorType": error_type, "requestId": "5d3c-1a", "stackTrace": ['  File "x.py"']})


@pytest.mark.parametrize("text", TRICKY)
def test_a_succeeded_run_answers_200_with_its_output(velocity: Velocity, methods: dict[str, dict[str, Any]], text: str) -> None:
    output = {
        "statusCode": 200,
        "body": json.dumps([f"{BASE}/images/r/0.jpeg"]),
        "time": 1.5,
        "request_id": "r",
        "request": {"text": text},
        "images": [],
        "errors": [{"index": 1, "message": text}],
    }
    assert sync_answer(velocity, methods, {"status": "SUCCEEDED", "output": json.dumps(output)}) == (200, output)


@pytest.mark.parametrize(("error", "status"), sorted(ERROR_STATUS.items()))
@pytest.mark.parametrize("text", TRICKY)
def test_named_errors_answer_their_status_with_the_body_they_carry(
    velocity: Velocity, methods: dict[str, dict[str, Any]], error: str, status: int, text: str
) -> None:
    body = {"error": error, "message": f"text: {text}", "field": "text", "errors": [{"index": 0, "message": text}]}
    execution = {"status": "FAILED", "error": error, "cause": lambda_cause(body, error)}
    assert sync_answer(velocity, methods, execution) == (status, body) == execution_error_answer(execution)


def test_a_refused_quota_answers_429_with_its_body_and_when_to_retry(velocity: Velocity, methods: dict[str, dict[str, Any]]) -> None:
    """Prepare's QuotaExceeded (docs/design.md, "Quota"): 429, the body it carries, and Retry-After
    from its retry_after, as the local gateway answers it. The header is set by the template
    ($context.responseOverride.header.Retry-After, one name in Velocity 1.7) and declared on the
    route's 429 method response."""
    body = {
        "error": "QuotaExceeded",
        "message": "daily quota of 200 images: 196 used, 8 asked; resets at 2026-11-27T00:00:00Z",
        "resets_at": "2026-11-27T00:00:00Z",
        "retry_after": 3600,
    }
    execution = {"status": "FAILED", "error": "QuotaExceeded", "cause": lambda_cause(body, "QuotaExceeded")}
    response = started(methods, "StartSyncExecution")
    rendered = velocity.render(response["ResponseTemplates"][JSON], json.dumps(execution))
    assert (answered_status(methods["StartSyncExecution"], response, rendered), json.loads(rendered.output)) == (429, body)
    assert rendered.headers == {"Retry-After": "3600"}
    (declared,) = [r for r in methods["StartSyncExecution"]["MethodResponses"] if r["StatusCode"] == "429"]
    assert declared["ResponseParameters"] == {"method.response.header.Retry-After": False}


def test_cold_endpoints_answer_503_warming_up_with_when_to_retry(velocity: Velocity, methods: dict[str, dict[str, Any]]) -> None:
    """Collect's WarmingUp (docs/design.md, "Scale to zero"): 503, the body it carries and
    Retry-After from its retry_after, declared on the route's 503 method response; as the local
    gateway answers it."""
    body = {
        "error": "WarmingUp",
        "message": "the GPUs are starting (sd-1, sd-2 had scaled to zero): try again in about 420 s",
        "request_id": REQUEST_ID,
        "errors": [{"index": 0, "endpoint": "sd-1", "error": "EndpointCold", "message": "Inference Component has no capacity"}],
        "retry_after": 420,
    }
    execution = {"status": "FAILED", "error": "WarmingUp", "cause": lambda_cause(body, "WarmingUp")}
    response = started(methods, "StartSyncExecution")
    rendered = velocity.render(response["ResponseTemplates"][JSON], json.dumps(execution))
    assert (answered_status(methods["StartSyncExecution"], response, rendered), json.loads(rendered.output)) == (503, body) == execution_error_answer(execution)
    assert rendered.headers == {"Retry-After": "420"} == retry_after(503, body)
    (declared,) = [r for r in methods["StartSyncExecution"]["MethodResponses"] if r["StatusCode"] == "503"]
    assert declared["ResponseParameters"] == {"method.response.header.Retry-After": False}


@pytest.mark.parametrize(
    "execution",
    [
        {"status": "TIMED_OUT"},
        {"status": "FAILED", "error": "States.Runtime", "cause": "An error occurred while executing the state 'Prepare'"},
        {"status": "FAILED", "error": "States.Timeout", "cause": ""},
        {"status": "FAILED", "error": "Lambda.ServiceException", "cause": lambda_cause({"x": "it's"}, "ServiceException")},
        {"status": "FAILED", "error": "Sandbox.Timedout", "cause": 'RequestId: 1 Error: Task timed out after 60.00 "seconds"'},
    ],
    ids=["timed-out", "runtime", "timeout", "lambda", "sandbox"],
)
def test_other_outcomes_answer_as_the_local_gateway_does(velocity: Velocity, methods: dict[str, dict[str, Any]], execution: dict[str, Any]) -> None:
    status, answer = execution_error_answer(execution)
    assert status in (500, 504)
    assert sync_answer(velocity, methods, execution) == (status, {**answer, "request_id": REQUEST_ID})


# -- the runner is API Gateway's engine, not a lenient stand-in ---------------------------------


def test_velocity_1_reads_a_dash_as_part_of_a_reference(velocity: Velocity) -> None:
    """Why the jobs route writes ${context.requestId}: Velocity 1.7 is the engine here."""
    assert velocity.render("$context.requestId-n3|${context.requestId}-n3").output == f"$context.requestId-n3|{REQUEST_ID}-n3"


def test_util_and_input_behave_as_api_gateway_documents(velocity: Velocity) -> None:
    body = json.dumps({"a": {"b": "it's 🌸"}, "n": 3, "list": [1, "x"]})
    template = (
        "$util.escapeJavaScript($input.path('$.a.b'))|$input.path('$.n')|$input.json('$.a')|$input.path('$.list').size()"
        "|$util.parseJson('{\"k\": [true]}').k.get(0)|$util.urlEncode('a b&é')|$util.urlDecode('a+b%26')"
        "|$util.base64Encode('é')|$util.base64Decode('w6k=')|$input.params('q')|#if(\"$!input.path('$.none')\" == \"\")absent#end"
    )
    rendered = velocity.render(template, body, params={"querystring": {"q": "1"}})
    assert rendered.output.split("|") == ["it\\'s \\uD83C\\uDF38", "3", '{"b":"it\'s 🌸"}', "2", "true", "a+b%26%C3%A9", "a b&", "w6k=", "é", "1", "absent"]
