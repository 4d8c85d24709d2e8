"""The Lambdas of the manifest (text2image/manifest.py): the very folders the local stack runs, on
arm64, with the public Powertools layer, each allowed exactly what its job needs. The workflow's
three always; the history with sign-in; the warm function where the endpoints scale to zero."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.config import StackConfig
from infra.nag import acknowledge
from infra.powertools import layer_arn
from infra.storage import IMAGES_PREFIX, PROMPTS_PREFIX, REQUESTS_PREFIX
from text2image.inference_components import VARIABLE as INFERENCE_COMPONENTS
from text2image.inference_components import components_variable
from text2image.manifest import COLLECT, HISTORY, INVOKE_ENDPOINT, LAMBDA_PYTHON, PREPARE, WARM, LambdaFunction

# The manifest's Python, which `make test-lambda-runtime` tests the function folders on
# (CDK's own Runtime object: an AttributeError here means this CDK does not know it).
RUNTIME: lambda_.Runtime = getattr(lambda_.Runtime, "PYTHON_" + LAMBDA_PYTHON.replace(".", "_"))
LOG_RETENTION = logs.RetentionDays.ONE_MONTH
# Where the functions' Powertools metrics go (infra/observability.py charts and alarms on them).
METRICS_NAMESPACE = SERVICE_NAME = "text2image"


def endpoint_arn(stack: Stack, name: str) -> str:
    # SageMaker keeps endpoint ARNs in lower case whatever the name's case.
    return stack.format_arn(service="sagemaker", resource="endpoint", resource_name=name.lower())


def inference_component_arn(stack: Stack, name: str) -> str:
    # In lower case too, as SageMaker keeps its ARNs.
    return stack.format_arn(service="sagemaker", resource="inference-component", resource_name=name.lower())


def project_function(
    scope: Construct, spec: LambdaFunction, layer: lambda_.ILayerVersion, environment: dict[str, str], construct_id: str | None = None
) -> lambda_.Function:
    """A function folder of the manifest as deployed: arm64, the manifest's runtime, memory and
    timeout, the Powertools layer, active tracing, and a role that may write only its own log group.
    ``construct_id`` (default: the folder's name) tells apart two functions of one folder in one scope."""
    name = construct_id or spec.folder
    log_group = logs.LogGroup(scope, f"{name}-logs", retention=LOG_RETENTION, removal_policy=RemovalPolicy.DESTROY)
    # An own role instead of AWSLambdaBasicExecutionRole: logs go to this one group only.
    role = iam.Role(scope, f"{name}-role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    role.add_to_policy(iam.PolicyStatement(actions=["logs:CreateLogStream", "logs:PutLogEvents"], resources=[log_group.log_group_arn]))
    function = lambda_.Function(
        scope,
        name,
        runtime=RUNTIME,
        architecture=lambda_.Architecture.ARM_64,
        code=lambda_.Code.from_asset(str(spec.path), exclude=["__pycache__", "*.pyc"]),
        handler=spec.handler,
        layers=[layer],
        memory_size=spec.memory_mb,
        timeout=Duration.seconds(spec.timeout_seconds),
        tracing=lambda_.Tracing.ACTIVE,
        log_group=log_group,
        role=role,
        environment=environment,
    )
    acknowledge(role, "AwsSolutions-IAM5[Resource::*]", "Only X-Ray's PutTraceSegments/PutTelemetryRecords (active tracing), which accept no resource but *.")
    acknowledge(
        function,
        "AwsSolutions-L1",
        f"Python {LAMBDA_PYTHON} on purpose: the newest runtime the function folders' tests run on here (make test-lambda-runtime; "
        "no newer interpreter can be installed), with the Powertools layer built for it.",
    )
    return function


class Functions(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, config: StackConfig, bucket: s3.IBucket, public_base_url_parameter: str, components: dict[str, str]
    ) -> None:
        """``components``: each endpoint's inference component where the endpoints scale to zero
        ({}: endpoints called by name alone, as existing ones are)."""
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.layer = lambda_.LayerVersion.from_layer_version_arn(
            self, "Powertools", layer_arn(stack, config.powertools_layer_version, config.powertools_layer_arn)
        )
        layer = self.layer
        # Every function's: its bucket and where its logs and metrics go (infra/batches.py's too).
        self.common_env = common_env = {
            "BUCKET_NAME": bucket.bucket_name,
            "POWERTOOLS_SERVICE_NAME": SERVICE_NAME,
            "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
            "POWERTOOLS_LOG_LEVEL": config.log_level,
        }
        planning_env = {
            "ENDPOINT_NAMES": config.endpoints,
            "DEFAULT_NUM_IMAGES": str(config.default_num_images),
            # The plan's calls fit what the endpoints take per call (created endpoints get the same numbers).
            "IMAGES_PER_CALL": str(config.images_per_call),
            "MAX_IMAGES_PER_CALL": str(config.max_images_per_call),
            "MAX_PIXELS_PER_CALL": str(config.max_pixels_per_call),
        }
        # Signed-in callers' quota days and run history; only a stack with sign-in has callers.
        self.usage_table = self._build_usage_table() if config.signed_in else None
        usage_env = {"USAGE_TABLE": self.usage_table.table_name} if self.usage_table else {}
        # The quota's settings: Prepare reserves each run's images, the batch submit looks at what is left.
        self.quota_env = quota_env = usage_env | ({"DAILY_IMAGES_PER_USER": str(config.daily_images_per_user)} if self.usage_table else {})
        history_env = usage_env | ({"HISTORY_DAYS": str(config.image_retention_days)} if self.usage_table else {})
        # Where the endpoints scale to zero: the component to call on each, and about how long a cold one takes.
        components_env = {INFERENCE_COMPONENTS: components_variable(components)} if components else {}
        cold_start_env = {"COLD_START_SECONDS": str(config.endpoint_cold_start_seconds)}
        # Prepare keeps its default COLD_WAIT_SECONDS: a job's wait for cold endpoints fits the workflow's 5 minutes.
        self.prepare = project_function(self, PREPARE, layer, common_env | planning_env | quota_env)
        self.invoke_endpoint = project_function(self, INVOKE_ENDPOINT, layer, common_env | {"ENDPOINT_READ_TIMEOUT": "70"} | components_env)
        self.collect = project_function(
            self, COLLECT, layer, common_env | {"PUBLIC_BASE_URL_PARAMETER": public_base_url_parameter} | history_env | cold_start_env
        )
        # GET /text2image/history (My runs), behind the API's Cognito authorizer: only with sign-in.
        self.history = project_function(self, HISTORY, layer, common_env | usage_env) if self.usage_table else None
        # POST /text2image/warm: only where there is something to warm.
        self.warm = project_function(self, WARM, layer, common_env | components_env | cold_start_env) if components else None
        self._build_permissions(config, bucket, public_base_url_parameter, list(components.values()))
        self._acknowledge_findings()

    def _build_usage_table(self) -> dynamodb.Table:
        """One table, pk/sk (docs/design.md, "Sign-in and quotas"): USER#<sub> holds the user's
        QUOTA#<day> counters and RUN#<start>#<id> history; both expire through ``expires_at``."""
        return dynamodb.Table(
            self,
            "Usage",
            partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="sk", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            time_to_live_attribute="expires_at",
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(point_in_time_recovery_enabled=True),
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            removal_policy=RemovalPolicy.RETAIN,
        )

    def _build_permissions(self, config: StackConfig, bucket: s3.IBucket, public_base_url_parameter: str, components: list[str]) -> None:
        """What each function touches beyond its own logs: its key prefix of the bucket, the
        endpoints (and their inference components), the URL parameter."""
        stack = Stack.of(self)
        component_arns = [inference_component_arn(stack, name) for name in components]
        self.prepare.add_to_role_policy(iam.PolicyStatement(actions=["s3:GetObject"], resources=[bucket.arn_for_objects(PROMPTS_PREFIX + "*")]))
        if self.usage_table is not None:
            # Prepare reserves quota and, refusing, writes the run's manifest; Collect adds the run to its user's history
            # and gives back the images a cold endpoint refused.
            self.prepare.add_to_role_policy(iam.PolicyStatement(actions=["dynamodb:UpdateItem"], resources=[self.usage_table.table_arn]))
            self.prepare.add_to_role_policy(iam.PolicyStatement(actions=["s3:PutObject"], resources=[bucket.arn_for_objects(REQUESTS_PREFIX + "*")]))
            self.collect.add_to_role_policy(iam.PolicyStatement(actions=["dynamodb:PutItem", "dynamodb:UpdateItem"], resources=[self.usage_table.table_arn]))
            assert self.history is not None
            self.history.add_to_role_policy(iam.PolicyStatement(actions=["dynamodb:Query"], resources=[self.usage_table.table_arn]))
        # A call naming an inference component is authorized on the endpoint and, as an action
        # that can name one, on the component too: both, each exactly.
        self.invoke_endpoint.add_to_role_policy(
            iam.PolicyStatement(actions=["sagemaker:InvokeEndpoint"], resources=[endpoint_arn(stack, name) for name in config.endpoint_names] + component_arns)
        )
        if self.warm is not None:
            self.warm.add_to_role_policy(
                iam.PolicyStatement(
                    actions=["sagemaker:DescribeInferenceComponent", "sagemaker:UpdateInferenceComponentRuntimeConfig"], resources=component_arns
                )
            )
        self.invoke_endpoint.add_to_role_policy(iam.PolicyStatement(actions=["s3:PutObject"], resources=[bucket.arn_for_objects(IMAGES_PREFIX + "*")]))
        self.collect.add_to_role_policy(iam.PolicyStatement(actions=["s3:PutObject"], resources=[bucket.arn_for_objects(REQUESTS_PREFIX + "*")]))
        self.collect.add_to_role_policy(
            iam.PolicyStatement(
                actions=["ssm:GetParameter"],
                resources=[stack.format_arn(service="ssm", resource="parameter", resource_name=public_base_url_parameter.lstrip("/"))],
            )
        )

    def _acknowledge_findings(self) -> None:
        prefix_reason = "Objects under one key prefix of this stack's bucket; the keys carry request ids not known in advance."
        findings = [
            (self.prepare, f"{PROMPTS_PREFIX}*", "Read prompt files only. "),
            (self.invoke_endpoint, f"{IMAGES_PREFIX}*", "PutObject of images only. "),
            (self.collect, f"{REQUESTS_PREFIX}*", "PutObject of manifests only. "),
        ]
        if self.usage_table is not None:
            findings.append((self.prepare, f"{REQUESTS_PREFIX}*", "PutObject of a run's manifest when its quota refuses it, only. "))
        for fn, finding, what in findings:
            assert fn.role is not None
            acknowledge(fn.role, f"AwsSolutions-IAM5[Resource::<StorageBucket5CB7C8EA.Arn>/{finding}]", what + prefix_reason)
