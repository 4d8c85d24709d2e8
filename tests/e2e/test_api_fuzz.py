"""The API fuzzed by a tool nobody here wrote: schemathesis reads the API's OpenAPI document
(text2image/openapi.py, as the gateway serves it at /openapi.json) and sends what it derives
from it to the local stack: the document's example, then its coverage phase (each keyword's
boundaries, one past them, wrong types, missing and extra fields, other content types, other
methods) and its fuzzing phase, positive and negative data alike; every answer goes through all
of schemathesis's checks (status documented, body and headers as documented, JSON as declared,
no 5xx, valid data accepted, invalid data refused).

One check is replaced, not dropped: ``unsupported_method`` expects RFC 9110's 405 for a method
the document does not declare. The deployed stack cannot give it: CloudFront refuses the methods
it does not forward (TRACE, QUERY...) with 403 before any origin, and API Gateway answers any
other undeclared method through MISSING_AUTHENTICATION_TOKEN, which the stack maps to a 404. The
local gateway answers as AWS does, and ``undeclared_method_answered_as_deployed`` holds it to that.

The session stack throttles at 1000/s: schemathesis's checks would read a 429 as valid data
refused, and when the local bucket runs dry depends on this machine's speed. The throttled
answer is checked against the document on its own, below, with the other answers fuzzing cannot
reach (502, 504)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from schemathesis.checks import CheckFunction
from schemathesis.config import SchemathesisConfig
from schemathesis.generation.meta import CoveragePhaseData, CoverageScenario
from schemathesis.specs.openapi import checks as openapi_checks
from support import http

from text2image.local.gateway import Gateway, GatewayConfig
from text2image.local.stack import LocalStack, edge_validator
from text2image.openapi import CSV, JSONL, document, document_bytes
from text2image.routes import DISALLOWED_METHOD_STATUS, UNDECLARED_ROUTE_STATUS

# Fuzzing examples per route (the coverage phase adds its own cases, about 120 per route): with the
# preview model every valid request is a whole run, so this bounds the test's time (~40 s here).
FUZZING_EXAMPLES = 50
CONFIG = SchemathesisConfig.from_dict(
    {
        "seed": 20261126,  # the same cases on every run; a finding reproduces with the curl line it prints
        "generation": {"mode": "all", "max-examples": FUZZING_EXAMPLES, "database": "none"},
        "phases": {"examples": {"enabled": True}, "coverage": {"enabled": True}, "fuzzing": {"enabled": True}},
        "checks": {"unsupported_method": {"enabled": False}},  # replaced: see the module's docstring
    }
)
schema = schemathesis.openapi.from_dict(document(), config=CONFIG)


@schemathesis.serializer(JSONL, CSV)
def batch_file(ctx: Any, value: Any) -> bytes:
    """A batch file is text: a generated string as its UTF-8 bytes (lone surrogates kept, for the
    function's check to refuse); any other value, negative data of another type, as its JSON."""
    return value.encode("utf-8", "surrogatepass") if isinstance(value, str) else json.dumps(value).encode()


DRAIN_SECONDS = 60.0


def undeclared_method_answered_as_deployed(ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case[Any]) -> bool | None:
    """A method the document does not declare gets what the deployed edge answers, as JSON:
    CloudFront's 403 for a method it does not forward, else API Gateway's undeclared route."""
    phase = case.meta.phase.data if case.meta else None
    if not isinstance(phase, CoveragePhaseData) or phase.scenario != CoverageScenario.UNSPECIFIED_HTTP_METHOD:
        return None
    assert response.status_code in (DISALLOWED_METHOD_STATUS, UNDECLARED_ROUTE_STATUS), f"{case.method} {case.path}: {response.status_code}"
    body = json.loads(response.content)
    assert set(body) == {"error", "message"}, body
    return True


@pytest.fixture(scope="module")
def drained_stack(stack: LocalStack) -> Iterator[LocalStack]:
    """The session stack with no faults (a valid request must be able to succeed); afterwards,
    every run the jobs route started has ended, so that no image of this module is still being
    made when the next test counts endpoint calls."""
    stack.endpoints.clear_faults()
    yield stack
    # A batch first (its lines are runs of the request workflow), then the requests.
    for machine in (stack.aws.batch_state_machine_arn, stack.aws.state_machine_arn):
        pages = stack.aws.sfn.get_paginator("list_executions").paginate(stateMachineArn=machine, statusFilter="RUNNING")
        for arn in [execution["executionArn"] for page in pages for execution in page["executions"]]:
            assert stack.aws.wait(arn, DRAIN_SECONDS), f"{arn} still running"


@schema.parametrize()
def test_the_api_as_documented(case: schemathesis.Case[Any], drained_stack: LocalStack) -> None:
    # A batch file is a string to a JSON Schema: whether its lines are requests is the file format's
    # rule, which no schema of a string states, so a generated string is not data the API must take.
    # Every answer to it is still checked against the document (a 400 naming the lines).
    excluded: list[CheckFunction] = [openapi_checks.positive_data_acceptance] if case.media_type in (JSONL, CSV) else []
    case.call_and_validate(base_url=drained_stack.gateway.url, additional_checks=[undeclared_method_answered_as_deployed], excluded_checks=excluded)


def test_the_gateway_serves_the_document(stack: LocalStack) -> None:
    status, headers, body = http("GET", f"{stack.gateway.url}/openapi.json", content_type=None)
    assert (status, headers["Content-Type"], body) == (200, "application/json", document_bytes())


def gateway(stack: LocalStack, config: GatewayConfig) -> Gateway:
    return Gateway(stack.aws, edge_validator(), config, port=0, hooks_url=stack.endpoints.url).start()


def sync_case(body: dict[str, Any]) -> schemathesis.Case[Any]:
    return schema["/text2image"]["POST"].Case(body=body, media_type="application/json")


# The checks of an answer's form: documented status, content type, headers and body. (A case
# made by hand is neither positive nor negative data; a 5xx is what these tests ask for.)
CONFORMANCE: list[CheckFunction] = [
    openapi_checks.status_code_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_headers_conformance,
    openapi_checks.response_schema_conformance,
]


def test_a_throttled_request_is_answered_as_documented(clean_stack: LocalStack) -> None:
    throttled = gateway(clean_stack, GatewayConfig(throttle_rate=0.01, throttle_burst=1))
    try:
        case = sync_case({"text": "a", "width": 7})
        assert case.call_and_validate(base_url=throttled.url, checks=CONFORMANCE).status_code == 400  # spends the one token
        response = case.call_and_validate(base_url=throttled.url, checks=CONFORMANCE)
    finally:
        throttled.stop()
    assert response.status_code == 429 and int(response.headers["retry-after"][0]) >= 1


def test_a_run_that_made_no_image_is_answered_as_documented(clean_stack: LocalStack) -> None:
    for name in clean_stack.config.endpoint_names:
        clean_stack.endpoints.set_fault(name, "error")
    try:
        response = sync_case({"text": "none", "num_images": 2}).call_and_validate(base_url=clean_stack.gateway.url, checks=CONFORMANCE)
    finally:
        clean_stack.endpoints.clear_faults()
    assert response.status_code == 502


def test_a_run_past_the_api_timeout_is_answered_as_documented(drained_stack: LocalStack) -> None:
    """Every endpoint holds each call for its whole invocation limit ("slow"), so no run can end
    before that limit: a gateway waiting a quarter of it answers 504 whatever this machine's speed.
    The run goes on after the answer; the module's fixture waits for it to end."""
    for name in drained_stack.config.endpoint_names:
        drained_stack.endpoints.set_fault(name, "slow")
    sync_timeout = drained_stack.config.invocation_limit / 4
    impatient = gateway(drained_stack, GatewayConfig(sync_timeout=sync_timeout, throttle_rate=1000, throttle_burst=1000))
    try:
        response = sync_case({"text": "slow", "num_images": 1}).call_and_validate(base_url=impatient.url, checks=CONFORMANCE)
    finally:
        impatient.stop()
        drained_stack.endpoints.clear_faults()
    assert response.status_code == 504
