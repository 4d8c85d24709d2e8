"""REST API: POST /text2image -> StartSyncExecution and POST /text2image/jobs -> StartExecution
on the Express workflow, guarded by the one JSON Schema and, with sign-in, by API Gateway's
Cognito authorizer on the routes of ``SIGNED_IN_ROUTES``, answering with the status mapping of
docs/design.md ("Errors", "The edge"); API Gateway's own errors in the same {"error", "message"} shape.
Routes answered by a function of their own: POST /text2image/batches (a file of requests, always),
and where the stack has them GET /text2image/history (sign-in) and POST /text2image/warm (endpoints
that scale to zero)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aws_cdk import Duration, Fn, RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.nag import acknowledge
from text2image.paths import REQUEST_SCHEMA
from text2image.routes import (
    API_GATEWAY_TIMEOUT_SECONDS,
    API_ROUTES,
    BATCHES_ROUTE,
    HISTORY_ROUTE,
    JOBS_ROUTE,
    PREFLIGHT_STATUS,
    REQUEST_TOO_LARGE_MESSAGE,
    SCALE_TO_ZERO_ONLY_ROUTES,
    SIGN_IN_ONLY_ROUTES,
    SIGNED_IN_ROUTES,
    SYNC_ROUTE,
    SYNC_TIMEOUT_ERROR,
    SYNC_TIMEOUT_MESSAGE,
    SYNC_TIMEOUT_STATUS,
    UNAUTHORIZED_ERROR,
    UNAUTHORIZED_MESSAGE,
    UNAUTHORIZED_STATUS,
    UNDECLARED_ROUTE_ERROR,
    UNDECLARED_ROUTE_MESSAGE,
    UNDECLARED_ROUTE_STATUS,
    UNSUPPORTED_MEDIA_TYPE_MESSAGE,
    UNSUPPORTED_MEDIA_TYPE_STATUS,
    WARM_ROUTE,
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
# What a response template sets as a header (``Retry-After`` of a refused quota): each is declared
# on the method responses it can go out with.
_HEADER_OVERRIDE = re.compile(r"#set\(\s*\$context\.responseOverride\.header\.([A-Za-z0-9-]+)\s*=")


def request_template(state_machine_arn: str, execution_name: str, default_num_images: int, signed_in: bool, sync: bool) -> str:
    """``signed_in``: the route is behind the Cognito authorizer, and the execution input names
    the caller beside the body; ``sync``: the sync route, whose input says so (docs/design.md,
    "Execution input")."""
    return (
        REQUEST_TEMPLATE.read_text(encoding="utf-8")
        .replace("@@STATE_MACHINE_ARN@@", state_machine_arn)
        .replace("@@EXECUTION_NAME@@", execution_name)
        .replace("@@DEFAULT_NUM_IMAGES@@", str(default_num_images))
        .replace("@@SIGNED_IN@@", "true" if signed_in else "false")
        .replace("@@SYNC@@", "true" if sync else "false")
    )


def override_statuses(template: str) -> list[str]:
    return _STATUS_OVERRIDE.findall(template)


def override_headers(template: str) -> list[str]:
    return _HEADER_OVERRIDE.findall(template)


JSON = "application/json"
STAGE = "prod"
# A batch file's media types: binary to API Gateway, so the submit function gets the file's exact
# bytes base64-encoded (functions/prepare/batch_input.py reads these two).
BATCH_MEDIA_TYPES = ["application/x-ndjson", "text/csv"]


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
    # A body past API Gateway's payload limit: the request's own fault, said as a validation error
    # of its body (by default a 413 in Default4xx's shape); a batch file that big goes through S3.
    "RequestTooLarge": (
        apigw.ResponseType.REQUEST_TOO_LARGE,
        "400",
        "ValidationError",
        REQUEST_TOO_LARGE_MESSAGE,
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


# A signed-in route called without a valid ID token (none, malformed, expired, badly signed, an
# access token, another pool's): the Cognito authorizer's UNAUTHORIZED, a 401 as the local
# gateway answers it. ACCESS_DENIED (403 by default: "access is denied by a custom or Amazon
# Cognito authorizer") answers the same, so that no refused token reads differently. Only on a
# stack with sign-in, where they can happen.
SIGN_IN_ERRORS: dict[str, tuple[apigw.ResponseType, str | None, str, str]] = {
    name: (response_type, str(UNAUTHORIZED_STATUS), UNAUTHORIZED_ERROR, UNAUTHORIZED_MESSAGE)
    for name, response_type in (("Unauthorized", apigw.ResponseType.UNAUTHORIZED), ("AccessDenied", apigw.ResponseType.ACCESS_DENIED))
}


def declared_routes(*, signed_in: bool, scales_to_zero: bool) -> list[tuple[str, str]]:
    """The routes the API declares: all but the sign-in-only ones (My runs) on an open stack, and
    but the scale-to-zero-only ones (warm) where the endpoints do not scale to zero."""
    return [route for route in API_ROUTES if (signed_in or route not in SIGN_IN_ONLY_ROUTES) and (scales_to_zero or route not in SCALE_TO_ZERO_ONLY_ROUTES)]


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
    authorizer: apigw.IAuthorizer | None  # the Cognito authorizer of a stack with sign-in

    def signed_in(self, route: tuple[str, str]) -> bool:
        """Whether ``route`` takes only signed-in callers here: a stack with sign-in, a signed-in route."""
        return self.authorizer is not None and route in SIGNED_IN_ROUTES


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
        user_pool: cognito.IUserPool | None,
        client_id: str | None,
        history: lambda_.IFunction | None,
        warm: lambda_.IFunction | None,
        batches: lambda_.IFunction,
        preflight: bool,
    ) -> None:
        """``logging``: execution logs (errors) and access logs, which need the account's API
        Gateway CloudWatch role; without it a deploy fails ("CloudWatch Logs role ARN must be
        set in account settings to enable logging"). ``user_pool``: sign-in (None: an open API),
        with ``history``, the function of the signed-in callers' GET /text2image/history.
        ``warm``: the function of POST /text2image/warm, where the endpoints scale to zero (None
        elsewhere: no route). ``batches``: the submit function of POST /text2image/batches.
        ``preflight``: the API's paths answer OPTIONS (pages on other origins; CloudFront adds
        the CORS headers, infra/cdn.py)."""
        super().__init__(scope, construct_id)
        assert (user_pool is None) == (history is None), "the history route exists exactly where sign-in does"
        self.api = self._build_rest_api(throttle_rate, throttle_burst, logging)
        authorizer = self._build_authorizer(user_pool, client_id) if user_pool is not None and client_id is not None else None
        parts = self._build_route_parts(state_machine, default_num_images, api_key, authorizer)
        self._build_route(parts, SYNC_ROUTE, "StartSyncExecution", SYNC_EXECUTION_NAME, SYNC_RESPONSE_TEMPLATE, "200")
        self._build_route(parts, JOBS_ROUTE, "StartExecution", JOB_EXECUTION_NAME, JOB_RESPONSE_TEMPLATE, "202")
        if history is not None:
            self._build_function_route(parts, HISTORY_ROUTE, history)
        if warm is not None:
            self._build_function_route(parts, WARM_ROUTE, warm)
        self._build_function_route(parts, BATCHES_ROUTE, batches)
        if preflight:
            self._build_preflights(declared_routes(signed_in=authorizer is not None, scales_to_zero=warm is not None))
        self._build_gateway_responses(signed_in=authorizer is not None)
        self.api_key_id = self._build_api_key(throttle_rate, throttle_burst) if api_key else None
        self._acknowledge_findings(logging, signed_in=authorizer is not None)

    def _build_rest_api(self, throttle_rate: float, throttle_burst: int, logging: bool) -> apigw.RestApi:
        return apigw.RestApi(
            self,
            "RestApi",
            description="text2image: POST /text2image (synchronous) and /text2image/jobs (asynchronous) start the Express workflow",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            binary_media_types=BATCH_MEDIA_TYPES,
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

    def _build_authorizer(self, user_pool: cognito.IUserPool, client_id: str) -> apigw.CognitoUserPoolsAuthorizer:
        """Cognito's ID tokens in the Authorization header (no OAuth scopes on the methods: API
        Gateway then takes an ID token, not an access token). No result cache: the check is
        API Gateway's own (no Lambda to spare), and a cached answer would outlive a token's expiry.
        Only the stack's own client's tokens: for a COGNITO_USER_POOLS authorizer API Gateway
        matches the token's ``aud`` against IdentityValidationExpression (API reference,
        Authorizer.identityValidationExpression); without it any client of the pool would do."""
        authorizer = apigw.CognitoUserPoolsAuthorizer(self, "Authorizer", cognito_user_pools=[user_pool], results_cache_ttl=Duration.seconds(0))
        resource = authorizer.node.default_child
        assert isinstance(resource, apigw.CfnAuthorizer)
        resource.identity_validation_expression = Fn.join("", ["^", client_id, "$"])  # a client id is letters and digits
        return authorizer

    def _build_route_parts(self, state_machine: sfn.IStateMachine, default_num_images: int, api_key: bool, authorizer: apigw.IAuthorizer | None) -> _RouteParts:
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
            authorizer=authorizer,
        )

    def _build_start_execution_role(self, state_machine: sfn.IStateMachine) -> iam.Role:
        role = iam.Role(self, "StartExecutionRole", assumed_by=iam.ServicePrincipal("apigateway.amazonaws.com"))
        role.add_to_policy(iam.PolicyStatement(actions=["states:StartSyncExecution", "states:StartExecution"], resources=[state_machine.state_machine_arn]))
        return role

    def _authorization(self, parts: _RouteParts, route: tuple[str, str]) -> dict[str, Any]:
        """A method's options for ``route``: the Cognito authorizer where the stack has sign-in
        and the route is a signed-in one; the API key where the stack requires one."""
        signed_in = parts.signed_in(route)
        return {
            "api_key_required": parts.api_key_required,
            "authorization_type": apigw.AuthorizationType.COGNITO if signed_in else None,
            "authorizer": parts.authorizer if signed_in else None,
        }

    def _build_route(self, parts: _RouteParts, route: tuple[str, str], action: str, execution_name: str, answer: Path, success: str) -> apigw.Method:
        """One POST route: the same model, validator, request template and role for both, and
        the authorizer where the route is a signed-in one. ``success`` is the status of a
        started call (the default integration response). Every status an integration response
        or the answer template can give has its method response, with the headers the template
        may set: API Gateway answers 500 for an integration response without one."""
        method, path = route
        answer_template = answer.read_text(encoding="utf-8").replace("@@MAX_IMAGE_INDEX@@", str(parts.max_num_images - 1))
        integration_responses = [apigw.IntegrationResponse(status_code=success, response_templates={JSON: answer_template}), _START_REFUSED]
        integration = apigw.AwsIntegration(
            service="states",
            action=action,
            integration_http_method="POST",
            options=apigw.IntegrationOptions(
                credentials_role=parts.role,
                passthrough_behavior=apigw.PassthroughBehavior.NEVER,  # only JSON reaches the workflow
                request_templates={
                    JSON: request_template(parts.state_machine_arn, execution_name, parts.default_num_images, parts.signed_in(route), route == SYNC_ROUTE)
                },
                integration_responses=integration_responses,
            ),
        )
        statuses = {response.status_code for response in integration_responses} | set(override_statuses(answer_template))
        headers = {f"method.response.header.{name}": False for name in override_headers(answer_template)} or None
        return self.api.root.resource_for_path(path).add_method(
            method,
            integration,
            request_validator=parts.validator,
            request_models={JSON: parts.model},
            method_responses=[apigw.MethodResponse(status_code=code, response_parameters=headers) for code in sorted(statuses)],
            **self._authorization(parts, route),
        )

    def _build_function_route(self, parts: _RouteParts, route: tuple[str, str], function: lambda_.IFunction) -> apigw.Method:
        """A route answered by a function of its own (GET /text2image/history, My runs; POST
        /text2image/warm; POST /text2image/batches) behind a Lambda proxy integration, which hands
        it the query string, the body (base64 for a binary media type) and the authorizer's claims
        (the caller's ``sub``); it answers with its own statuses and body."""
        method, path = route
        integration = apigw.LambdaIntegration(function, proxy=True)
        return self.api.root.resource_for_path(path).add_method(method, integration, **self._authorization(parts, route))

    def _build_preflights(self, routes: list[tuple[str, str]]) -> None:
        """OPTIONS on every path of the API, answered by API Gateway itself (a mock integration):
        204, no body. The CORS headers are CloudFront's to add, for the listed origins only
        (infra/cdn.py). No authorizer and no API key: a browser's preflight carries neither."""
        preflight = apigw.MockIntegration(
            request_templates={JSON: json.dumps({"statusCode": PREFLIGHT_STATUS})},
            integration_responses=[apigw.IntegrationResponse(status_code=str(PREFLIGHT_STATUS))],
        )
        answered = [apigw.MethodResponse(status_code=str(PREFLIGHT_STATUS))]
        for path in sorted({path for _, path in routes}):
            resource = self.api.root.resource_for_path(path)
            method = resource.add_method("OPTIONS", preflight, method_responses=answered, authorization_type=apigw.AuthorizationType.NONE)
            reason = "A CORS preflight (OPTIONS) carries no credentials by the CORS protocol; it is answered by a mock integration and starts nothing."
            acknowledge(method, "AwsSolutions-APIG4", reason)
            acknowledge(method, "AwsSolutions-COG4", reason)

    def _build_gateway_responses(self, *, signed_in: bool) -> None:
        errors = GATEWAY_ERRORS | (SIGN_IN_ERRORS if signed_in else {})
        for name, (response_type, status, error, message) in errors.items():
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

    def _acknowledge_findings(self, logging: bool, *, signed_in: bool) -> None:
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
        if not signed_in:
            reason = (
                "Sign-in is off by explicit choice (text2image:auth=none): an open image generator like the original demo, "
                "where anyone with the URL makes the GPUs work; the default (cognito) puts the Cognito authorizer on every route."
            )
            acknowledge(self.api, "AwsSolutions-APIG4", reason)
            acknowledge(self.api, "AwsSolutions-COG4", reason)

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
