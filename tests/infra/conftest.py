"""Fixtures for the API tests: the Velocity runner, and the synthesized API's mapping
templates (what deploys), keyed by the Step Functions action each route calls."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from template_queries import flattened
from vtl import Velocity

# What the deployed template's tokens stand for, where a test needs a value.
STATE_MACHINE_ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:Text2Image"
_REFS = {"AWS::Partition": "aws", "AWS::Region": "us-east-1"}
_STATE_MACHINE_REF = "WorkflowStateMachine"


def resolve(value: Any) -> str:
    """A template string with its Fn::Join and Refs resolved (the state machine's Ref is its ARN)."""
    return flattened(value, lambda token: STATE_MACHINE_ARN if token["Ref"].startswith(_STATE_MACHINE_REF) else _REFS[token["Ref"]])


@pytest.fixture(scope="session")
def velocity(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Velocity]:
    """Apache Velocity 1.7 with API Gateway's variables: compiled and started once per session."""
    engine = Velocity(tmp_path_factory.mktemp("velocity"))
    yield engine
    engine.close()


def api_methods(resources: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The API's methods that start the workflow, by the Step Functions action they call
    (StartSyncExecution, StartExecution)."""
    methods = (r["Properties"] for r in resources.values() if r["Type"] == "AWS::ApiGateway::Method")
    return {resolve(m["Integration"]["Uri"]).rsplit("/", 1)[1]: m for m in methods if m["Integration"]["Type"] == "AWS"}


@pytest.fixture(scope="session")
def methods(resources: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The default stack's methods by action."""
    return api_methods(resources)


@pytest.fixture(scope="session")
def open_resources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The stack with ``text2image:auth=none`` (an open API, by explicit choice), synthesized
    with cdk-nag: synth raises on a finding that is not acknowledged."""
    from aws_cdk import App, Validations
    from cdk_nag import AwsSolutionsChecks

    from infra.config import StackConfig
    from infra.stack import Text2ImageStack
    from text2image.deploy_settings import cdk_context

    app = App(outdir=str(tmp_path_factory.mktemp("open")), context=cdk_context() | {"text2image:auth": "none"})
    stack = Text2ImageStack(app, "Text2ImageOpen", config=StackConfig.from_context(app.node))
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    found: dict[str, Any] = app.synth().get_stack_by_name(stack.stack_name).template["Resources"]
    return found


@pytest.fixture(scope="session")
def open_request_templates(open_resources: dict[str, Any]) -> dict[str, str]:
    """Each route's request template on the open stack."""
    return {action: resolve(method["Integration"]["RequestTemplates"]["application/json"]) for action, method in api_methods(open_resources).items()}


@pytest.fixture(scope="session")
def state_machine_arn() -> str:
    return STATE_MACHINE_ARN


@pytest.fixture(scope="session")
def request_templates(methods: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Each route's request template, as deployed (the state machine's ARN in place)."""
    return {action: resolve(method["Integration"]["RequestTemplates"]["application/json"]) for action, method in methods.items()}


@pytest.fixture(scope="session", params=["default", "created"])
def stack_resources(request: pytest.FixtureRequest, template: Any, created_template: Any) -> dict[str, Any]:
    """Each synthesized stack's resources in turn: the default one, and the one with created
    endpoints, an API key, self sign-up for a domain and pages on other origins."""
    chosen = template if request.param == "default" else created_template
    found: dict[str, Any] = chosen.to_json()["Resources"]
    return found


@pytest.fixture(scope="session")
def stack_methods(stack_resources: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return api_methods(stack_resources)
