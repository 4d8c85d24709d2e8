"""Warm Lambda: ``POST /text2image/warm`` asks endpoints that scaled to zero for capacity ahead of
use (a demo in five minutes), instead of the first request finding them cold.

For each endpoint's inference component (``INFERENCE_COMPONENTS``): a component with no copy
wanted gets one (UpdateInferenceComponentRuntimeConfig, CopyCount 1), as the
NoCapacityInvocationFailures alarm's step scaling would after a refused call, only sooner. The
idle scale-in takes it back to zero when no calls follow. Idempotent: a component that already
wants a copy (warming or warm) is left as it is. Answers 202 ``{"endpoints": [{"endpoint",
"component", "state": "warm" | "warming", "copies"}], "retry_after"}``: about how long until all
serve (0 when they do), for clients that poll (the page, ``text2image warm --wait``).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, TypedDict

import boto3
from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient
    from mypy_boto3_sagemaker.type_defs import DescribeInferenceComponentOutputTypeDef

ROUTE = "/text2image/warm"


class EndpointState(TypedDict):
    endpoint: str
    component: str
    state: str  # "warm": a copy serves; "warming": one is wanted and on its way
    copies: int  # copies serving now


@dataclass(frozen=True)
class Settings:
    inference_components: dict[str, str]  # endpoint name -> its inference component
    cold_start_seconds: int  # about how long a cold component takes to serve

    @classmethod
    def from_env(cls) -> Settings:
        text = os.environ["INFERENCE_COMPONENTS"]
        try:
            components = json.loads(text)
        except json.JSONDecodeError:
            components = None
        if not (isinstance(components, dict) and components and all(isinstance(v, str) and v for v in components.values())):
            raise ValueError(f"INFERENCE_COMPONENTS must be a non-empty JSON object of endpoint name -> component name, not {text!r}")
        return cls(inference_components=components, cold_start_seconds=int(os.environ["COLD_START_SECONDS"]))


@cache
def get_settings() -> Settings:
    """Parsed once per container, on first use: importing the module needs no environment."""
    return Settings.from_env()


@cache
def sagemaker_client() -> SageMakerClient:
    return boto3.client("sagemaker")


logger = Logger()
tracer = Tracer()
app = APIGatewayRestResolver()


def state_of(endpoint: str, component: str, described: DescribeInferenceComponentOutputTypeDef) -> tuple[EndpointState, bool]:
    """The component's state, and whether it needs a copy asked for: none is wanted, and it is in
    service (a component being updated takes no other update; it is on its way already)."""
    runtime = described.get("RuntimeConfig", {})
    wanted, serving = runtime.get("DesiredCopyCount", 0), runtime.get("CurrentCopyCount", 0)
    needs_copy = wanted == 0 and described.get("InferenceComponentStatus") == "InService"
    return {"endpoint": endpoint, "component": component, "state": "warm" if serving > 0 else "warming", "copies": serving}, needs_copy


@tracer.capture_method
def warm(endpoint: str, component: str) -> EndpointState:
    client = sagemaker_client()
    state, needs_copy = state_of(endpoint, component, client.describe_inference_component(InferenceComponentName=component))
    if not needs_copy:
        return state
    try:
        client.update_inference_component_runtime_config(InferenceComponentName=component, DesiredRuntimeConfig={"CopyCount": 1})
    except ClientError:
        # Asked for at the same moment by another warm call or the refused-call alarm's scaling:
        # the component is being updated and takes no other update. Looked at again, it no longer
        # needs this call's copy; where it still does, the failure is a real one.
        state, needs_copy = state_of(endpoint, component, client.describe_inference_component(InferenceComponentName=component))
        if needs_copy:
            raise
        return state
    logger.info("asked for a copy", extra={"endpoint": endpoint, "component": component})
    return state


@app.post(ROUTE)
def warm_endpoints() -> Response[Any]:
    settings = get_settings()
    states = [warm(endpoint, component) for endpoint, component in settings.inference_components.items()]
    cold = any(state["state"] != "warm" for state in states)
    body = {"endpoints": states, "retry_after": settings.cold_start_seconds if cold else 0}
    headers = {"Cache-Control": "no-store"} | ({"Retry-After": str(settings.cold_start_seconds)} if cold else {})
    return Response(202, content_types.APPLICATION_JSON, body, headers=headers)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
