"""Shared fixtures. One local stack per test process: moto's backends and the handlers'
cold-start settings are process-wide, as they are per Lambda container on AWS. One CDK
synth per test session for the infra tests."""

from __future__ import annotations

import os

# Before anything imports aws_cdk: jsii prints a Node 20 end-of-life banner otherwise.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
# The diffusers tests load everything from folders they build: any Hugging Face Hub access
# (here and in the processes they start) fails instead of silently downloading.
os.environ["HF_HUB_OFFLINE"] = "1"

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from support import CORPUS

if TYPE_CHECKING:
    from aws_cdk.assertions import Template
    from infra_synth import Synth

from text2image.local.gateway import GatewayConfig
from text2image.local.lambdas import add_function_paths
from text2image.local.stack import LocalStack, StackConfig
from text2image.manifest import LAMBDAS

add_function_paths()  # the pure modules of the Lambda folders are importable by name


# Retry waits at 1/100 of the ASL's intervals; an endpoint call limit of 2 s instead of 60 s.
TEST_STACK = StackConfig(port=0, endpoints=2, retry_time_scale=0.01, invocation_limit=2.0, gateway=GatewayConfig(throttle_rate=1000, throttle_burst=1000))


@pytest.fixture(scope="session")
def stack() -> Iterator[LocalStack]:
    local = LocalStack(TEST_STACK).start()
    yield local
    local.stop()


@pytest.fixture(scope="session")
def tiny_pipeline_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random-weight Stable Diffusion pipeline saved with save_pretrained (built once)."""
    from text2image.tiny_pipeline import build_tiny_pipeline

    return build_tiny_pipeline(tmp_path_factory.mktemp("tiny-sd"))


def forget_cold_starts() -> None:
    """Empty the handlers' cached settings and clients: their next use reads the environment
    anew, as in a new container."""
    handler_modules = (sys.modules.get(function.handler.split(".")[0]) for function in LAMBDAS)
    for module in filter(None, handler_modules):  # one not imported yet holds nothing
        for value in vars(module).values():
            if callable(getattr(value, "cache_clear", None)):
                value.cache_clear()


@pytest.fixture
def cold_start() -> Iterator[None]:
    """A cold start for each handler at its next use, and again after the test, so that what
    the test set in the environment stays with it."""
    forget_cold_starts()
    yield
    forget_cold_starts()


@pytest.fixture
def clean_stack(stack: LocalStack) -> LocalStack:
    """The session stack with no faults and zeroed endpoint counters."""
    stack.endpoints.clear_faults()
    stack.endpoints.reset_stats()
    return stack


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``valid_case`` / ``invalid_case`` parameters run over the shared request corpus."""
    for kind in ("valid", "invalid"):
        if f"{kind}_case" in metafunc.fixturenames:
            cases = CORPUS[kind]
            metafunc.parametrize(f"{kind}_case", cases, ids=[case["name"] for case in cases])


CREATED_ENDPOINTS = {
    "text2image:endpoints": "gen-a,gen-b",
    "text2image:createEndpoints": "true",
    "text2image:endpointModelDataUrl": "s3://my-models/sd/model.tar.gz",
    "text2image:endpointModelId": "stabilityai/sd-turbo",
    "text2image:endpointScheduler": "euler_a",
    "text2image:endpointInstanceType": "ml.g6.xlarge",
    "text2image:endpointInstanceCount": "2",
    "text2image:endpointMaxInstances": 3,
    "text2image:apiKey": "true",
    # Sign-in's options too: self sign-up for a domain (the pre sign-up trigger), pages on other origins.
    "text2image:signUpDomains": "example.org",
    "text2image:corsOrigins": "https://pages.example.org,http://localhost:5173",
    # The alarms' topic mails this address (infra/observability.py); the default stack subscribes none.
    "text2image:alarmEmail": "ops@example.org",
}


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synth]:
    """The default stack, and one that creates its endpoints and an API key, lets a domain sign
    up and pages on other origins call the API (its own app: context is per app), each
    synthesized once, with cdk-nag registered: synth raises on any finding that is not
    acknowledged. Imported here, not at the top, so tests that need no
    synth do not pay for aws_cdk."""
    from aws_cdk import App, Environment, Validations
    from cdk_nag import AwsSolutionsChecks
    from infra_synth import Synth

    from infra.config import StackConfig as InfraConfig
    from infra.stack import Text2ImageStack
    from text2image.deploy_settings import cdk_context

    outdir = tmp_path_factory.mktemp("cdk.out")
    # cdk.json's context as `cdk synth` passes it (feature flags too): the template tested is
    # the template deployed.
    app = App(outdir=str(outdir), context=cdk_context())
    default = Text2ImageStack(app, "Text2Image", config=InfraConfig.from_context(app.node))
    created_scope = App(outdir=str(outdir / "created"), context=cdk_context() | CREATED_ENDPOINTS)
    created = Text2ImageStack(created_scope, "Text2ImageEndpoints", config=InfraConfig.from_context(created_scope.node), env=Environment(region="eu-west-1"))
    for each in (app, created_scope):
        Validations.of(each).add_plugins(AwsSolutionsChecks(each))
        each.synth()
    yield Synth(app, default, created, Path(outdir))


@pytest.fixture(scope="session")
def template(synth: Synth) -> Template:
    """The default stack's template. Template.from_stack refuses a template with a
    dependency cycle, so every infra test also proves there is none."""
    from aws_cdk.assertions import Template

    return Template.from_stack(synth.default)


@pytest.fixture(scope="session")
def created_template(synth: Synth) -> Template:
    from aws_cdk.assertions import Template

    return Template.from_stack(synth.created)


@pytest.fixture(scope="session")
def resources(template: Template) -> dict[str, Any]:
    found: dict[str, Any] = template.to_json()["Resources"]
    return found
