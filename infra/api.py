"""REST API: POST /text2image -> StartSyncExecution and POST /text2image/jobs -> StartExecution
on the Express workflow, guarded by the one JSON Schema, answering with the status mapping of
docs/design.md ("Errors", "The edge"); API Gateway's own errors in the same {"error", "message"} shape."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aws_cdk import RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.nag import acknowledge
from text2image.paths import REQUEST_SCHEMA
from text2image.routes import (
    API_GATEWAY_TIMEOUT_SECONDS,
    SYNC_TIMEOUT_ERROR,
    SYNC_TIMEOUT_MESSAGE,
    SYNC_TIMEOUT_STATUS,
    UNDECLARED_ROUTE_ERROR,
    UNDECLARED_ROUTE_MESSAGE,
    UNDECLARED_ROUTE_STATUS,
    UNSUPPORTED_MEDIA_TYPE_MESSAGE,
    UNSUPPORTED_MEDIA_TYPE_STATUS,
)

TEMPLATES = Path(__file__).parent / "templates"
REQUEST_TEMPLATE = TEMPLATES / "start_execution.request.vtl"
SYNC_RESPONSE_TEMPLATE = TEMPLATES / "start_sync_execution.response.vtl"
JOB_RESPONSE_TEMPLATE = TEMPLATES / "start_execution.response.vtl"
# The sync route names its execution with API Gateway's request id (a UUID: safe inside a JSON
# string), so its 504 can tell the client where the run's manifest will be. (A jobs call cannot
# time out in practice: StartExecution answers at once.)
REQUEST_ID_VARIABLE = "$context.requestId"
SYNC_EXECUTION_NAME = REQUEST_ID_VARIABLE
# ${...}: Velocity 1.x reads "-" as part of an identifier, so "$context.requestId-n..." would be
# the undefined reference "requestId-n" and render literally (StartExecution refuses a "$").
JOB_EXECUTION_NAME = "${context.requestId}-n$numImages"
# What a response template sets as the HTTP status: each needs a method response.
_STATUS_OVERRIDE = re.compile(r"#set\(\s*\$context\.responseOverride\.status\s*=\s*(\d{3})\s*\)")


def request_template(state_machine_arn: str, execution_name: str, default_num_images: int) -> str:
    return (
        REQUEST_TEMPLATE.read_text(encoding="utf-8")
        .replace("@@STATE_MACHINE_ARN@@", state_machine_arn)
        .replace("@@EXECUTION_NAME@@", execution_name)
        .replace("@@DEFAULT_NUM_IMAGES@@", str(default_num_images))
    )


def override_statuses(template: str) -> list[str]:
    return _STATUS_OVERRIDE.findall(template)


JSON = "application/json"
STAGE = "prod"


def error_template(error: str, message: str, **extra: str) -> dict[str, str]:
    """A gateway response body in the API's error shape. Gateway responses get plain text
    substitution, not VTL, and nothing is escaped: ``$context.error.validationErrorString``
    holds '"' (``[object has missing required properties (["text"])]``) and
    ``$context.error.messageString`` is the message in quotes, with whatever quotes or line
    breaks the message has. So a message may only use ``$context.error.responseType``
    (a response type name: capitals and "_") or ``$context.requestId``, which stay valid inside
    a JSON string."""
    return {JSON: json.dumps({"error": error, "message": message, **extra})}


# Step Functions refused the call itself: the answer of both routes.
_START_REFUSED = apigw.IntegrationResponse(
    status_code="500",
    selection_pattern=r"[45]\d{2}",
    response_templates={JSON: json.dumps({"error": "InternalError", "message": "the workflow could not be started"})},
)
# Errors API Gateway answers itself, in the same {"error", "message"} shape, by gateway response
# name: (type, status, error, message). Fixed messages (see error_template): the details API
# Gateway has cannot be put into JSON safely.
GATEWAY_ERRORS: dict[str, tuple[apigw.ResponseType, str | None, str, str]] = {
    "BadRequestBody": (
        apigw.ResponseType.BAD_REQUEST_BODY,
        "400",
        "ValidationError",
        "the body does not match the request schema (see /openapi.json for the fields and their limits)",
    ),
    "UnsupportedMediaType": (
        apigw.ResponseType.UNSUPPORTED_MEDIA_TYPE,
        str(UNSUPPORTED_MEDIA_TYPE_STATUS),
        "ValidationError",
        UNSUPPORTED_MEDIA_TYPE_MESSAGE,
    ),
    "Throttled": (apigw.ResponseType.THROTTLED, "429", "TooManyRequests", "rate limit exceeded; retry later"),
    "QuotaExceeded": (apigw.ResponseType.QUOTA_EXCEEDED, "429", "TooManyRequests", "quota exceeded; retry later"),
    "IntegrationTimeout": (
        apigw.ResponseType.INTEGRATION_TIMEOUT,
        str(SYNC_TIMEOUT_STATUS),
        SYNC_TIMEOUT_ERROR,
        SYNC_TIMEOUT_MESSAGE.format(seconds=API_GATEWAY_TIMEOUT_SECONDS),
    ),
    # A method or path the API does not declare: 404, as the local gateway answers it.
    "UndeclaredRoute": (
        apigw.ResponseType.MISSING_AUTHENTICATION_TOKEN,
        str(UNDECLARED_ROUTE_STATUS),
        UNDECLARED_ROUTE_ERROR,
        UNDECLARED_ROUTE_MESSAGE,
    ),
    "Default4xx": (apigw.ResponseType.DEFAULT_4_XX, None, "BadRequest", "API Gateway refused the request ($context.error.responseType)"),
    "Default5xx": (apigw.ResponseType.DEFAULT_5_XX, None, "InternalError", "API Gateway failed ($context.error.responseType)"),
}


@dataclass(frozen=True)
class _RouteParts:
    """What both POST routes share: one role, one request model and validator, one request template's values."""

    role: iam.IRole
    validator: apigw.IRequestValidator
    model: apigw.IModel
    state_machine_arn: str
    default_num_images: int
    max_num_images: int
    api_key_required: bool


class Api(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        state_machine: sfn.IStateMachine,
        throttle_rate: float,
        throttle_burst: int,
        api_key: bool,
        default_num_images: int,
        logging: bool,
    ) -> None:
        """``logging``: execution logs (errors) and access logs, which need the account's API
        Gateway CloudWatch role; without it a deploy fails ("CloudWatch Logs role ARN must be
        set in account settings to enable logging")."""
        super().__init__(scope, construct_id)
        self.api = self._build_rest_api(throttle_rate, throttle_burst, logging)
        parts = self._build_route_parts(state_machine, default_num_images, api_key)
        sync = self.api.root.add_resource("text2image")
        self._build_route(parts, sync, "StartSyncExecution", SYNC_EXECUTION_NAME, SYNC_RESPONSE_TEMPLATE, "200")
        self._build_route(parts, sync.add_resource("jobs"), "StartExecution", JOB_EXECUTION_NAME, JOB_RESPONSE_TEMPLATE, "202")
        self._build_gateway_responses()
        self.api_key_id = self._build_api_key(throttle_rate, throttle_burst) if api_key else None
        self._acknowledge_findings(logging)

    def _build_rest_api(self, throttle_rate: float, throttle_burst: int, logging: bool) -> apigw.RestApi:
        return apigw.RestApi(
            self,
            "RestApi",
            description="text2image: POST /text2image (synchronous) and /text2image/jobs (asynchronous) start the Express workflow",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            # Logging needs the account's API Gateway CloudWatch role (one per account and region,
            # shared by every REST API there): set once outside this stack (README, Deploy), never
            # owned here, so that deleting this stack cannot break the logging of other APIs.
            cloud_watch_role=False,
            deploy_options=apigw.StageOptions(
                stage_name=STAGE,
                throttling_rate_limit=throttle_rate,
                throttling_burst_limit=throttle_burst,
                tracing_enabled=True,
                data_trace_enabled=False,  # request bodies hold prompts
                metrics_enabled=True,
                **(self._logging_options() if logging else {"logging_level": apigw.MethodLoggingLevel.OFF}),
            ),
        )

    def _build_route_parts(self, state_machine: sfn.IStateMachine, default_num_images: int, api_key: bool) -> _RouteParts:
        role = self._build_start_execution_role(state_machine)
        schema = json.loads(REQUEST_SCHEMA.read_text(encoding="utf-8"))
        model = apigw.CfnModel(self, "RequestModel", rest_api_id=self.api.rest_api_id, content_type=JSON, name="Text2ImageRequest", schema=schema)
        return _RouteParts(
            role=role,
            validator=self.api.add_request_validator("BodyValidator", validate_request_body=True, validate_request_parameters=True),
            model=apigw.Model.from_model_name(self, "RequestModelRef", model.ref),
            state_machine_arn=state_machine.state_machine_arn,
            default_num_images=default_num_images,
            # The jobs answer lists one URL per planned image, up to the schema's limit.
            max_num_images=int(schema["properties"]["num_images"]["maximum"]),
            api_key_required=api_key,
        )

    def _build_start_execution_role(self, state_machine: sfn.IStateMachine) -> iam.Role:
        role = iam.Role(self, "StartExecutionRole", assumed_by=iam.ServicePrincipal("apigateway.amazonaws.com"))
        role.add_to_policy(iam.PolicyStatement(actions=["states:StartSyncExecution", "states:StartExecution"], resources=[state_machine.state_machine_arn]))
        return role

    def _build_route(self, parts: _RouteParts, resource: apigw.IResource, action: str, execution_name: str, answer: Path, success: str) -> apigw.Method:
        """One POST route: the same model, validator, request template and role for both.
        ``success`` is the status of a started call (the default integration response).
        Every status an integration response or the answer template can give has its method
        response: API Gateway answers 500 for an integration response without one."""
        answer_template = answer.read_text(encoding="utf-8").replace("@@MAX_IMAGE_INDEX@@", str(parts.max_num_images - 1))
        integration_responses = [apigw.IntegrationResponse(status_code=success, response_templates={JSON: answer_template}), _START_REFUSED]
        integration = apigw.AwsIntegration(
            service="states",
            action=action,
            integration_http_method="POST",
            options=apigw.IntegrationOptions(
                credentials_role=parts.role,
                passthrough_behavior=apigw.PassthroughBehavior.NEVER,  # only JSON reaches the workflow
                request_templates={JSON: request_template(parts.state_machine_arn, execution_name, parts.default_num_images)},
                integration_responses=integration_responses,
            ),
        )
        statuses = {response.status_code for response in integration_responses} | set(override_statuses(answer_template))
        return resource.add_method(
            "POST",
            integration,
            request_validator=parts.validator,
            request_models={JSON: parts.model},
            method_responses=[apigw.MethodResponse(status_code=code) for code in sorted(statuses)],
            api_key_required=parts.api_key_required,
        )

    def _build_gateway_responses(self) -> None:
        for name, (response_type, status, error, message) in GATEWAY_ERRORS.items():
            headers = {"Retry-After": "'1'"} if error == "TooManyRequests" else None
            extra = {"request_id": REQUEST_ID_VARIABLE} if name == "IntegrationTimeout" else {}
            templates = error_template(error, message, **extra)
            self.api.add_gateway_response(name, type=response_type, status_code=status, templates=templates, response_headers=headers)

    def _build_api_key(self, throttle_rate: float, throttle_burst: int) -> str:
        """A key and a usage plan at the stage's limits; the key's id (its value stays in API Gateway)."""
        key = self.api.add_api_key("ApiKey", description="text2image clients")
        plan = self.api.add_usage_plan("UsagePlan", throttle=apigw.ThrottleSettings(rate_limit=throttle_rate, burst_limit=throttle_burst))
        plan.add_api_key(key)
        plan.add_api_stage(stage=self.api.deployment_stage)
        return key.key_id

    def _acknowledge_findings(self, logging: bool) -> None:
        if not logging:
            reason = (
                "API Gateway logging is off by choice (text2image:apiLogging=false): the account has no API Gateway CloudWatch role, "
                "and this stack does not own that account-wide setting."
            )
            acknowledge(self.api, "AwsSolutions-APIG1", reason)
            acknowledge(self.api, "AwsSolutions-APIG6", reason)
        acknowledge(
            self.api,
            "AwsSolutions-APIG3",
            "No WAF: reached through CloudFront, with stage throttling and strict schema validation; add a web ACL if abuse appears.",
        )
        acknowledge(
            self.api,
            "AwsSolutions-APIG4",
            "A public image generator like the original demo; an API key + usage plan is one context flag away (text2image:apiKey).",
        )
        acknowledge(self.api, "AwsSolutions-COG4", "No user pool: see APIG4; callers are anonymous web clients.")

    def _logging_options(self) -> dict[str, Any]:
        access_logs = logs.LogGroup(self, "AccessLogs", retention=logs.RetentionDays.ONE_MONTH, removal_policy=RemovalPolicy.DESTROY)
        return {
            "logging_level": apigw.MethodLoggingLevel.ERROR,
            "access_log_destination": apigw.LogGroupLogDestination(access_logs),
            "access_log_format": apigw.AccessLogFormat.json_with_standard_fields(
                caller=False,
                http_method=True,
                ip=True,
                protocol=True,
                request_time=True,
                resource_path=True,
                response_length=True,
                status=True,
                user=False,
            ),
        }

    def set_public_base_url(self, url: str) -> None:
        stage = self.api.deployment_stage.node.default_child
        assert isinstance(stage, apigw.CfnStage)
        stage.add_property_override("Variables.publicBaseUrl", url)
