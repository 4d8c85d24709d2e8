"""What the deployed API answers besides the mapping templates (test_vtl.py): every integration
response has its method response, API Gateway's own errors stay JSON whatever their details
hold, and the stack leaves the account's API Gateway settings alone. On both synthesized stacks."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from text2image.routes import (
    API_GATEWAY_TIMEOUT_SECONDS,
    SYNC_TIMEOUT_ERROR,
    SYNC_TIMEOUT_MESSAGE,
    SYNC_TIMEOUT_STATUS,
    UNAUTHORIZED_ERROR,
    UNAUTHORIZED_MESSAGE,
    UNAUTHORIZED_STATUS,
    UNDECLARED_ROUTE_ERROR,
    UNDECLARED_ROUTE_MESSAGE,
    UNDECLARED_ROUTE_STATUS,
)

JSON = "application/json"


def test_every_integration_response_has_a_method_response(stack_methods: dict[str, dict[str, Any]]) -> None:
    """API Gateway answers 500 ("Output mapping refers to an invalid method response") for an
    integration response whose status has no method response."""
    assert set(stack_methods) == {"StartSyncExecution", "StartExecution"}
    for action, method in stack_methods.items():
        declared = {response["StatusCode"] for response in method["MethodResponses"]}
        for response in method["Integration"]["IntegrationResponses"]:
            assert response["StatusCode"] in declared, (action, response["StatusCode"], declared)


def test_a_started_job_is_202_and_a_refused_start_500(stack_methods: dict[str, dict[str, Any]]) -> None:
    responses = {r.get("SelectionPattern"): r["StatusCode"] for r in stack_methods["StartExecution"]["Integration"]["IntegrationResponses"]}
    assert responses == {None: "202", r"[45]\d{2}": "500"}
    assert [r["StatusCode"] for r in stack_methods["StartExecution"]["MethodResponses"]] == ["202", "500"]


# -- gateway responses --------------------------------------------------------------------------

# $context.error values as API Gateway fills them in: validation errors of the request model (as
# API Gateway words them: JSON Schema draft 4 validator messages), messages with quotes, backslashes
# and line breaks (INVALID_SIGNATURE's quotes the canonical request over several lines).
ERROR_MESSAGES = [
    "Invalid request body",
    "Unauthorized",
    "The incoming token has expired",
    "Missing Authentication Token",
    "Invalid key=value pair (missing equal-sign) in Authorization header: 'Bearer \"x\"'.",
    "The request signature we calculated does not match.\n\nThe Canonical String for this request should have been\n'POST\n/prod/text2image\n'",
    'back\\slash \\" and a tab\t',
]
VALIDATION_ERRORS = [
    '[object has missing required properties (["text"])]',
    '[instance type (string) does not match any allowed primitive type (allowed: ["integer"])]',
    '[instance value ("x\\"y") not found in enum (possible values: ["a","b"])]',
    '[ECMA 262 regex "^[a-z]+$" does not match input string "it\'s \\\\ \\"quoted\\""]',
]
RESPONSE_TYPES = [
    "ACCESS_DENIED",
    "BAD_REQUEST_BODY",
    "DEFAULT_4XX",
    "DEFAULT_5XX",
    "INVALID_API_KEY",
    "MISSING_AUTHENTICATION_TOKEN",
    "REQUEST_TOO_LARGE",
    "UNAUTHORIZED",
]
REQUEST_ID = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
_VARIABLE = re.compile(r"\$context\.[A-Za-z.]+[A-Za-z]|\$stageVariables\.[A-Za-z0-9_]+")


def substitute(template: str, values: dict[str, str]) -> str:
    """A gateway response body as API Gateway makes it: plain text substitution of the
    variables, no VTL and no escaping ("A GatewayResponse mapping template isn't processed by
    the Velocity Template Language (VTL) engine": x-amazon-apigateway-gateway-responses.
    responseTemplates). A variable the test does not know fails it."""
    return _VARIABLE.sub(lambda match: values[match.group(0)], template)


def error_values(message: str, validation: str, response_type: str) -> dict[str, str]:
    return {
        "$context.error.message": message,
        "$context.error.messageString": f'"{message}"',  # "the quoted value of $context.error.message"
        "$context.error.validationErrorString": validation,
        "$context.error.responseType": response_type,
        "$context.requestId": REQUEST_ID,
    }


def gateway_responses(resources: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["Properties"]["ResponseType"]: r["Properties"] for r in resources.values() if r["Type"] == "AWS::ApiGateway::GatewayResponse"}


@pytest.mark.parametrize("message", ERROR_MESSAGES)
@pytest.mark.parametrize("validation", VALIDATION_ERRORS)
def test_every_gateway_response_is_json_in_the_error_shape_whatever_the_error_holds(stack_resources: dict[str, Any], message: str, validation: str) -> None:
    responses = gateway_responses(stack_resources)
    assert len(responses) >= 8
    for response_type, response in responses.items():
        assert set(response["ResponseTemplates"]) == {JSON}, response_type
        for kind in RESPONSE_TYPES:
            body = substitute(response["ResponseTemplates"][JSON], error_values(message, validation, kind))
            try:
                answer = json.loads(body)
            except json.JSONDecodeError as exc:
                raise AssertionError(f"{response_type}: not JSON once substituted ({exc}):\n{body}") from None
            extra = {"request_id"} if response_type == "INTEGRATION_TIMEOUT" else set()
            assert set(answer) == {"error", "message"} | extra and all(isinstance(v, str) for v in answer.values()), (response_type, answer)


def test_the_statuses_api_gateway_answers_itself(stack_resources: dict[str, Any]) -> None:
    statuses = {kind: r.get("StatusCode") for kind, r in gateway_responses(stack_resources).items()}
    assert statuses == {
        "BAD_REQUEST_BODY": "400",
        "UNSUPPORTED_MEDIA_TYPE": "415",
        "THROTTLED": "429",
        "QUOTA_EXCEEDED": "429",
        "INTEGRATION_TIMEOUT": "504",
        "REQUEST_TOO_LARGE": "400",  # a body over 10 MB: a validation error of the body (test_batches_stack.py)
        "MISSING_AUTHENTICATION_TOKEN": str(UNDECLARED_ROUTE_STATUS),
        "UNAUTHORIZED": str(UNAUTHORIZED_STATUS),  # both stacks have sign-in
        "ACCESS_DENIED": str(UNAUTHORIZED_STATUS),
        "DEFAULT_4XX": None,  # each type's own status
        "DEFAULT_5XX": None,
    }


def test_a_caller_without_a_valid_id_token_is_told_to_sign_in_as_locally(stack_resources: dict[str, Any]) -> None:
    """The Cognito authorizer refuses a missing, malformed, expired or foreign token (and an
    access token) with UNAUTHORIZED: 401 in the API's shape, the local gateway's answer (routes.py)."""
    for kind in ("UNAUTHORIZED", "ACCESS_DENIED"):  # the authorizer's refusals read the same
        response = gateway_responses(stack_resources)[kind]
        body = substitute(response["ResponseTemplates"][JSON], error_values("Unauthorized", "", kind))
        assert (response["StatusCode"], json.loads(body)) == (str(UNAUTHORIZED_STATUS), {"error": UNAUTHORIZED_ERROR, "message": UNAUTHORIZED_MESSAGE})


def test_an_open_stack_has_no_sign_in_answer(open_resources: dict[str, Any]) -> None:
    assert not {"UNAUTHORIZED", "ACCESS_DENIED"} & set(gateway_responses(open_resources))


def test_an_undeclared_method_or_path_answers_as_the_local_gateway(stack_resources: dict[str, Any]) -> None:
    """API Gateway raises MISSING_AUTHENTICATION_TOKEN (403 by default) for a method or path the
    API does not declare; the stack answers it as text2image/routes.py says, as locally."""
    response = gateway_responses(stack_resources)["MISSING_AUTHENTICATION_TOKEN"]
    assert response["StatusCode"] == str(UNDECLARED_ROUTE_STATUS)
    body = substitute(response["ResponseTemplates"][JSON], error_values("Missing Authentication Token", "", "MISSING_AUTHENTICATION_TOKEN"))
    assert json.loads(body) == {"error": UNDECLARED_ROUTE_ERROR, "message": UNDECLARED_ROUTE_MESSAGE}


def test_a_sync_call_that_times_out_at_api_gateway_is_told_its_request_id_as_locally(stack_resources: dict[str, Any]) -> None:
    """The sync route's execution is named with API Gateway's request id: the 504 says where
    the run's manifest will be, as the local gateway's 504 does (the same message, routes.py)."""
    response = gateway_responses(stack_resources)["INTEGRATION_TIMEOUT"]
    body = json.loads(substitute(response["ResponseTemplates"][JSON], error_values("Endpoint request timed out", "", "INTEGRATION_TIMEOUT")))
    message = SYNC_TIMEOUT_MESSAGE.format(seconds=API_GATEWAY_TIMEOUT_SECONDS)
    assert (response["StatusCode"], body) == (str(SYNC_TIMEOUT_STATUS), {"error": SYNC_TIMEOUT_ERROR, "message": message, "request_id": REQUEST_ID})


# -- account settings ---------------------------------------------------------------------------


def test_the_stack_does_not_own_the_accounts_api_gateway_logging_role(stack_resources: dict[str, Any]) -> None:
    """The API Gateway CloudWatch role is one per account and region, shared by every REST API:
    a stack that owns it (CDK's cloudWatchRole) takes it away from all of them when deleted.
    Logging stays on; it needs that role set once for the account (README, Deploy)."""
    assert not [name for name, r in stack_resources.items() if r["Type"] == "AWS::ApiGateway::Account"]
    managed = [arn for r in stack_resources.values() if r["Type"] == "AWS::IAM::Role" for arn in r["Properties"].get("ManagedPolicyArns", [])]
    assert "AmazonAPIGatewayPushToCloudWatchLogs" not in json.dumps(managed)
    (stage,) = [r["Properties"] for r in stack_resources.values() if r["Type"] == "AWS::ApiGateway::Stage"]
    assert "DestinationArn" in stage["AccessLogSetting"] and stage["MethodSettings"][0]["LoggingLevel"] == "ERROR"


def test_api_logging_can_be_turned_off_for_an_account_without_the_role(tmp_path: Any) -> None:
    """A fresh account has no API Gateway CloudWatch role, and a stage that logs cannot deploy
    there: text2image:apiLogging=false deploys without API Gateway logs (cdk-nag acknowledged)."""
    from aws_cdk import App, Validations
    from cdk_nag import AwsSolutionsChecks

    from infra.config import StackConfig
    from infra.stack import Text2ImageStack
    from text2image.deploy_settings import cdk_context

    app = App(outdir=str(tmp_path), context=cdk_context() | {"text2image:apiLogging": "false"})
    stack = Text2ImageStack(app, "Text2ImageNoApiLogs", config=StackConfig.from_context(app.node))
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    resources = app.synth().get_stack_by_name(stack.stack_name).template["Resources"]  # raises on an unacknowledged finding
    (stage,) = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::ApiGateway::Stage"]
    assert "AccessLogSetting" not in stage and stage["MethodSettings"][0]["LoggingLevel"] == "OFF"
    assert not [name for name in resources if name.startswith("ApiAccessLogs")]
