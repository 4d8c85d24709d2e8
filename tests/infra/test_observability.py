"""The dashboard, the alarms and their SNS topic (infra/observability.py) on the synthesized
templates; cdk-nag (conftest.py's synth) and cfn-lint (test_cfn_lint.py) check the same templates."""

from __future__ import annotations

import ast
import json
from typing import Any

import pytest
from aws_cdk import App
from template_queries import of_type, rendered

from infra.config import StackConfig
from infra.observability import INVOCATION_ERRORS, RUN_METRICS
from text2image.manifest import INVOKE_ENDPOINT

ENDPOINTS = {"default": ["sd-1", "sd-2"], "created": ["gen-a", "gen-b"]}


def dashboard(resources: dict[str, Any]) -> list[dict[str, Any]]:
    (props,) = of_type(resources, "AWS::CloudWatch::Dashboard").values()
    widgets: list[dict[str, Any]] = json.loads(rendered(props["DashboardBody"]))["widgets"]
    return widgets


def graphs(resources: dict[str, Any]) -> dict[str, list[list[Any]]]:
    """Each graph's metric rows by its title."""
    return {w["properties"]["title"]: w["properties"]["metrics"] for w in dashboard(resources) if "metrics" in w["properties"]}


def metric_rows(rows: list[list[Any]]) -> list[tuple[str, str, dict[str, str], dict[str, Any]]]:
    """(namespace, name, dimensions, options) of each row that is a metric, not an expression."""
    found = []
    for row in rows:
        if isinstance(row[0], dict):
            continue
        options = row[-1] if isinstance(row[-1], dict) else {}
        plain = row[:-1] if options else row
        namespace, name, *dims = plain
        found.append((namespace, name, dict(zip(dims[::2], dims[1::2], strict=True)), options))
    return found


@pytest.fixture
def endpoints(request: pytest.FixtureRequest, stack_resources: dict[str, Any]) -> list[str]:
    return ENDPOINTS[request.node.callspec.params["stack_resources"]]


def test_the_dashboard_shows_the_functions_metrics_by_name(stack_resources: dict[str, Any], endpoints: list[str]) -> None:
    charts = graphs(stack_resources)
    runs = metric_rows(charts["Requests and images per minute"])
    assert [(ns, name, dims) for ns, name, dims, _ in runs] == [("text2image", name, {"service": "text2image"}) for name in RUN_METRICS]
    assert [(ns, name, dims) for ns, name, dims, _ in metric_rows(charts["Quota refusals"])] == [("text2image", "QuotaRefusals", {"service": "text2image"})]
    busy = metric_rows(charts["EndpointBusy per endpoint"])
    assert [(name, dims) for _, name, dims, _ in busy] == [("EndpointBusy", {"service": "text2image", "endpoint": e}) for e in endpoints]
    # Failures: one line per error name, summed over the endpoints from hidden per-endpoint metrics.
    failures = charts["Failures by error name (per minute, all endpoints)"]
    assert [row[0]["label"] for row in failures if isinstance(row[0], dict)] == list(INVOCATION_ERRORS)
    hidden = {(name, dims["endpoint"]) for _, name, dims, options in metric_rows(failures) if options.get("visible") is False}
    assert hidden == {(name, e) for name in INVOCATION_ERRORS for e in endpoints}


def test_the_dashboard_shows_run_time_endpoints_dlq_quota_and_api_errors(stack_resources: dict[str, Any], endpoints: list[str]) -> None:
    charts = graphs(stack_resources)
    run_time = metric_rows(charts["Run time p50/p95 (state machine ExecutionTime)"])
    assert [(ns, name, options["stat"]) for ns, name, _, options in run_time] == [
        ("AWS/States", "ExecutionTime", "p50"),
        ("AWS/States", "ExecutionTime", "p95"),
    ]
    for title, metric in (("Endpoint ModelLatency (average)", "ModelLatency"), ("Endpoint invocations", "Invocations")):
        shown = [(ns, name, dims) for ns, name, dims, _ in metric_rows(charts[title])]
        assert shown == [("AWS/SageMaker", metric, {"EndpointName": e, "VariantName": "AllTraffic"}) for e in endpoints]
    assert [(ns, name) for ns, name, _, _ in metric_rows(charts["Events DLQ depth"])] == [("AWS/SQS", "ApproximateNumberOfMessagesVisible")]
    api = metric_rows(charts["API 4xx and 5xx"])
    assert [(ns, name, sorted(dims)) for ns, name, dims, _ in api] == [("AWS/ApiGateway", n, ["ApiName", "Stage"]) for n in ("4XXError", "5XXError")]
    assert [w for w in dashboard(stack_resources) if w["type"] == "alarm"], "the alarms' states on the dashboard"


def test_instance_counts_only_where_the_stack_creates_the_endpoints(template: Any, created_template: Any) -> None:
    created = graphs(created_template.to_json()["Resources"])["Endpoint instances (while calls arrive)"]
    assert [row[0]["label"] for row in created if isinstance(row[0], dict)] == ["instances gen-a", "instances gen-b"]
    assert {name for _, name, _, _ in metric_rows(created)} == {"Invocations", "InvocationsPerInstance"}
    assert "Endpoint instances (while calls arrive)" not in graphs(template.to_json()["Resources"])


def alarms(resources: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: props for name, props in of_type(resources, "AWS::CloudWatch::Alarm").items() if name.startswith("Observability")}


def topic_ref(resources: dict[str, Any]) -> dict[str, str]:
    (name,) = of_type(resources, "AWS::SNS::Topic")
    return {"Ref": name}


def watched(alarm: dict[str, Any]) -> tuple[str | None, list[tuple[str, str, dict[str, str], int]]]:
    """An alarm's expression (None for a single metric) and its metrics: (namespace, name, dimensions, period)."""
    if "MetricName" in alarm:
        dims = {d["Name"]: rendered(d["Value"]) for d in alarm.get("Dimensions", [])}
        return None, [(alarm["Namespace"], alarm["MetricName"], dims, alarm["Period"])]
    expressions = [m["Expression"] for m in alarm["Metrics"] if "Expression" in m]
    stats = [m["MetricStat"] for m in alarm["Metrics"] if "MetricStat" in m]
    metrics = [
        (s["Metric"]["Namespace"], s["Metric"]["MetricName"], {d["Name"]: rendered(d["Value"]) for d in s["Metric"]["Dimensions"]}, s["Period"]) for s in stats
    ]
    return (expressions[0] if expressions else None), metrics


def test_each_alarm_watches_its_metric_at_its_threshold_and_tells_the_topic(stack_resources: dict[str, Any], endpoints: list[str]) -> None:
    found = list(alarms(stack_resources).values())
    assert len(found) == 4 + len(endpoints)  # the failed batches' alarm: test_batches_stack.py
    for props in found:
        assert props["AlarmActions"] == [topic_ref(stack_resources)] and props["TreatMissingData"] == "notBreaching"
        assert props["EvaluationPeriods"] == 1
    by_watch = {
        (expression, tuple((ns, name, tuple(sorted(dims.items())), period) for ns, name, dims, period in metrics)): props
        for props in found
        for expression, metrics in [watched(props)]
    }
    gets = {key: (props["Threshold"], props["ComparisonOperator"]) for key, props in by_watch.items()}
    dlq = next(key for key in gets if key[1][0][:2] == ("AWS/SQS", "ApproximateNumberOfMessagesVisible"))
    assert gets[dlq] == (0, "GreaterThanThreshold") and dlq[1][0][3] == 300 and by_watch[dlq]["Statistic"] == "Maximum"
    service = (("service", "text2image"),)
    # The API's 5xx but the 503 WarmingUp answers of a cold start (Collect counts them as WarmingUpAnswers).
    (api,) = [key for key in gets if key[0] == "errors - FILL(warming, 0)"]
    assert {(ns, name, period) for ns, name, _, period in api[1]} == {("AWS/ApiGateway", "5XXError", 300), ("text2image", "WarmingUpAnswers", 300)}
    assert ("text2image", "WarmingUpAnswers", service, 300) in api[1]
    assert gets[api] == (5, "GreaterThanOrEqualToThreshold")
    assert {m["MetricStat"]["Stat"] for m in by_watch[api]["Metrics"] if "MetricStat" in m} == {"Sum"}
    failed = (
        "IF(delivered + failed >= 10, failed / (delivered + failed), 0)",
        (("text2image", "ImagesFailed", service, 900), ("text2image", "ImagesDelivered", service, 900)),
    )
    assert gets[failed] == (0.1, "GreaterThanThreshold")
    for endpoint in endpoints:
        model_errors = (None, (("text2image", "ModelError", (("endpoint", endpoint), *service), 300),))
        assert gets[model_errors] == (3, "GreaterThanOrEqualToThreshold")


def test_the_topic_is_encrypted_with_a_key_cloudwatch_may_use_and_takes_tls_only(stack_resources: dict[str, Any]) -> None:
    (topic,) = of_type(stack_resources, "AWS::SNS::Topic").values()
    (key_name, key), *_ = of_type(stack_resources, "AWS::KMS::Key").items()
    assert topic["KmsMasterKeyId"] == {"Fn::GetAtt": [key_name, "Arn"]} and key["EnableKeyRotation"] is True
    grants = [s for s in key["KeyPolicy"]["Statement"] if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}]
    assert [sorted(s["Action"]) for s in grants] == [["kms:Decrypt", "kms:GenerateDataKey*"]]
    (policy,) = of_type(stack_resources, "AWS::SNS::TopicPolicy").values()
    (deny,) = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_alarm_email_subscribes_an_address_only_where_given(template: Any, created_template: Any) -> None:
    assert not of_type(template.to_json()["Resources"], "AWS::SNS::Subscription")
    (subscription,) = of_type(created_template.to_json()["Resources"], "AWS::SNS::Subscription").values()
    assert (subscription["Protocol"], subscription["Endpoint"]) == ("email", "ops@example.org")


@pytest.mark.parametrize("created", [False, True])
def test_outputs_link_the_dashboard_and_the_topic(created: bool, template: Any, created_template: Any) -> None:
    chosen = (created_template if created else template).to_json()
    url = chosen["Outputs"]["DashboardUrl"]["Value"]
    (props,) = of_type(chosen["Resources"], "AWS::CloudWatch::Dashboard").values()
    region = "eu-west-1" if created else "<Ref:AWS::Region>"
    assert rendered(url) == f"https://console.aws.amazon.com/cloudwatch/home?region={region}#dashboards:name={props['DashboardName']}"
    assert chosen["Outputs"]["AlarmTopicArn"]["Value"] == topic_ref(chosen["Resources"])


def test_the_failure_lines_are_the_errors_invoke_endpoint_counts() -> None:
    """The handler counts each exception it catches under the exception's name: the dashboard's list is that list."""
    tree = ast.parse((INVOKE_ENDPOINT.path / "invoke_endpoint.py").read_text(encoding="utf-8"))
    (handler,) = [node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == "handler"]
    caught = [h.type for node in ast.walk(handler) if isinstance(node, ast.Try) for h in node.handlers]
    (errors,) = [tuple(elt.id for elt in t.elts) for t in caught if isinstance(t, ast.Tuple)]  # type: ignore[attr-defined]
    assert errors == INVOCATION_ERRORS, "infra/observability.py's INVOCATION_ERRORS must list the errors InvokeEndpoint counts by name"


@pytest.mark.parametrize("address", ["ops", "ops@example.org,dev@example.org", "ops @example.org", "ops@localhost"])
def test_alarm_email_must_be_one_address(address: str) -> None:
    with pytest.raises(ValueError, match="alarmEmail must be one e-mail address"):
        StackConfig.from_context(App(context={"text2image:alarmEmail": address}).node)
    assert StackConfig.from_context(App(context={"text2image:alarmEmail": " Ops.Team+alarms@Example.org "}).node).alarm_email == "Ops.Team+alarms@Example.org"
