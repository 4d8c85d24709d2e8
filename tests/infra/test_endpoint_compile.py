"""What the endpoints the stack creates are told: the per-call limits Prepare plans by, and,
with endpointCompile, the shapes to compile at start and the start-up time that takes."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import App, Environment, Stack
from aws_cdk.assertions import Template

from infra.config import StackConfig
from infra.endpoints import COMPILE_SECONDS_PER_SHAPE, STARTUP_SECONDS, Endpoints
from infra.stack import Text2ImageStack
from text2image.deploy_settings import cdk_context
from text2image.local.containers import endpoint_module

shapes = endpoint_module("compile_shapes")
CREATED = {"createEndpoints": "true", "endpointModelDataUrl": "s3://m/sd/model.tar.gz", "endpoints": "gen-a,gen-b"}
# SageMaker's most for ProductionVariant.ContainerStartupHealthCheckTimeoutInSeconds (API reference: 60..3600).
MOST_STARTUP_SECONDS = 3600


def app(**context: object) -> App:
    return App(context=cdk_context() | {f"text2image:{key}": value for key, value in {**CREATED, **context}.items()})


def endpoints(**context: object) -> tuple[dict[str, str], list[int]]:
    """The model's environment and each endpoint's start-up health check timeout, for the
    endpoints alone synthesized with this context: the inference component's where the endpoints
    scale to zero (the default), the variant's where they do not."""
    scope = app(**context)
    stack = Stack(scope, "Endpoints", env=Environment(region="eu-west-1"))
    Endpoints(stack, "Endpoints", config=StackConfig.from_context(scope.node))
    resources = Template.from_stack(stack).to_json()["Resources"]
    (model,) = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::SageMaker::Model"]
    components = [r["Properties"]["Specification"]["StartupParameters"] for r in resources.values() if r["Type"] == "AWS::SageMaker::InferenceComponent"]
    variants = [r["Properties"]["ProductionVariants"][0] for r in resources.values() if r["Type"] == "AWS::SageMaker::EndpointConfig"]
    return model["PrimaryContainer"]["Environment"], [started["ContainerStartupHealthCheckTimeoutInSeconds"] for started in components or variants]


def test_the_endpoints_refuse_past_the_limits_prepare_plans_by() -> None:
    scope = app(maxImagesPerCall="4", maxPixelsPerCall="1048576")
    stack = Text2ImageStack(scope, "Text2Image", config=StackConfig.from_context(scope.node), env=Environment(region="eu-west-1"))
    resources: dict[str, Any] = Template.from_stack(stack).to_json()["Resources"]
    (model,) = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::SageMaker::Model"]
    environment = model["PrimaryContainer"]["Environment"]
    (prepare,) = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::Lambda::Function" and "ENDPOINT_NAMES" in str(r["Properties"])]
    planned = prepare["Environment"]["Variables"]
    assert (environment["SD_MAX_IMAGES_PER_CALL"], environment["SD_MAX_PIXELS_PER_CALL"]) == ("4", "1048576")
    assert (planned["MAX_IMAGES_PER_CALL"], planned["MAX_PIXELS_PER_CALL"]) == ("4", "1048576")
    limits = endpoint_module("jumpstart_contract").Limits.from_env(environment)
    assert (limits.max_images, limits.max_pixels) == (4, 1048576)


@pytest.mark.parametrize("scale_to_zero", ["true", "false"])
def test_compiling_is_off_by_default(scale_to_zero: str) -> None:
    environment, startup = endpoints(endpointScaleToZero=scale_to_zero)
    assert "SD_COMPILE" not in environment and shapes.VARIABLE not in environment
    assert startup == [STARTUP_SECONDS, STARTUP_SECONDS]


@pytest.mark.parametrize(
    ("context", "compiled"),
    [
        # request.schema.json's default 768x512, defaultNumImages 4 over two endpoints: a call of 2 on each.
        ({}, "768x512x2"),
        ({"endpoints": "gen-a:3,gen-b"}, "768x512x1,768x512x3"),
        ({"defaultNumImages": 5}, "768x512x2,768x512x3"),
        ({"imagesPerCall": 1}, "768x512x1"),
        ({"maxImagesPerCall": 1}, "768x512x1"),
        ({"defaultNumImages": 16, "maxPixelsPerCall": 768 * 512 * 3}, "768x512x2,768x512x3"),
        ({"endpointCompileShapes": "512x512x4, 768x512x2"}, "512x512x4, 768x512x2"),
    ],
)
def test_compiling_warms_the_default_requests_calls_or_the_shapes_named(context: dict[str, object], compiled: str) -> None:
    environment, startup = endpoints(endpointCompile="true", **context)
    assert (environment["SD_COMPILE"], environment[shapes.VARIABLE]) == ("1", compiled)
    count = len(shapes.parse_call_shapes(compiled))
    assert startup == [STARTUP_SECONDS + count * COMPILE_SECONDS_PER_SHAPE] * 2
    # The container's own reading of its environment accepts it, one warm-up call per shape.
    assert len(endpoint_module("inference").ServingSettings.from_env(environment).warm_up) == count


def test_the_most_shapes_still_start_within_sagemakers_limit() -> None:
    most = ",".join(f"512x512x{images}" for images in range(1, shapes.MAX_SHAPES + 1))
    _, startup = endpoints(endpointCompile="true", endpointCompileShapes=most)
    assert startup == [STARTUP_SECONDS + shapes.MAX_SHAPES * COMPILE_SECONDS_PER_SHAPE] * 2
    assert max(startup) <= MOST_STARTUP_SECONDS


@pytest.mark.parametrize(
    ("context", "complaint"),
    [
        ({"endpointCompileShapes": "512x512"}, r"endpointCompileShapes: '512x512' is not WIDTHxHEIGHTxIMAGES"),
        ({"endpointCompileShapes": "512x512x4,512x512x4"}, "endpointCompileShapes: 512x512x4 is named twice"),
        ({"endpointCompileShapes": ",".join(f"512x512x{k}" for k in range(1, 10))}, "endpointCompileShapes: 9 shapes, at most 8"),
        ({"endpointCompileShapes": "768x512x17"}, r"endpointCompileShapes: 768x512x17 is not a call the endpoints serve .* 1\.\.16"),
        ({"endpointCompileShapes": "768x512x4", "maxPixelsPerCall": 768 * 512 * 3}, r"768x512x4 .* over this endpoint's 1179648 per call"),
        ({"endpointCompileShapes": "768x500x1"}, "768x500x1 .* height must be a multiple of 8"),
        ({"endpointPreset": "custom", "endpointImageUri": "1.dkr.ecr.eu-west-1.amazonaws.com/x:1"}, "endpointCompile .* needs the diffusers preset"),
    ],
)
def test_a_compile_setting_no_endpoint_could_start_with_fails_synth(context: dict[str, object], complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        endpoints(endpointCompile="true", **context)
