"""The warm function (POST /text2image/warm) against SageMaker's control plane, stubbed with
botocore's Stubber (the requests it must make, the answers SageMaker's model defines), behind
API Gateway's proxy event as the local gateway builds it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from text2image.local.lambdas import LambdaContext, function_module
from text2image.local.rest_proxy import proxy_answer, proxy_event
from text2image.routes import WARM_ROUTE

COMPONENTS = {"sd-1": "sd-1-model", "sd-2": "sd-2-model"}


@pytest.fixture
def warm(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    module = function_module("warm")
    monkeypatch.setenv("INFERENCE_COMPONENTS", json.dumps(COMPONENTS))
    monkeypatch.setenv("COLD_START_SECONDS", "300")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    module.get_settings.cache_clear()
    module.sagemaker_client.cache_clear()
    yield module
    module.get_settings.cache_clear()


@pytest.fixture
def sagemaker(warm: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stubber]:
    client = boto3.client("sagemaker", region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s")
    monkeypatch.setattr(warm, "sagemaker_client", lambda: client)
    with Stubber(client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def described(component: str, wanted: int, serving: int, status: str = "InService") -> dict[str, Any]:
    endpoint = component.removesuffix("-model")
    return {
        "InferenceComponentName": component,
        "InferenceComponentArn": f"arn:aws:sagemaker:us-east-1:123456789012:inference-component/{component}",
        "EndpointName": endpoint,
        "EndpointArn": f"arn:aws:sagemaker:us-east-1:123456789012:endpoint/{endpoint}",
        "InferenceComponentStatus": status,
        "RuntimeConfig": {"DesiredCopyCount": wanted, "CurrentCopyCount": serving},
        "CreationTime": "2026-11-26T00:00:00Z",
        "LastModifiedTime": "2026-11-26T00:00:00Z",
    }


def post(warm: Any) -> tuple[int, dict[str, str], Any]:
    event = proxy_event(*WARM_ROUTE, {}, {"Content-Type": "application/json"}, None)
    status, headers, body = proxy_answer(warm.handler(event, LambdaContext("text2image-warm")))
    return status, headers, json.loads(body)


def expect_describe(stubber: Stubber, component: str, wanted: int, serving: int, status: str = "InService") -> None:
    stubber.add_response("describe_inference_component", described(component, wanted, serving, status), {"InferenceComponentName": component})


def test_a_cold_component_is_asked_for_one_copy_and_the_answer_says_when_to_look_again(warm: Any, sagemaker: Stubber) -> None:
    expect_describe(sagemaker, "sd-1-model", wanted=0, serving=0)
    sagemaker.add_response(
        "update_inference_component_runtime_config",
        {"InferenceComponentArn": "arn:aws:sagemaker:us-east-1:123456789012:inference-component/sd-1-model"},
        {"InferenceComponentName": "sd-1-model", "DesiredRuntimeConfig": {"CopyCount": 1}},
    )
    expect_describe(sagemaker, "sd-2-model", wanted=1, serving=1)
    status, headers, body = post(warm)
    assert (status, headers["Retry-After"]) == (202, "300")
    assert body == {
        "endpoints": [
            {"endpoint": "sd-1", "component": "sd-1-model", "state": "warming", "copies": 0},
            {"endpoint": "sd-2", "component": "sd-2-model", "state": "warm", "copies": 1},
        ],
        "retry_after": 300,
    }


def test_warming_twice_asks_for_nothing_more(warm: Any, sagemaker: Stubber) -> None:
    """A copy already wanted (warming), or a component being updated, gets no second update: the
    Stubber fails the test on any request not expected here."""
    expect_describe(sagemaker, "sd-1-model", wanted=1, serving=0)
    expect_describe(sagemaker, "sd-2-model", wanted=0, serving=0, status="Updating")
    status, _, body = post(warm)
    assert status == 202 and [e["state"] for e in body["endpoints"]] == ["warming", "warming"]


def test_a_copy_asked_for_at_the_same_moment_elsewhere_is_warming_not_a_failure(warm: Any, sagemaker: Stubber) -> None:
    """Two warm calls at once (two pages), or one and the refused-call alarm's scaling: both see
    no copy wanted, the second update finds the component being updated and is refused."""
    expect_describe(sagemaker, "sd-1-model", wanted=0, serving=0)
    sagemaker.add_client_error(
        "update_inference_component_runtime_config",
        service_error_code="ValidationException",
        service_message="Inference component sd-1-model is in Updating status and cannot be updated.",
        expected_params={"InferenceComponentName": "sd-1-model", "DesiredRuntimeConfig": {"CopyCount": 1}},
    )
    expect_describe(sagemaker, "sd-1-model", wanted=1, serving=0, status="Updating")
    expect_describe(sagemaker, "sd-2-model", wanted=1, serving=1)
    status, _, body = post(warm)
    assert status == 202 and [e["state"] for e in body["endpoints"]] == ["warming", "warm"]


def test_an_update_refused_while_a_copy_is_still_needed_fails(warm: Any, sagemaker: Stubber) -> None:
    expect_describe(sagemaker, "sd-1-model", wanted=0, serving=0)
    sagemaker.add_client_error("update_inference_component_runtime_config", service_error_code="AccessDeniedException", http_status_code=403)
    expect_describe(sagemaker, "sd-1-model", wanted=0, serving=0)
    with pytest.raises(ClientError, match="AccessDenied"):
        post(warm)


def test_all_warm_says_so_with_no_retry_after(warm: Any, sagemaker: Stubber) -> None:
    expect_describe(sagemaker, "sd-1-model", wanted=2, serving=2)
    expect_describe(sagemaker, "sd-2-model", wanted=1, serving=1)
    status, headers, body = post(warm)
    assert (status, body["retry_after"], "Retry-After" in headers) == (202, 0, False)
    assert [e["copies"] for e in body["endpoints"]] == [2, 1]


@pytest.mark.parametrize("value", ["{}", "[]", '{"sd-1": ""}', "not json"])
def test_a_bad_component_list_is_refused_by_name(warm: Any, monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("INFERENCE_COMPONENTS", value)
    with pytest.raises(ValueError, match="INFERENCE_COMPONENTS"):
        warm.Settings.from_env()
