"""Created endpoints that scale to zero (infra/endpoints.py, infra/scale_to_zero.py) and what goes
with them: the functions' environment and permissions, the warm route, /config.json, the
dashboard, and the configuration that is refused. The session's created stack (conftest.py) scales
to zero by default; two more stacks here: one on instances as before (endpointScaleToZero=false),
and one with a warm schedule, its own idle window and cold start, and no sign-in."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Environment, Validations
from aws_cdk.assertions import Template
from cdk_nag import AwsSolutionsChecks
from template_queries import of_type, rendered, resource_path

from infra.config import StackConfig
from infra.stack import Text2ImageStack
from text2image.deploy_settings import cdk_context
from text2image.discovery import CONFIG_FILE
from text2image.inference_components import VARIABLE, component_name, components_variable
from text2image.manifest import COLLECT, INVOKE_ENDPOINT, PREPARE, WARM
from text2image.routes import WARM_ROUTE

ENDPOINTS = ["gen-a", "gen-b"]
COMPONENTS = [component_name(endpoint) for endpoint in ENDPOINTS]
CREATED = {
    "endpoints": ",".join(ENDPOINTS),
    "createEndpoints": "true",
    "endpointModelDataUrl": "s3://my-models/sd/model.tar.gz",
    "endpointInstanceType": "ml.g6.xlarge",
    "endpointInstanceCount": "2",
    "endpointMaxInstances": "3",
}
SCHEDULE = {
    "warmScheduleStart": "cron(0 8 ? * MON-FRI *)",
    "warmScheduleEnd": "cron(0 18 ? * MON-FRI *)",
    "warmScheduleTimezone": "Europe/Paris",
    "endpointIdleMinutes": "30",
    "endpointColdStartSeconds": "300",
    "auth": "none",
}
COPY_COUNT = "sagemaker:inference-component:DesiredCopyCount"


def synthesized(outdir: Path, **context: str) -> dict[str, Any]:
    """A stack creating gen-a and gen-b with this context, synthesized with cdk-nag (a finding not
    acknowledged fails synth): its Resources, and the outdir its assets are staged in."""
    app = App(outdir=str(outdir), context=cdk_context() | {f"text2image:{key}": value for key, value in {**CREATED, **context}.items()})
    stack = Text2ImageStack(app, "Text2ImageZero", config=StackConfig.from_context(app.node), env=Environment(region="eu-west-1"))
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    found: dict[str, Any] = app.synth().get_stack_by_name(stack.stack_name).template["Resources"]
    return found


@pytest.fixture(scope="module")
def created(created_template: Template) -> dict[str, Any]:
    """The session's created stack: scale to zero by default, sign-in, gen-a and gen-b on ml.g6.xlarge, up to 3 instances."""
    found: dict[str, Any] = created_template.to_json()["Resources"]
    return found


@pytest.fixture(scope="module")
def on_instances_outdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("on-instances")


@pytest.fixture(scope="module")
def on_instances(on_instances_outdir: Path) -> dict[str, Any]:
    return synthesized(on_instances_outdir, endpointScaleToZero="false")


@pytest.fixture(scope="module")
def scheduled_outdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("scheduled")


@pytest.fixture(scope="module")
def scheduled(scheduled_outdir: Path) -> dict[str, Any]:
    return synthesized(scheduled_outdir, **SCHEDULE)


def sagemaker_arn(kind: str, name: str) -> str:
    return f"arn:<Ref:AWS::Partition>:sagemaker:eu-west-1:<Ref:AWS::AccountId>:{kind}/{name}"


def targets(resources: dict[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    """Each inference component's scalable target: (logical id, properties)."""
    return {
        props["ResourceId"].removeprefix("inference-component/"): (name, props)
        for name, props in of_type(resources, "AWS::ApplicationAutoScaling::ScalableTarget").items()
        if props["ResourceId"].startswith("inference-component/")
    }


def policies_of(resources: dict[str, Any], target: str) -> dict[str, dict[str, Any]]:
    """The scaling policies of one scalable target, by logical id."""
    return {
        name: props for name, props in of_type(resources, "AWS::ApplicationAutoScaling::ScalingPolicy").items() if props["ScalingTargetId"] == {"Ref": target}
    }


def alarm_driving(resources: dict[str, Any], policy: str) -> dict[str, Any]:
    (alarm,) = [props for props in of_type(resources, "AWS::CloudWatch::Alarm").values() if props.get("AlarmActions") == [{"Ref": policy}]]
    return alarm


def step_policies(resources: dict[str, Any], component: str) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """A component's step policies by what they are for, "out" (from zero) or "idle" (to zero):
    (the policy's configuration, the alarm that drives it)."""
    target, _ = targets(resources)[component]
    purposes = {"OutFromZero": "out", "IdleToZero": "idle"}
    found = {
        next((purpose for part, purpose in purposes.items() if part in name), name): (props["StepScalingPolicyConfiguration"], alarm_driving(resources, name))
        for name, props in policies_of(resources, target).items()
        if props["PolicyType"] == "StepScaling"
    }
    assert set(found) == {"out", "idle"}
    return found


def functions_by_handler(resources: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["Handler"]: p for n, p in of_type(resources, "AWS::Lambda::Function").items() if n.startswith("Functions")}


def environment(resources: dict[str, Any], handler: str) -> dict[str, str]:
    variables: dict[str, str] = functions_by_handler(resources)[handler]["Environment"]["Variables"]
    return variables


def sagemaker_statements(resources: dict[str, Any], role_part: str) -> list[tuple[list[str], list[str]]]:
    """(actions, resources) of each sagemaker statement in the policy of the role whose logical id contains ``role_part``."""
    (policy,) = [p for n, p in of_type(resources, "AWS::IAM::Policy").items() if role_part in n]
    found = []
    for statement in policy["PolicyDocument"]["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        if any(action.startswith("sagemaker:") for action in actions):
            found.append((actions, [rendered(r) for r in (statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]])]))
    return found


def methods(resources: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    found = of_type(resources, "AWS::ApiGateway::Method").values()
    return {(m["HttpMethod"], resource_path(resources, m["ResourceId"])): m for m in found if m["HttpMethod"] != "OPTIONS"}


# -- the endpoints ---------------------------------------------------------------------


def test_each_created_endpoint_hosts_the_model_as_an_inference_component(created: dict[str, Any]) -> None:
    (model_name,) = of_type(created, "AWS::SageMaker::Model")
    endpoint_ids = {props["EndpointName"]: name for name, props in of_type(created, "AWS::SageMaker::Endpoint").items()}
    components = {props["InferenceComponentName"]: props for props in of_type(created, "AWS::SageMaker::InferenceComponent").values()}
    assert sorted(components) == COMPONENTS == ["gen-a-model", "gen-b-model"]
    for endpoint in ENDPOINTS:
        component = components[component_name(endpoint)]
        assert component["EndpointName"] == {"Fn::GetAtt": [endpoint_ids[endpoint], "EndpointName"]} and component["VariantName"] == "AllTraffic"
        assert component["Specification"] == {
            "ModelName": {"Fn::GetAtt": [model_name, "ModelName"]},
            # One GPU; half of an ml.g6.xlarge's 16 GiB.
            "ComputeResourceRequirements": {"NumberOfAcceleratorDevicesRequired": 1, "MinMemoryRequiredInMb": 8192},
            "StartupParameters": {"ContainerStartupHealthCheckTimeoutInSeconds": 900, "ModelDataDownloadTimeoutInSeconds": 1800},
        }
        assert component["RuntimeConfig"] == {"CopyCount": 1}  # created warm


def test_the_variant_carries_no_model_and_its_instances_go_down_to_zero(created: dict[str, Any]) -> None:
    (model,) = of_type(created, "AWS::SageMaker::Model").values()
    configs = of_type(created, "AWS::SageMaker::EndpointConfig").values()
    assert len(configs) == len(ENDPOINTS)
    for config in configs:
        # Inference components need the execution role on the endpoint configuration.
        assert config["ExecutionRoleArn"] == model["ExecutionRoleArn"]
        (variant,) = config["ProductionVariants"]
        assert variant == {
            "VariantName": "AllTraffic",
            "InstanceType": "ml.g6.xlarge",
            "InitialInstanceCount": 1,
            "ManagedInstanceScaling": {"Status": "ENABLED", "MinInstanceCount": 0, "MaxInstanceCount": 3},
            "RoutingConfig": {"RoutingStrategy": "LEAST_OUTSTANDING_REQUESTS"},
        }


def test_copies_scale_from_zero_to_the_most_instances_and_out_on_load(created: dict[str, Any]) -> None:
    found = targets(created)
    assert sorted(found) == COMPONENTS
    assert not [t for t in of_type(created, "AWS::ApplicationAutoScaling::ScalableTarget").values() if t["ResourceId"].startswith("endpoint/")]
    for target, props in found.values():
        assert (props["ServiceNamespace"], props["ScalableDimension"], props["MinCapacity"], props["MaxCapacity"]) == ("sagemaker", COPY_COUNT, 0, 3)
        (tracking,) = [
            p["TargetTrackingScalingPolicyConfiguration"] for p in policies_of(created, target).values() if p["PolicyType"] == "TargetTrackingScaling"
        ]
        # Scale-in is the idle rule's alone: target tracking would take the copies to zero on its own schedule.
        assert tracking == {
            "PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerInferenceComponentInvocationsPerCopy"},
            "TargetValue": 4,
            "DisableScaleIn": True,
        }


def test_a_refused_call_asks_for_exactly_one_copy(created: dict[str, Any]) -> None:
    """Scale an endpoint to zero instances (SageMaker developer guide): a step policy on the
    NoCapacityInvocationFailures alarm; at 1 refused call or more (the page's ">" 1 would miss one),
    and exactly 1 copy rather than the page's +1, which CloudWatch's repeat of the action each
    minute the alarm stays in ALARM (calls refused all through a cold start) could add up to
    endpointMaxInstances copies."""
    for component in COMPONENTS:
        step, alarm = step_policies(created, component)["out"]
        assert step == {
            "AdjustmentType": "ExactCapacity",
            "MetricAggregationType": "Maximum",
            "Cooldown": 60,
            "StepAdjustments": [{"MetricIntervalLowerBound": 0, "ScalingAdjustment": 1}],
        }
        watched = {key: alarm[key] for key in ("Namespace", "MetricName", "Dimensions", "Statistic", "Period", "EvaluationPeriods", "DatapointsToAlarm")}
        assert watched == {
            "Namespace": "AWS/SageMaker",
            "MetricName": "NoCapacityInvocationFailures",
            "Dimensions": [{"Name": "InferenceComponentName", "Value": component}],
            "Statistic": "Sum",
            "Period": 60,
            "EvaluationPeriods": 1,
            "DatapointsToAlarm": 1,
        }
        assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanOrEqualToThreshold", 1)


@pytest.mark.parametrize(("stack", "idle_minutes"), [("created", 15), ("scheduled", 30)])
def test_copies_go_to_zero_after_the_idle_minutes_without_a_call(request: pytest.FixtureRequest, stack: str, idle_minutes: int) -> None:
    resources = request.getfixturevalue(stack)
    for component in COMPONENTS:
        step, alarm = step_policies(resources, component)["idle"]
        assert step["AdjustmentType"] == "ExactCapacity" and step["MetricAggregationType"] == "Maximum"
        assert step["StepAdjustments"] == [{"MetricIntervalLowerBound": 0, "ScalingAdjustment": 0}]
        (expression,) = [m for m in alarm["Metrics"] if "Expression" in m]
        # A minute counts while a copy runs and no call came, served or refused: never while cold or warming.
        assert expression["Expression"] == "IF(FILL(copies, 0) > 0 AND FILL(served, 0) + FILL(refused, 0) == 0, 1, 0)"
        metrics = {m["Id"]: m["MetricStat"] for m in alarm["Metrics"] if "MetricStat" in m}
        dimensions = [{"Name": "InferenceComponentName", "Value": component}]
        assert metrics == {
            "copies": {
                "Metric": {"Namespace": "/aws/sagemaker/InferenceComponents", "MetricName": "CPUUtilizationNormalized", "Dimensions": dimensions},
                "Period": 60,
                "Stat": "SampleCount",
            },
            "served": {"Metric": {"Namespace": "AWS/SageMaker", "MetricName": "Invocations", "Dimensions": dimensions}, "Period": 60, "Stat": "Sum"},
            "refused": {
                "Metric": {"Namespace": "AWS/SageMaker", "MetricName": "NoCapacityInvocationFailures", "Dimensions": dimensions},
                "Period": 60,
                "Stat": "Sum",
            },
        }
        assert (alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"]) == (idle_minutes, idle_minutes)
        assert (alarm["ComparisonOperator"], alarm["Threshold"], alarm["TreatMissingData"]) == ("GreaterThanOrEqualToThreshold", 1, "notBreaching")


def test_a_warm_schedule_keeps_one_copy_between_its_start_and_end(scheduled: dict[str, Any], created: dict[str, Any]) -> None:
    for _, props in targets(scheduled).values():
        assert props["MinCapacity"] == 0
        assert props["ScheduledActions"] == [
            {"ScheduledActionName": "WarmFrom", "Schedule": "cron(0 8 ? * MON-FRI *)", "Timezone": "Europe/Paris", "ScalableTargetAction": {"MinCapacity": 1}},
            {
                "ScheduledActionName": "ColdAfter",
                "Schedule": "cron(0 18 ? * MON-FRI *)",
                "Timezone": "Europe/Paris",
                "ScalableTargetAction": {"MinCapacity": 0},
            },
        ]
    assert not [props for _, props in targets(created).values() if "ScheduledActions" in props]


def test_without_scale_to_zero_created_endpoints_stay_on_instances(on_instances: dict[str, Any]) -> None:
    assert not of_type(on_instances, "AWS::SageMaker::InferenceComponent")
    (model_name,) = of_type(on_instances, "AWS::SageMaker::Model")
    for config in of_type(on_instances, "AWS::SageMaker::EndpointConfig").values():
        assert "ExecutionRoleArn" not in config
        (variant,) = config["ProductionVariants"]
        assert variant["ModelName"] == {"Fn::GetAtt": [model_name, "ModelName"]} and variant["InitialInstanceCount"] == 2
        assert variant["ContainerStartupHealthCheckTimeoutInSeconds"] == 900 and "ManagedInstanceScaling" not in variant
    found = of_type(on_instances, "AWS::ApplicationAutoScaling::ScalableTarget").values()
    assert sorted(t["ResourceId"] for t in found) == ["endpoint/gen-a/variant/AllTraffic", "endpoint/gen-b/variant/AllTraffic"]
    assert all((t["ScalableDimension"], t["MinCapacity"], t["MaxCapacity"]) == ("sagemaker:variant:DesiredInstanceCount", 2, 3) for t in found)
    for policy in of_type(on_instances, "AWS::ApplicationAutoScaling::ScalingPolicy").values():
        tracking = policy["TargetTrackingScalingPolicyConfiguration"]
        assert (tracking["PredefinedMetricSpecification"]["PredefinedMetricType"], tracking["TargetValue"]) == ("SageMakerVariantInvocationsPerInstance", 4)


def test_existing_endpoints_never_scale_to_zero(resources: dict[str, Any]) -> None:
    """The default stack: endpointScaleToZero is on, but it calls existing endpoints by name."""
    assert not of_type(resources, "AWS::SageMaker::InferenceComponent") and not targets(resources)
    assert WARM.handler not in functions_by_handler(resources) and VARIABLE not in environment(resources, INVOKE_ENDPOINT.handler)


def test_a_region_without_inference_components_refuses_scale_to_zero_at_synth(tmp_path: Path) -> None:
    """af-south-1 has no AWS::SageMaker::InferenceComponent: CloudFormation Validate (an error by
    cdk.json's flag, infra/regions.py) says so at synth, rather than the deploy failing. (There,
    endpointScaleToZero=false keeps them on instances: tests/infra/test_regions.py.)"""
    image = "123456789012.dkr.ecr.af-south-1.amazonaws.com/my-diffusers:1"
    context = {f"text2image:{key}": value for key, value in {**CREATED, "endpointImageUri": image}.items()}
    app = App(outdir=str(tmp_path), context=cdk_context() | context)
    Text2ImageStack(app, "Text2Image", config=StackConfig.from_context(app.node), env=Environment(region="af-south-1"))
    with pytest.raises(RuntimeError, match="Resource type 'AWS::SageMaker::InferenceComponent' does not exist in 'af-south-1'"):
        app.synth()


# -- the functions ---------------------------------------------------------------------


def test_invoke_endpoint_and_warm_know_each_endpoints_component_and_collect_the_cold_start(created: dict[str, Any], scheduled: dict[str, Any]) -> None:
    for resources, cold_start in ((created, "420"), (scheduled, "300")):
        assert environment(resources, INVOKE_ENDPOINT.handler)[VARIABLE] == components_variable(ENDPOINTS) == '{"gen-a":"gen-a-model","gen-b":"gen-b-model"}'
        warm = environment(resources, WARM.handler)
        assert (warm[VARIABLE], warm["COLD_START_SECONDS"]) == (components_variable(ENDPOINTS), cold_start)
        assert environment(resources, COLLECT.handler)["COLD_START_SECONDS"] == cold_start
        assert "COLD_WAIT_SECONDS" not in environment(resources, PREPARE.handler)  # Prepare's default fits the workflow's 5 minutes
    warm_function = functions_by_handler(created)[WARM.handler]
    assert (warm_function["MemorySize"], warm_function["Timeout"]) == (WARM.memory_mb, WARM.timeout_seconds)


def test_without_scale_to_zero_nothing_names_a_component(on_instances: dict[str, Any]) -> None:
    assert WARM.handler not in functions_by_handler(on_instances)
    assert VARIABLE not in environment(on_instances, INVOKE_ENDPOINT.handler)
    assert sagemaker_statements(on_instances, "invokeendpointrole") == [(["sagemaker:InvokeEndpoint"], [sagemaker_arn("endpoint", e) for e in ENDPOINTS])]


def test_invoke_endpoint_may_call_the_endpoints_and_their_components_and_warm_only_update_those(created: dict[str, Any]) -> None:
    components = [sagemaker_arn("inference-component", c) for c in COMPONENTS]
    assert sagemaker_statements(created, "invokeendpointrole") == [
        (["sagemaker:InvokeEndpoint"], [sagemaker_arn("endpoint", e) for e in ENDPOINTS] + components)
    ]
    assert sagemaker_statements(created, "warmrole") == [
        (["sagemaker:DescribeInferenceComponent", "sagemaker:UpdateInferenceComponentRuntimeConfig"], components)
    ]


# -- the warm route and /config.json ---------------------------------------------------


def test_the_warm_route_is_the_warm_function_behind_sign_in_where_the_endpoints_scale_to_zero(created: dict[str, Any], scheduled: dict[str, Any]) -> None:
    for resources, authorization in ((created, "COGNITO_USER_POOLS"), (scheduled, "NONE")):
        method = methods(resources)[WARM_ROUTE]
        assert method["AuthorizationType"] == authorization
        integration = method["Integration"]
        assert (integration["Type"], integration["IntegrationHttpMethod"]) == ("AWS_PROXY", "POST")
        (warm_function,) = [n for n, p in of_type(resources, "AWS::Lambda::Function").items() if p.get("Handler") == WARM.handler]
        assert {"Fn::GetAtt": [warm_function, "Arn"]} in integration["Uri"]["Fn::Join"][1]


def test_no_warm_route_where_the_endpoints_do_not_scale_to_zero(resources: dict[str, Any], on_instances: dict[str, Any]) -> None:
    for stack in (resources, on_instances):
        assert WARM_ROUTE not in methods(stack)
        assert WARM_ROUTE[1] not in {resource_path(stack, {"Ref": name}) for name in of_type(stack, "AWS::ApiGateway::Resource")}


def staged_config(outdir: Path, resources: dict[str, Any]) -> Any:
    """config.json as the stack's BucketDeployment stages it (CloudFormation's values still markers)."""
    (deployment,) = of_type(resources, "Custom::CDKBucketDeployment").values()
    (path,) = [p for key in deployment["SourceObjectKeys"] if (p := outdir / f"asset.{key.removesuffix('.zip')}" / CONFIG_FILE).is_file()]
    return json.loads(path.read_text(encoding="utf-8"))


def test_config_json_says_warming_takes_the_cold_start_where_the_route_exists(
    scheduled_outdir: Path, scheduled: dict[str, Any], on_instances_outdir: Path, on_instances: dict[str, Any]
) -> None:
    assert staged_config(scheduled_outdir, scheduled)["warm"] == {"coldStartSeconds": 300}
    assert staged_config(on_instances_outdir, on_instances)["warm"] is None


# -- the dashboard ---------------------------------------------------------------------


def graph_rows(resources: dict[str, Any]) -> dict[str, list[list[Any]]]:
    (props,) = of_type(resources, "AWS::CloudWatch::Dashboard").values()
    widgets = json.loads(rendered(props["DashboardBody"]))["widgets"]
    return {w["properties"]["title"]: w["properties"]["metrics"] for w in widgets if "metrics" in w["properties"]}


def test_the_dashboard_shows_each_components_copies_and_refused_calls(created: dict[str, Any], on_instances: dict[str, Any]) -> None:
    charts = graph_rows(created)
    copies = charts["Model copies running (per inference component)"]
    assert copies == [
        [
            "/aws/sagemaker/InferenceComponents",
            "CPUUtilizationNormalized",
            "InferenceComponentName",
            c,
            {"label": f"copies {e}", "period": 60, "stat": "SampleCount"},
        ]
        for e, c in zip(ENDPOINTS, COMPONENTS, strict=True)
    ]
    refused = charts["Calls refused while cold (NoCapacityInvocationFailures)"]
    assert refused == [
        ["AWS/SageMaker", "NoCapacityInvocationFailures", "InferenceComponentName", c, {"label": f"refused {e}", "period": 60, "stat": "Sum"}]
        for e, c in zip(ENDPOINTS, COMPONENTS, strict=True)
    ]
    assert not {"Model copies running (per inference component)", "Calls refused while cold (NoCapacityInvocationFailures)"} & set(graph_rows(on_instances))


# -- configuration ---------------------------------------------------------------------


def config(**context: object) -> StackConfig:
    return StackConfig.from_context(App(context={f"text2image:{k}": v for k, v in context.items()}).node)


def test_scale_to_zero_is_on_for_created_endpoints_with_a_15_minute_idle_window_and_a_7_minute_cold_start() -> None:
    defaults = config()
    assert (defaults.endpoint_scale_to_zero, defaults.scales_to_zero) == (True, False)  # existing endpoints: nothing to scale
    assert (defaults.endpoint_idle_minutes, defaults.endpoint_cold_start_seconds) == (15, 420)
    assert (defaults.warm_schedule, defaults.warm_schedule_timezone) == (False, "UTC")
    assert config(**CREATED).scales_to_zero is True and config(**CREATED, endpointScaleToZero="false").scales_to_zero is False


@pytest.mark.parametrize(
    ("context", "complaint"),
    [
        ({"endpointIdleMinutes": 0}, r"endpointIdleMinutes must be 1\.\.1440"),
        ({"endpointIdleMinutes": 1441}, r"endpointIdleMinutes must be 1\.\.1440"),
        ({"endpointColdStartSeconds": 0}, r"endpointColdStartSeconds must be 1\.\.3600"),
        ({**CREATED, "endpointInstanceType": "ml.p4d.24xlarge"}, r"endpointScaleToZero: the memory of 'ml\.p4d\.24xlarge' is not known here"),
        ({**CREATED, "endpoints": "e" * 58}, r"inference component '<endpoint>-model', at most 63 characters: shorten \['e{58}'\]"),
        ({**CREATED, "warmScheduleStart": "cron(0 8 ? * MON-FRI *)"}, "warmScheduleStart and warmScheduleEnd go together"),
        ({**CREATED, "warmScheduleStart": "0 8 * * *", "warmScheduleEnd": "cron(0 18 ? * * *)"}, r"warmScheduleStart must be an Application Auto Scaling cron"),
        (
            {**CREATED, "warmScheduleStart": "cron(0 8 * * *)", "warmScheduleEnd": "cron(0 18 ? * * *)"},
            r"warmScheduleStart must be .* not 'cron\(0 8 \* \* \*\)'",
        ),
        ({**CREATED, "warmScheduleStart": "cron(0 8 ? * * *)", "warmScheduleEnd": "cron(0 18 * * * *)"}, r"warmScheduleEnd must be .*'\?' for one of the days"),
        ({**CREATED, **SCHEDULE, "warmScheduleTimezone": "Mars/Olympus"}, r"warmScheduleTimezone must be an IANA time zone .* not 'Mars/Olympus'"),
        ({**SCHEDULE}, "they need createEndpoints=true and endpointScaleToZero=true"),
        ({**CREATED, **SCHEDULE, "endpointScaleToZero": "false"}, "they need createEndpoints=true and endpointScaleToZero=true"),
    ],
)
def test_bad_scale_to_zero_settings_fail_synth_saying_why(context: dict[str, object], complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        config(**context)


def test_what_only_scale_to_zero_needs_is_not_asked_of_endpoints_on_instances() -> None:
    on_instances = {**CREATED, "endpointScaleToZero": "false"}
    assert config(**on_instances | {"endpointInstanceType": "ml.p4d.24xlarge"}).endpoint_instance_type == "ml.p4d.24xlarge"
    assert config(**on_instances | {"endpoints": "e" * 58}).endpoint_names == ["e" * 58]
    assert config(**CREATED, **SCHEDULE).warm_schedule is True
