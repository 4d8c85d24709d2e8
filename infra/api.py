"""REST API: POST /text2image -> StartSyncExecution on the Express workflow, guarded by the
one JSON Schema, answering with the status mapping of DESIGN.md."""

from __future__ import annotations

import json
from pathlib import Path

from aws_cdk import RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.nag import acknowledge
from text2image.paths import REQUEST_SCHEMA

TEMPLATES = Path(__file__).parent / "templates"
REQUEST_TEMPLATE = TEMPLATES / "start_execution.request.vtl"
SYNC_RESPONSE_TEMPLATE = TEMPLATES / "start_sync_execution.response.vtl"
JOB_RESPONSE_TEMPLATE = TEMPLATES / "start_execution.response.vtl"
SYNC_EXECUTION_NAME = "$context.requestId"
JOB_EXECUTION_NAME = "$context.requestId-n$numImages"


def request_template(state_machine_arn: str, execution_name: str, default_num_images: int) -> str:
    return (
        REQUEST_TEMPLATE.read_text(encoding="utf-8")
        .replace("@@STATE_MACHINE_ARN@@", state_machine_arn)
        .replace("@@EXECUTION_NAME@@", execution_name)
        .replace("@@DEFAULT_NUM_IMAGES@@", str(default_num_images))
    )


JSON = "application/json"
STAGE = "prod"


def error_template(error: str, message: str) -> dict[str, str]:
    """A gateway response body in the API's error shape. Gateway responses get simple
    substitution, not VTL: ``$context.error.messageString`` is already a quoted JSON string."""
    quoted = message if message.startswith("$context.error.messageString") else json.dumps(message)
    return {JSON: f'{{"error": {json.dumps(error)}, "message": {quoted}}}'}


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
    ) -> None:
        super().__init__(scope, construct_id)
        access_logs = logs.LogGroup(self, "AccessLogs", retention=logs.RetentionDays.ONE_MONTH, removal_policy=RemovalPolicy.DESTROY)
        self.api = apigw.RestApi(
            self,
            "RestApi",
            description="text2image: POST /text2image (synchronous) and /text2image/jobs (asynchronous) start the Express workflow",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            cloud_watch_role=True,
            cloud_watch_role_removal_policy=RemovalPolicy.DESTROY,
            deploy_options=apigw.StageOptions(
                stage_name=STAGE,
                throttling_rate_limit=throttle_rate,
                throttling_burst_limit=throttle_burst,
                tracing_enabled=True,
                logging_level=apigw.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,  # request bodies hold prompts
                metrics_enabled=True,
                access_log_destination=apigw.LogGroupLogDestination(access_logs),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
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
            ),
        )
        role = iam.Role(self, "StartExecutionRole", assumed_by=iam.ServicePrincipal("apigateway.amazonaws.com"))
        role.add_to_policy(iam.PolicyStatement(actions=["states:StartSyncExecution", "states:StartExecution"], resources=[state_machine.state_machine_arn]))
        schema = json.loads(REQUEST_SCHEMA.read_text(encoding="utf-8"))
        model = apigw.CfnModel(self, "RequestModel", rest_api_id=self.api.rest_api_id, content_type=JSON, name="Text2ImageRequest", schema=schema)
        validator = self.api.add_request_validator("BodyValidator", validate_request_body=True, validate_request_parameters=True)
        request_model = apigw.Model.from_model_name(self, "RequestModelRef", model.ref)
        started_failed = apigw.IntegrationResponse(
            status_code="500",
            selection_pattern=r"[45]\d{2}",  # Step Functions refused the call itself
            response_templates={JSON: json.dumps({"error": "InternalError", "message": "the workflow could not be started"})},
        )

        def route(resource: apigw.IResource, action: str, execution_name: str, answer: Path, statuses: tuple[str, ...]) -> apigw.Method:
            """One POST route: the same model, validator, request template and role for both."""
            integration = apigw.AwsIntegration(
                service="states",
                action=action,
                integration_http_method="POST",
                options=apigw.IntegrationOptions(
                    credentials_role=role,
                    passthrough_behavior=apigw.PassthroughBehavior.NEVER,  # only JSON reaches the workflow
                    request_templates={JSON: request_template(state_machine.state_machine_arn, execution_name, default_num_images)},
                    integration_responses=[
                        apigw.IntegrationResponse(status_code="200", response_templates={JSON: answer.read_text(encoding="utf-8")}),
                        started_failed,
                    ],
                ),
            )
            method = resource.add_method(
                "POST",
                integration,
                request_validator=validator,
                request_models={JSON: request_model},
                method_responses=[apigw.MethodResponse(status_code=code) for code in statuses],
                api_key_required=api_key,
            )
            method.node.add_dependency(model)
            return method

        sync = self.api.root.add_resource("text2image")
        self.method = route(sync, "StartSyncExecution", SYNC_EXECUTION_NAME, SYNC_RESPONSE_TEMPLATE, ("200", "400", "500", "502", "504"))
        self.jobs_method = route(sync.add_resource("jobs"), "StartExecution", JOB_EXECUTION_NAME, JOB_RESPONSE_TEMPLATE, ("202", "500"))

        # Errors API Gateway answers itself, in the same {"error", "message"} shape.
        gateway_errors = {
            "BadRequestBody": (apigw.ResponseType.BAD_REQUEST_BODY, "400", "ValidationError", "$context.error.validationErrorString"),
            "UnsupportedMediaType": (apigw.ResponseType.UNSUPPORTED_MEDIA_TYPE, "415", "ValidationError", "Content-Type: must be application/json"),
            "Throttled": (apigw.ResponseType.THROTTLED, "429", "TooManyRequests", "rate limit exceeded; retry later"),
            "QuotaExceeded": (apigw.ResponseType.QUOTA_EXCEEDED, "429", "TooManyRequests", "quota exceeded; retry later"),
            "IntegrationTimeout": (apigw.ResponseType.INTEGRATION_TIMEOUT, "504", "Timeout", "no answer within 29 s"),
            "Default4xx": (apigw.ResponseType.DEFAULT_4_XX, None, "BadRequest", "$context.error.messageString"),
            "Default5xx": (apigw.ResponseType.DEFAULT_5_XX, None, "InternalError", "$context.error.messageString"),
        }
        for name, (response_type, status, error, message) in gateway_errors.items():
            headers = {"Retry-After": "'1'"} if error == "TooManyRequests" else None
            self.api.add_gateway_response(name, type=response_type, status_code=status, templates=error_template(error, message), response_headers=headers)

        if api_key:
            key = self.api.add_api_key("ApiKey", description="text2image clients")
            plan = self.api.add_usage_plan("UsagePlan", throttle=apigw.ThrottleSettings(rate_limit=throttle_rate, burst_limit=throttle_burst))
            plan.add_api_key(key)
            plan.add_api_stage(stage=self.api.deployment_stage)
            self.api_key_id = key.key_id

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
        acknowledge(
            self.api,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]",
            "The account-level API Gateway CloudWatch role uses AmazonAPIGatewayPushToCloudWatchLogs, the policy AWS designed for it.",
        )

    def set_public_base_url(self, url: str) -> None:
        stage = self.api.deployment_stage.node.default_child
        assert isinstance(stage, apigw.CfnStage)
        stage.add_property_override("Variables.publicBaseUrl", url)
