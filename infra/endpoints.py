"""The SageMaker endpoints the workflow calls: by default existing ones named in context;
optionally created here, with autoscaling, from

- the ``diffusers`` preset: ``model.tar.gz`` of ``make model-artifact`` (endpoint/code as
  code/, optionally the weights) in the Hugging Face PyTorch inference container of the
  stack's region (image tag from context), with the model id and scheduler from context, the
  per-call limits Prepare plans by, and optionally (endpointCompile) the UNet compiled at start
  for the default request's calls or endpointCompileShapes;
- the ``custom`` preset: any image URI and model data (a JumpStart model, your own container).

Created endpoints scale to zero by default (endpointScaleToZero): each hosts the model as an
inference component (text2image/inference_components.py names it), with no instance while no
copy runs (infra/scale_to_zero.py). Without it, the variant hosts the model on at least
endpointInstanceCount instances, scaled on invocations per instance."""

from __future__ import annotations

import json

from aws_cdk import ArnFormat, Stack, Token, region_info
from aws_cdk import aws_applicationautoscaling as autoscaling
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from infra.config import StackConfig, planning
from infra.endpoint_code import compile_shapes
from infra.instance_types import component_memory_mb
from infra.nag import acknowledge, as_nag_prints
from infra.scale_to_zero import ScaleToZero
from text2image.inference_components import component_name
from text2image.paths import REQUEST_SCHEMA

VARIANT = "AllTraffic"
DLC_REPOSITORY = "huggingface-pytorch-inference"
# Large models take a while to download and load; SageMaker's defaults are shorter.
STARTUP_SECONDS, DOWNLOAD_SECONDS = 900, 1800
# Where SageMaker writes the containers' logs and metrics: an endpoint's variant, or, where the
# model is an inference component, the component's.
ENDPOINT_LOGS, COMPONENT_LOGS = "/aws/sagemaker/Endpoints", "/aws/sagemaker/InferenceComponents"
# With endpointCompile, model_fn also compiles and warms every shape before the container
# answers its health check: 53-82 s a shape on an H100 machine with 16 cores (README). Inductor
# compiles on the CPU, and a g5/g6 xlarge has 4 vCPUs: each shape gets 300 s, over 3.5x the
# slowest measured. SageMaker allows at most 3600 s (ProductionVariant
# ContainerStartupHealthCheckTimeoutInSeconds, 60..3600): compile_shapes.MAX_SHAPES keeps the sum
# under it (tests/infra/test_endpoint_compile.py). The model server's own limit on loading is not
# the shorter one: the toolkit passes SAGEMAKER_MODEL_SERVER_TIMEOUT (default 60) as MMS's
# default_response_timeout, which MMS reads as minutes.
COMPILE_SECONDS_PER_SHAPE = 300


def image_uri(stack: Stack, config: StackConfig) -> str:
    """The configured image, or the Hugging Face PyTorch inference image of the stack's region
    (the Deep Learning Containers account differs by region: a CDK regional fact).

    A region whose account CDK does not know fails synth, saying what to pass instead. An
    environment-agnostic stack gets CDK's mapping of the regions that have one, in the app's
    target partitions (cdk.json): elsewhere CloudFormation refuses the template before creating
    anything (``Unable to get mapping for DlcRepositoryAccountMap::<region>::value``)."""
    if config.endpoint_image_uri:
        return config.endpoint_image_uri
    if not Token.is_unresolved(stack.region) and region_info.RegionInfo.get(stack.region).dlc_repository_account is None:
        raise ValueError(
            f"CDK's region facts name no Deep Learning Containers account for {stack.region}, so the diffusers preset cannot name the "
            f"{DLC_REPOSITORY} image there: pass -c text2image:endpointImageUri=<that image's URI in {stack.region}, if AWS publishes it there>"
        )
    account = stack.regional_fact(region_info.FactName.DLC_REPOSITORY_ACCOUNT)
    return f"{account}.dkr.ecr.{stack.region}.{stack.url_suffix}/{DLC_REPOSITORY}:{config.endpoint_image_tag}"


def container_environment(config: StackConfig) -> dict[str, str] | None:
    """What endpoint/code/inference.py reads, and how the toolkit finds it."""
    if config.endpoint_preset != "diffusers":
        return None
    environment = {
        "SAGEMAKER_PROGRAM": "inference.py",
        "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
        # One worker: one model copy on the GPU, one request at a time, as the workflow plans.
        "SAGEMAKER_MODEL_SERVER_WORKERS": "1",
        "SAGEMAKER_CONTAINER_LOG_LEVEL": "20",
        # The per-call limits Prepare plans by: an endpoint refuses a call past them before the GPU.
        "SD_MAX_IMAGES_PER_CALL": str(config.max_images_per_call),
        "SD_MAX_PIXELS_PER_CALL": str(config.max_pixels_per_call),
    }
    if config.endpoint_model_id:
        environment["SD_MODEL_ID"] = config.endpoint_model_id
    if config.endpoint_scheduler:
        environment["SD_SCHEDULER"] = config.endpoint_scheduler
    if config.endpoint_compile:
        environment["SD_COMPILE"] = "1"
        environment[compile_shapes.VARIABLE] = config.endpoint_compile_shapes or default_compile_shapes(config)
    return environment


def default_compile_shapes(config: StackConfig) -> str:
    """The calls the default request makes (request.schema.json's width and height,
    defaultNumImages over the configured endpoints, as Prepare plans them). One model serves
    every endpoint, so it compiles the call sizes of all of them."""
    properties = json.loads(REQUEST_SCHEMA.read_text(encoding="utf-8"))["properties"]
    width, height = properties["width"]["default"], properties["height"]["default"]
    limits = planning.CallLimits(config.images_per_call, config.max_images_per_call, config.max_pixels_per_call)
    sizes = planning.call_sizes(config.default_num_images, planning.parse_endpoints(config.endpoints), limits.per_call(width, height))
    images = sorted({size for calls in sizes.values() for size in calls})
    shapes: str = compile_shapes.format_call_shapes(compile_shapes.CallShape(width, height, count) for count in images)
    return shapes


def startup_seconds(environment: dict[str, str] | None) -> int:
    """How long the container may take to answer its first health check: loading, and compiling
    each shape when it compiles."""
    if not environment or environment.get("SD_COMPILE") != "1":
        return STARTUP_SECONDS
    return STARTUP_SECONDS + COMPILE_SECONDS_PER_SHAPE * len(compile_shapes.parse_call_shapes(environment[compile_shapes.VARIABLE]))


def log_namespaces(config: StackConfig) -> list[str]:
    """Where the created endpoints' containers write logs and metrics."""
    return [ENDPOINT_LOGS, COMPONENT_LOGS] if config.scales_to_zero else [ENDPOINT_LOGS]


def s3_object_arn(stack: Stack, url: str) -> str:
    bucket, _, key = url.removeprefix("s3://").partition("/")
    return f"arn:{stack.partition}:s3:::{bucket}/{key}"


class Endpoints(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: StackConfig) -> None:
        super().__init__(scope, construct_id)
        self.names = config.endpoint_names
        # Each endpoint's inference component, where the endpoints scale to zero ({} elsewhere).
        self.components = {name: component_name(name) for name in self.names} if config.scales_to_zero else {}
        if not config.create_endpoints:
            return
        role = self._build_model_role(config)
        environment = container_environment(config)
        model = self._build_model(role, config, environment)
        startup = startup_seconds(environment)
        for name in self.names:
            if config.scales_to_zero:
                endpoint_config = self._build_component_endpoint_config(name, role, config)
            else:
                endpoint_config = self._build_endpoint_config(name, model, config, startup)
            acknowledge(
                endpoint_config,
                "AwsSolutions-SM3",
                "Endpoint storage keeps only the public model weights; the SageMaker-managed key is used. Set a KMS key for private models.",
            )
            endpoint = sagemaker.CfnEndpoint(self, name, endpoint_name=name, endpoint_config_name=endpoint_config.attr_endpoint_config_name)
            if config.scales_to_zero:
                component = self._build_component(name, endpoint, model, config, startup)
                ScaleToZero(self, f"{name}-scaling", component=component, name=self.components[name], config=config)
            else:
                self._build_autoscaling(name, endpoint, config)
        self._acknowledge_findings(role, model, config)

    def _build_model_role(self, config: StackConfig) -> iam.Role:
        """The model's execution role (and the endpoint configuration's, for inference
        components): its model data, the image, its logs and metrics."""
        stack = Stack.of(self)
        namespaces = log_namespaces(config)
        role = iam.Role(self, "ModelRole", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
        role.add_to_policy(iam.PolicyStatement(actions=["s3:GetObject"], resources=[s3_object_arn(stack, config.endpoint_model_data_url)]))
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:GetAuthorizationToken", "ecr:BatchCheckLayerAvailability"],
                resources=["*"],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[
                    stack.format_arn(service="logs", resource="log-group", resource_name=f"{namespace}/*", arn_format=ArnFormat.COLON_RESOURCE_NAME)
                    for namespace in namespaces
                ],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(actions=["cloudwatch:PutMetricData"], resources=["*"], conditions={"StringEquals": {"cloudwatch:namespace": namespaces}})
        )
        return role

    def _build_model(self, role: iam.Role, config: StackConfig, environment: dict[str, str] | None) -> sagemaker.CfnModel:
        model = sagemaker.CfnModel(
            self,
            "Model",
            execution_role_arn=role.role_arn,
            primary_container=sagemaker.CfnModel.ContainerDefinitionProperty(
                image=image_uri(Stack.of(self), config), model_data_url=config.endpoint_model_data_url, environment=environment
            ),
        )
        model.node.add_dependency(role)
        return model

    def _build_endpoint_config(self, name: str, model: sagemaker.CfnModel, config: StackConfig, startup: int) -> sagemaker.CfnEndpointConfig:
        endpoint_config = sagemaker.CfnEndpointConfig(
            self,
            f"{name}-config",
            production_variants=[
                sagemaker.CfnEndpointConfig.ProductionVariantProperty(
                    variant_name=VARIANT,
                    model_name=model.attr_model_name,
                    instance_type=config.endpoint_instance_type,
                    initial_instance_count=config.endpoint_instance_count,
                    initial_variant_weight=1,
                    container_startup_health_check_timeout_in_seconds=startup,
                    model_data_download_timeout_in_seconds=DOWNLOAD_SECONDS,
                )
            ],
        )
        return endpoint_config

    def _build_component_endpoint_config(self, name: str, role: iam.Role, config: StackConfig) -> sagemaker.CfnEndpointConfig:
        """A variant without a model, whose instances SageMaker manages from none to
        endpointMaxInstances as the inference component's copies need them. The execution role
        is the endpoint configuration's: an endpoint that hosts inference components pulls the
        image and the model data with it (CreateEndpointConfig, ExecutionRoleArn)."""
        endpoint_config = sagemaker.CfnEndpointConfig(
            self,
            f"{name}-config",
            execution_role_arn=role.role_arn,
            production_variants=[
                sagemaker.CfnEndpointConfig.ProductionVariantProperty(
                    variant_name=VARIANT,
                    instance_type=config.endpoint_instance_type,
                    # The instance for the component's first copy; managed instance scaling takes it from there.
                    initial_instance_count=1,
                    managed_instance_scaling=sagemaker.CfnEndpointConfig.ManagedInstanceScalingProperty(
                        status="ENABLED", min_instance_count=0, max_instance_count=config.endpoint_max_instances
                    ),
                    # A copy serves one call at a time (one model server worker): send each call to the copy with the fewest.
                    routing_config=sagemaker.CfnEndpointConfig.RoutingConfigProperty(routing_strategy="LEAST_OUTSTANDING_REQUESTS"),
                )
            ],
        )
        endpoint_config.node.add_dependency(role)  # its policy too: SageMaker checks the role's access when it creates the endpoint
        return endpoint_config

    def _build_component(
        self, name: str, endpoint: sagemaker.CfnEndpoint, model: sagemaker.CfnModel, config: StackConfig, startup: int
    ) -> sagemaker.CfnInferenceComponent:
        """The model on the endpoint, one copy per GPU, created with one copy (the endpoint
        starts warm); its copies then follow infra/scale_to_zero.py. The start-up limits are
        the component's here, not the variant's."""
        return sagemaker.CfnInferenceComponent(
            self,
            f"{name}-component",
            inference_component_name=self.components[name],
            endpoint_name=endpoint.attr_endpoint_name,
            variant_name=VARIANT,
            specification=sagemaker.CfnInferenceComponent.InferenceComponentSpecificationProperty(
                model_name=model.attr_model_name,
                compute_resource_requirements=sagemaker.CfnInferenceComponent.InferenceComponentComputeResourceRequirementsProperty(
                    number_of_accelerator_devices_required=1, min_memory_required_in_mb=component_memory_mb(config.endpoint_instance_type)
                ),
                startup_parameters=sagemaker.CfnInferenceComponent.InferenceComponentStartupParametersProperty(
                    container_startup_health_check_timeout_in_seconds=startup, model_data_download_timeout_in_seconds=DOWNLOAD_SECONDS
                ),
            ),
            runtime_config=sagemaker.CfnInferenceComponent.InferenceComponentRuntimeConfigProperty(copy_count=1),
        )

    def _build_autoscaling(self, name: str, endpoint: sagemaker.CfnEndpoint, config: StackConfig) -> None:
        """The variant's instance count follows the invocations per instance."""
        target = autoscaling.ScalableTarget(
            self,
            f"{name}-scaling",
            service_namespace=autoscaling.ServiceNamespace.SAGEMAKER,
            resource_id=f"endpoint/{name}/variant/{VARIANT}",
            scalable_dimension="sagemaker:variant:DesiredInstanceCount",
            min_capacity=config.endpoint_instance_count,
            max_capacity=config.endpoint_max_instances,
        )
        target.node.add_dependency(endpoint)
        target.scale_to_track_metric(
            f"{name}-invocations",
            predefined_metric=autoscaling.PredefinedMetric.SAGEMAKER_VARIANT_INVOCATIONS_PER_INSTANCE,
            target_value=config.endpoint_target_invocations_per_instance,
        )

    def _acknowledge_findings(self, role: iam.Role, model: sagemaker.CfnModel, config: StackConfig) -> None:
        acknowledge(
            model,
            "AwsSolutions-SM1",
            "Endpoints reached only through the InvokeEndpoint API; no VPC resources are accessed by the model container.",
        )
        acknowledge(
            role,
            "AwsSolutions-IAM5[Resource::*]",
            "ecr:GetAuthorizationToken and cloudwatch:PutMetricData take no resource (the latter is limited to SageMaker's namespace by a condition).",
        )
        for namespace in log_namespaces(config):
            acknowledge(
                role,
                as_nag_prints(Stack.of(self), "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:{region}:{account}:log-group:" + namespace + "/*]"),
                f"SageMaker names each endpoint's (inference component's) log group itself, under {namespace}/.",
            )
