"""Bulk batches as deployed (infra/batches.py and its parts elsewhere): the Standard batch workflow
and its role, the functions, the route, the drop rule, the lifecycle and the dashboard, on the
session's synthesized templates (conftest.py: cdk-nag runs on them; cfn-lint in test_cfn_lint.py;
asl-validator on the batch file in test_asl.py)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from aws_cdk import App
from template_queries import of_type, rendered, resource_path

from infra.config import StackConfig
from text2image import batch_workflow, manifest
from text2image.deploy_settings import context_defaults
from text2image.event_patterns import batch_file_pattern
from text2image.local.aws import render_definition
from text2image.manifest import BATCH_DROP, BATCH_STATUS, SUBMIT_BATCH
from text2image.paths import BATCH_STATE_MACHINE
from text2image.routes import BATCHES_ROUTE

PLACEHOLDER = re.compile(r"\$\{(\w+)\}")
# Each stack's endpoints x endpointMaxInstances x 2 lines per GPU (conftest.py's contexts).
SIZED_CONCURRENCY = {"default": 2 * 2 * 2, "created": 2 * 3 * 2}
# Each stack's region in its ARNs: the default stack is environment-agnostic.
REGION = {"default": "<Ref:AWS::Region>", "created": "eu-west-1"}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def statements_as_text(statements: list[dict[str, Any]]) -> list[tuple[tuple[str, ...], tuple[str, ...], str]]:
    """(actions, resources, condition) of each statement, sorted, the resources rendered."""
    return sorted(
        (tuple(as_list(s["Action"])), tuple(rendered(r) for r in as_list(s["Resource"])), json.dumps(s.get("Condition", {}), sort_keys=True))
        for s in statements
        if s["Effect"] == "Allow"
    )


def named(resources: dict[str, Any], kind: str, prefix: str) -> tuple[str, dict[str, Any]]:
    (found,) = [(name, props) for name, props in of_type(resources, kind).items() if name.startswith(prefix)]
    return found


def function(resources: dict[str, Any], construct_id: str) -> tuple[str, dict[str, Any]]:
    """The Batches construct's function ``construct_id`` (its logical id and properties)."""
    return named(resources, "AWS::Lambda::Function", "Batches" + construct_id.replace("-", ""))


def role_statements(resources: dict[str, Any], role_id: str) -> list[dict[str, Any]]:
    """Every statement of the policies attached to the role ``role_id``."""
    found: list[dict[str, Any]] = []
    for props in of_type(resources, "AWS::IAM::Policy").values():
        if {"Ref": role_id} in props["Roles"]:
            found += props["PolicyDocument"]["Statement"]
    return found


def batch_machine(resources: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return named(resources, "AWS::StepFunctions::StateMachine", "BatchesStateMachine")


def bucket_id(resources: dict[str, Any]) -> str:
    return named(resources, "AWS::S3::Bucket", "StorageBucket")[0]


def request_machine_id(resources: dict[str, Any]) -> str:
    return named(resources, "AWS::StepFunctions::StateMachine", "WorkflowStateMachine")[0]


def stack_kind(request: pytest.FixtureRequest) -> str:
    return str(request.node.callspec.params["stack_resources"])


# -- the batch workflow ----------------------------------------------------------------


def test_the_batch_workflow_is_standard_logged_without_execution_data_and_traced(stack_resources: dict[str, Any]) -> None:
    _, machine = batch_machine(stack_resources)
    assert machine["StateMachineType"] == "STANDARD"
    log_group, _ = named(stack_resources, "AWS::Logs::LogGroup", "BatchesLogs")
    logging = machine["LoggingConfiguration"]
    assert logging["Destinations"] == [{"CloudWatchLogsLogGroup": {"LogGroupArn": {"Fn::GetAtt": [log_group, "Arn"]}}}]
    assert (logging["Level"], logging["IncludeExecutionData"]) == (context_defaults()["workflowLogLevel"], False)
    assert machine["TracingConfiguration"] == {"Enabled": True}


def test_every_placeholder_of_the_batch_file_is_filled_the_lines_running_the_request_workflow(
    request: pytest.FixtureRequest, stack_resources: dict[str, Any]
) -> None:
    _, machine = batch_machine(stack_resources)
    substitutions = machine["DefinitionSubstitutions"]
    assert set(substitutions) == set(PLACEHOLDER.findall(BATCH_STATE_MACHINE.read_text(encoding="utf-8")))
    status_id, _ = function(stack_resources, "batch-status")
    assert substitutions[BATCH_STATUS.arn_placeholder] == {"Fn::GetAtt": [status_id, "Arn"]}
    assert substitutions[manifest.PARTITION_PLACEHOLDER] == {"Ref": "AWS::Partition"}
    assert substitutions[batch_workflow.REQUEST_STATE_MACHINE_PLACEHOLDER] == {"Ref": request_machine_id(stack_resources)}
    assert substitutions[batch_workflow.CONCURRENCY_PLACEHOLDER] == str(SIZED_CONCURRENCY[stack_kind(request)])
    assert substitutions[batch_workflow.TOLERATED_FAILURE_PLACEHOLDER] == "10"
    assert substitutions[batch_workflow.PROGRESS_SECONDS_PLACEHOLDER] == "10"
    # Each line is one run of the request workflow, as a job the map waits for.
    definition = json.loads(render_definition(BATCH_STATE_MACHINE.read_text(encoding="utf-8"), {name: rendered(v) for name, v in substitutions.items()}))
    (lines,) = [state for state in all_states(definition) if state.get("ItemProcessor")]
    (line,) = lines["ItemProcessor"]["States"].values()
    assert line["Resource"] == "arn:<Ref:AWS::Partition>:states:::states:startExecution.sync:2"
    assert line["Arguments"]["StateMachineArn"] == f"<Ref:{request_machine_id(stack_resources)}>"
    assert lines["ItemProcessor"]["ProcessorConfig"] == {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}
    assert lines["MaxConcurrency"] == "{% " + str(SIZED_CONCURRENCY[stack_kind(request)]) + " %}"


def all_states(definition: dict[str, Any]) -> list[dict[str, Any]]:
    """Every state of a definition, those of its branches and item processors included."""
    found = []
    for state in definition["States"].values():
        found.append(state)
        for inner in [*state.get("Branches", []), *([state["ItemProcessor"]] if "ItemProcessor" in state else [])]:
            found += all_states(inner)
    return found


def test_batch_concurrency_is_two_lines_per_gpu_unless_set() -> None:
    def config(**context: object) -> StackConfig:
        return StackConfig.from_context(App(context={f"text2image:{k}": v for k, v in context.items()}).node)

    assert config().batch_concurrency == 2 * 2 * 2
    assert config(endpoints="a,b,c,d", endpointMaxInstances=3).batch_concurrency == 4 * 3 * 2
    assert config(batchConcurrency="5").batch_concurrency == 5
    chosen = config(maxBatchLines="200", batchToleratedFailurePercentage="2.5")
    assert (chosen.max_batch_lines, chosen.batch_tolerated_failure_percentage) == (200, 2.5)


@pytest.mark.parametrize(
    ("context", "complaint"),
    [
        ({"maxBatchLines": 0}, "maxBatchLines must be at least 1"),
        ({"batchConcurrency": -1}, r"batchConcurrency must be 0 \(two lines per GPU.*or 1\.\.10000"),
        ({"batchConcurrency": 10_001}, "batchConcurrency must be 0"),
        ({"batchToleratedFailurePercentage": 101}, r"batchToleratedFailurePercentage must be 0\.\.100"),
        ({"batchToleratedFailurePercentage": -1}, "batchToleratedFailurePercentage must be"),
    ],
)
def test_bad_batch_settings_fail_synth_saying_why(context: dict[str, object], complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        StackConfig.from_context(App(context={f"text2image:{k}": v for k, v in context.items()}).node)


def test_the_batch_workflows_role_may_do_exactly_its_steps(request: pytest.FixtureRequest, stack_resources: dict[str, Any]) -> None:
    """The item reader, the lines' runs of the request workflow (startExecution.sync:2), the map's
    own child executions, the result writer and the status function; CloudWatch Logs delivery and
    X-Ray as every state machine with logs and tracing."""
    name, machine = batch_machine(stack_resources)
    role = machine["RoleArn"]["Fn::GetAtt"][0]
    objects = f"<{bucket_id(stack_resources)}.Arn>/batches/*/"
    request_id = request_machine_id(stack_resources)
    account = "arn:<Ref:AWS::Partition>:{service}:" + REGION[stack_kind(request)] + ":<Ref:AWS::AccountId>:"
    states, events = account.format(service="states"), account.format(service="events")
    status_id, _ = function(stack_resources, "batch-status")
    logs_delivery = (
        "logs:CreateLogDelivery",
        "logs:GetLogDelivery",
        "logs:UpdateLogDelivery",
        "logs:DeleteLogDelivery",
        "logs:ListLogDeliveries",
        "logs:PutResourcePolicy",
        "logs:DescribeResourcePolicies",
        "logs:DescribeLogGroups",
    )
    none = "{}"
    assert statements_as_text(role_statements(stack_resources, role)) == sorted(
        [
            (logs_delivery, ("*",), none),
            (("xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets"), ("*",), none),
            (("s3:GetObject",), (objects + "input.jsonl",), none),
            (("s3:PutObject", "s3:GetObject", "s3:ListMultipartUploadParts", "s3:AbortMultipartUpload"), (objects + "results/*",), none),
            (("lambda:InvokeFunction",), (f"<{status_id}.Arn>",), none),
            (("states:StartExecution",), (f"<Ref:{request_id}>",), none),
            (("states:DescribeExecution", "states:StopExecution"), tuple(f"{states}{kind}:<{request_id}.Name>:*" for kind in ("execution", "express")), none),
            (("events:PutTargets", "events:PutRule", "events:DescribeRule"), (f"{events}rule/StepFunctionsGetEventsForStepFunctionsExecutionRule",), none),
            (("states:StartExecution",), (f"<Ref:{name}>",), none),
            (("states:DescribeExecution", "states:StopExecution"), (f"{states}execution:<{name}.Name>/*:*",), none),
            (("states:RedriveExecution",), (f"{states}execution:<{name}.Name>/*:*",), none),
        ]
    )


# -- the functions ---------------------------------------------------------------------


def test_the_batch_functions_run_their_manifest_handlers_with_their_settings(stack_resources: dict[str, Any]) -> None:
    machine_id, _ = batch_machine(stack_resources)
    defaults = context_defaults()
    for construct_id, spec in (("submit-batch", SUBMIT_BATCH), ("batch-drop", BATCH_DROP), ("batch-status", BATCH_STATUS)):
        _, props = function(stack_resources, construct_id)
        assert (props["Handler"], props["MemorySize"], props["Timeout"]) == (spec.handler, spec.memory_mb, spec.timeout_seconds)
        assert props["Architectures"] == ["arm64"] and props["TracingConfig"] == {"Mode": "Active"}
        env = props["Environment"]["Variables"]
        assert env["BUCKET_NAME"] == {"Ref": bucket_id(stack_resources)}
        assert env["POWERTOOLS_SERVICE_NAME"] == "text2image"
        if spec is BATCH_STATUS:
            assert "BATCH_STATE_MACHINE_ARN" not in env
            continue
        assert env["BATCH_STATE_MACHINE_ARN"] == {"Ref": machine_id}
        assert env["PUBLIC_BASE_URL_PARAMETER"].startswith("/text2image/") and env["PUBLIC_BASE_URL_PARAMETER"].endswith("/public-base-url")
        assert (env["MAX_BATCH_LINES"], env["MAX_BATCH_BYTES"], env["MAX_DROP_BYTES"], env["DEFAULT_NUM_IMAGES"]) == (
            str(defaults["maxBatchLines"]),
            str(4 * 1024 * 1024),
            str(32 * 1024 * 1024),
            str(defaults["defaultNumImages"]),
        )


def test_with_sign_in_the_submit_function_reads_the_quota_as_prepare_does(stack_resources: dict[str, Any]) -> None:
    """A signed-in caller's batch must fit their day's quota before it starts: the same table and limit as Prepare's."""
    submit = function(stack_resources, "submit-batch")[1]["Environment"]["Variables"]
    (prepare,) = [
        props["Environment"]["Variables"] for name, props in of_type(stack_resources, "AWS::Lambda::Function").items() if props["Handler"] == "prepare.handler"
    ]
    quota = {name: prepare[name] for name in ("USAGE_TABLE", "DAILY_IMAGES_PER_USER")}
    assert {name: submit[name] for name in quota} == quota and quota["DAILY_IMAGES_PER_USER"] == str(context_defaults()["dailyImagesPerUser"])
    assert "USAGE_TABLE" not in function(stack_resources, "batch-drop")[1]["Environment"]["Variables"]  # a dropped file has no caller


def test_without_sign_in_the_submit_function_has_no_quota(open_resources: dict[str, Any]) -> None:
    submit = function(open_resources, "submit-batch")[1]["Environment"]["Variables"]
    assert not {"USAGE_TABLE", "DAILY_IMAGES_PER_USER"} & submit.keys()


def test_each_batch_function_may_touch_only_its_keys_the_batch_workflow_and_the_url(request: pytest.FixtureRequest, stack_resources: dict[str, Any]) -> None:
    bucket = bucket_id(stack_resources)
    machine_id, _ = batch_machine(stack_resources)
    none = "{}"
    xray = (("xray:PutTraceSegments", "xray:PutTelemetryRecords"), ("*",), none)

    def own_logs(construct_id: str) -> tuple[tuple[str, ...], tuple[str, ...], str]:
        log_group, _ = named(stack_resources, "AWS::Logs::LogGroup", f"Batches{construct_id.replace('-', '')}logs")
        return ("logs:CreateLogStream", "logs:PutLogEvents"), (f"<{log_group}.Arn>",), none

    def statements(construct_id: str) -> list[tuple[tuple[str, ...], tuple[str, ...], str]]:
        _, props = function(stack_resources, construct_id)
        return statements_as_text(role_statements(stack_resources, props["Role"]["Fn::GetAtt"][0]))

    for construct_id in ("submit-batch", "batch-drop"):
        found = statements(construct_id)
        _, props = function(stack_resources, construct_id)
        name = props["Environment"]["Variables"]["PUBLIC_BASE_URL_PARAMETER"]
        parameter = f"arn:<Ref:AWS::Partition>:ssm:{REGION[stack_kind(request)]}:<Ref:AWS::AccountId>:parameter{name}"
        expected = [
            own_logs(construct_id),
            xray,
            (("s3:PutObject", "s3:GetObject"), (f"<{bucket}.Arn>/batches/*",), none),
            (("states:StartExecution",), (f"<Ref:{machine_id}>",), none),
            (("ssm:GetParameter",), (parameter,), none),
        ]
        if construct_id == "batch-drop":  # the function's failed runs go to the events DLQ
            (queue,) = of_type(stack_resources, "AWS::SQS::Queue")
            expected.append((("sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"), (f"<{queue}.Arn>",), none))
        else:  # signed in: the caller's day in the usage table, and whether a batch exists (its status key listed)
            (table,) = of_type(stack_resources, "AWS::DynamoDB::Table")
            expected.append((("dynamodb:GetItem",), (f"<{table}.Arn>",), none))
            expected.append((("s3:ListBucket",), (f"<{bucket}.Arn>",), json.dumps({"StringLike": {"s3:prefix": ["batches/*"]}}, sort_keys=True)))
        assert found == sorted(expected), construct_id
    assert statements("batch-status") == sorted(
        [
            own_logs("batch-status"),
            xray,
            (("s3:GetObject", "s3:PutObject"), (f"<{bucket}.Arn>/batches/*/status.json",), none),
            (("s3:ListBucket",), (f"<{bucket}.Arn>",), json.dumps({"StringLike": {"s3:prefix": ["requests/*"]}}, sort_keys=True)),
            (("s3:GetObject",), (f"<{bucket}.Arn>/requests/*",), none),
        ]
    )


# -- the route -------------------------------------------------------------------------


def batches_method(resources: dict[str, Any]) -> dict[str, Any]:
    method, path = BATCHES_ROUTE
    (found,) = [
        props
        for props in of_type(resources, "AWS::ApiGateway::Method").values()
        if props["HttpMethod"] == method and resource_path(resources, props["ResourceId"]) == path
    ]
    return found


def test_the_batches_route_hands_the_files_bytes_to_the_submit_function_signed_in(request: pytest.FixtureRequest, stack_resources: dict[str, Any]) -> None:
    method = batches_method(stack_resources)
    assert method["ApiKeyRequired"] is (stack_kind(request) == "created")  # as every route where the stack requires an API key
    submit_id, _ = function(stack_resources, "submit-batch")
    integration = method["Integration"]
    assert (integration["Type"], integration["IntegrationHttpMethod"]) == ("AWS_PROXY", "POST")
    assert f"<{submit_id}.Arn>/invocations" in rendered(integration["Uri"])
    (authorizer,) = of_type(stack_resources, "AWS::ApiGateway::Authorizer")
    assert (method["AuthorizationType"], method["AuthorizerId"]) == ("COGNITO_USER_POOLS", {"Ref": authorizer})
    (api,) = of_type(stack_resources, "AWS::ApiGateway::RestApi").values()
    assert api["BinaryMediaTypes"] == ["application/x-ndjson", "text/csv"]
    permissions = [p for p in of_type(stack_resources, "AWS::Lambda::Permission").values() if p["FunctionName"] == {"Fn::GetAtt": [submit_id, "Arn"]}]
    assert permissions and {p["Principal"] for p in permissions} == {"apigateway.amazonaws.com"}


def test_the_batches_route_is_open_only_where_the_api_is(open_resources: dict[str, Any]) -> None:
    method = batches_method(open_resources)
    assert method["AuthorizationType"] == "NONE" and "AuthorizerId" not in method


def test_a_body_over_api_gateways_limit_is_a_400_naming_the_limit(stack_resources: dict[str, Any]) -> None:
    (response,) = [p for p in of_type(stack_resources, "AWS::ApiGateway::GatewayResponse").values() if p["ResponseType"] == "REQUEST_TOO_LARGE"]
    body = json.loads(response["ResponseTemplates"]["application/json"])
    assert response["StatusCode"] == "400"
    assert body["error"] == "ValidationError" and body["message"].startswith("body: over API Gateway's 10 MB limit") and "batches/inbox/" in body["message"]


# -- the S3 drop -----------------------------------------------------------------------


def test_a_file_dropped_under_batches_inbox_reaches_the_drop_function_with_retries_and_the_dlq(stack_resources: dict[str, Any]) -> None:
    drop_id, _ = function(stack_resources, "batch-drop")
    (queue,) = of_type(stack_resources, "AWS::SQS::Queue")
    (rule,) = [r for r in of_type(stack_resources, "AWS::Events::Rule").values() if r["Targets"][0]["Arn"] == {"Fn::GetAtt": [drop_id, "Arn"]}]
    assert rule["EventPattern"] == batch_file_pattern("BUCKET") | {
        "detail": {"bucket": {"name": [{"Ref": bucket_id(stack_resources)}]}, "object": {"key": [{"prefix": "batches/inbox/"}]}}
    }
    (target,) = rule["Targets"]
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [queue, "Arn"]}}
    assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 4}
    (invoke_config,) = [c for c in of_type(stack_resources, "AWS::Lambda::EventInvokeConfig").values() if c["FunctionName"] == {"Ref": drop_id}]
    assert invoke_config["DestinationConfig"] == {"OnFailure": {"Destination": {"Fn::GetAtt": [queue, "Arn"]}}}
    assert (invoke_config["MaximumRetryAttempts"], invoke_config["MaximumEventAgeInSeconds"]) == (2, 3600)
    permissions = [p for p in of_type(stack_resources, "AWS::Lambda::Permission").values() if p["FunctionName"] == {"Fn::GetAtt": [drop_id, "Arn"]}]
    assert [p["Principal"] for p in permissions] == ["events.amazonaws.com"]


# -- storage and the dashboard ---------------------------------------------------------


def test_batches_expire_with_the_images_they_list(stack_resources: dict[str, Any]) -> None:
    _, bucket = named(stack_resources, "AWS::S3::Bucket", "StorageBucket")
    rules = {rule.get("Prefix"): rule for rule in bucket["LifecycleConfiguration"]["Rules"]}
    assert rules["batches/"]["ExpirationInDays"] == rules["images/"]["ExpirationInDays"] == context_defaults()["imageRetentionDays"]
    assert rules["batches/"]["Status"] == "Enabled"


def test_the_dashboard_shows_batch_lines_and_a_failed_batch_alarms(stack_resources: dict[str, Any]) -> None:
    (dashboard,) = of_type(stack_resources, "AWS::CloudWatch::Dashboard").values()
    body = rendered(dashboard["DashboardBody"])
    for metric in ("BatchLinesSubmitted", "BatchLinesFailed", "BatchImagesDelivered", "BatchesRefused"):
        assert f'["text2image","{metric}","service","text2image"' in body, metric
    machine_id, _ = batch_machine(stack_resources)
    assert f'"ExecutionsFailed","StateMachineArn","<Ref:{machine_id}>"' in body
    alarms = [
        a
        for a in of_type(stack_resources, "AWS::CloudWatch::Alarm").values()
        if a.get("Dimensions") == [{"Name": "StateMachineArn", "Value": {"Ref": machine_id}}]
    ]
    (alarm,) = alarms
    assert (alarm["MetricName"], alarm["Threshold"], alarm["ComparisonOperator"], alarm["Statistic"]) == ("ExecutionsFailed", 0, "GreaterThanThreshold", "Sum")
    assert alarm["AlarmActions"] and alarm["TreatMissingData"] == "notBreaching"
