"""The three Lambdas: the very folders the local stack runs, on arm64, with the public
Powertools layer, each allowed exactly what its job needs."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.config import StackConfig
from infra.nag import acknowledge
from infra.storage import IMAGES_PREFIX, PROMPTS_PREFIX, REQUESTS_PREFIX
from text2image.local.lambdas import HANDLERS
from text2image.paths import FUNCTIONS

# The newest runtime that both aws-cdk-lib and the public Powertools layer support.
RUNTIME = lambda_.Runtime.PYTHON_3_14
POWERTOOLS_ACCOUNT = "017000801446"
# Layer version 36 of AWSLambdaPowertoolsPythonV3-python314-arm64 carries Powertools 3.31.1,
# the release pinned in pyproject.toml, so tests and AWS run the same library.
POWERTOOLS_LAYER = "AWSLambdaPowertoolsPythonV3-python314-arm64"
LOG_RETENTION = logs.RetentionDays.ONE_MONTH


def powertools_layer_arn(stack: Stack, version: int) -> str:
    return f"arn:{stack.partition}:lambda:{stack.region}:{POWERTOOLS_ACCOUNT}:layer:{POWERTOOLS_LAYER}:{version}"


def endpoint_arn(stack: Stack, name: str) -> str:
    # SageMaker keeps endpoint ARNs in lower case whatever the name's case.
    return stack.format_arn(service="sagemaker", resource="endpoint", resource_name=name.lower())


class Functions(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: StackConfig, bucket: s3.IBucket, public_base_url_parameter: str) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        layer = lambda_.LayerVersion.from_layer_version_arn(self, "Powertools", powertools_layer_arn(stack, config.powertools_layer_version))
        common_env = {
            "BUCKET_NAME": bucket.bucket_name,
            "POWERTOOLS_SERVICE_NAME": "text2image",
            "POWERTOOLS_METRICS_NAMESPACE": "text2image",
            "POWERTOOLS_LOG_LEVEL": config.log_level,
        }

        def function(name: str, memory: int, timeout: Duration, env: dict[str, str]) -> lambda_.Function:
            folder, handler = HANDLERS[name]
            log_group = logs.LogGroup(self, f"{folder}-logs", retention=LOG_RETENTION, removal_policy=RemovalPolicy.DESTROY)
            # An own role instead of AWSLambdaBasicExecutionRole: logs go to this one group only.
            role = iam.Role(self, f"{folder}-role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
            role.add_to_policy(iam.PolicyStatement(actions=["logs:CreateLogStream", "logs:PutLogEvents"], resources=[log_group.log_group_arn]))
            return lambda_.Function(
                self,
                folder,
                runtime=RUNTIME,
                architecture=lambda_.Architecture.ARM_64,
                code=lambda_.Code.from_asset(str(FUNCTIONS / folder), exclude=["__pycache__", "*.pyc"]),
                handler=handler,
                layers=[layer],
                memory_size=memory,
                timeout=timeout,
                tracing=lambda_.Tracing.ACTIVE,
                log_group=log_group,
                role=role,
                environment={**common_env, **env},
            )

        self.prepare = function(
            "text2image-prepare",
            256,
            Duration.seconds(30),
            {
                "ENDPOINT_NAMES": config.endpoints,
                "DEFAULT_NUM_IMAGES": str(config.default_num_images),
            },
        )
        # One SageMaker call (up to 60 s, read timeout 70 s) plus an S3 write.
        self.invoke_endpoint = function("text2image-invoke-endpoint", 512, Duration.seconds(90), {"ENDPOINT_READ_TIMEOUT": "70"})
        self.collect = function("text2image-collect", 256, Duration.seconds(30), {"PUBLIC_BASE_URL_PARAMETER": public_base_url_parameter})
        self.all = (self.prepare, self.invoke_endpoint, self.collect)

        self.prepare.add_to_role_policy(iam.PolicyStatement(actions=["s3:GetObject"], resources=[bucket.arn_for_objects(PROMPTS_PREFIX + "*")]))
        self.invoke_endpoint.add_to_role_policy(
            iam.PolicyStatement(actions=["sagemaker:InvokeEndpoint"], resources=[endpoint_arn(stack, name) for name in config.endpoint_names])
        )
        self.invoke_endpoint.add_to_role_policy(iam.PolicyStatement(actions=["s3:PutObject"], resources=[bucket.arn_for_objects(IMAGES_PREFIX + "*")]))
        self.collect.add_to_role_policy(iam.PolicyStatement(actions=["s3:PutObject"], resources=[bucket.arn_for_objects(REQUESTS_PREFIX + "*")]))
        self.collect.add_to_role_policy(
            iam.PolicyStatement(
                actions=["ssm:GetParameter"],
                resources=[stack.format_arn(service="ssm", resource="parameter", resource_name=public_base_url_parameter.lstrip("/"))],
            )
        )
        prefix_reason = "Objects under one key prefix of this stack's bucket; the keys carry request ids not known in advance."
        for fn, finding, what in (
            (self.prepare, "prompts/*", "Read prompt files only. "),
            (self.invoke_endpoint, "images/*", "PutObject of images only. "),
            (self.collect, "requests/*", "PutObject of manifests only. "),
        ):
            assert fn.role is not None
            acknowledge(fn.role, f"AwsSolutions-IAM5[Resource::<StorageBucket5CB7C8EA.Arn>/{finding}]", what + prefix_reason)
            acknowledge(
                fn.role,
                "AwsSolutions-IAM5[Resource::*]",
                "Only X-Ray's PutTraceSegments/PutTelemetryRecords (active tracing), which accept no resource but *.",
            )
