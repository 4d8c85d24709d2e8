"""Which named error a failed SageMaker call becomes: decided without a client or a server."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError, ConnectTimeoutError, EndpointConnectionError, ReadTimeoutError

import invocation_errors
from invocation_errors import EndpointBusy, EndpointCold, EndpointRejected, EndpointTimeout, EndpointWarming, ModelError, endpoint_failure
from text2image.paths import STATE_MACHINE


def client_error(code: str, message: str, **extra: Any) -> ClientError:
    response: Any = {"Error": {"Code": code, "Message": message}, **extra}  # as botocore parses SageMaker's answer
    return ClientError(response, "InvokeEndpoint")


# The errors of SageMaker Runtime's InvokeEndpoint that pass (its API reference: a model not ready
# yet, an unavailable or failing service or dependency) and AWS's common ThrottlingException.
TRANSIENT = ["ThrottlingException", "ModelNotReadyException", "ServiceUnavailable", "InternalFailure", "InternalDependencyException"]


@pytest.mark.parametrize("code", TRANSIENT)
def test_transient_codes_are_endpoint_busy(code: str) -> None:
    failure = endpoint_failure(client_error(code, "try later"), 70, may_wait=True)
    assert type(failure) is EndpointBusy and str(failure) == f"{code}: try later"


def test_a_model_error_carries_the_containers_reason() -> None:
    error = client_error("ModelError", "Received client error (400) from primary", OriginalStatusCode=400, OriginalMessage=json.dumps({"message": "width!"}))
    failure = endpoint_failure(error, 70, may_wait=True)
    assert type(failure) is ModelError and str(failure) == "the model container answered 400: width!"


@pytest.mark.parametrize("code", ["ValidationError", "AccessDeniedException", ""])
def test_any_other_refusal_is_endpoint_rejected(code: str) -> None:
    failure = endpoint_failure(client_error(code, "Endpoint sd-x not found"), 70, may_wait=True)
    assert type(failure) is EndpointRejected and str(failure) == f"{code}: Endpoint sd-x not found"


# SageMaker's answer to a call of an inference component with no copy (an endpoint scaled to zero),
# as AWS's "Scale an endpoint to zero instances" page and the issue quote it.
NO_CAPACITY = (
    "Inference Component has no capacity to process this request. ApplicationAutoScaling may be in-progress (if configured) "
    "or try to increase the capacity by invoking UpdateInferenceComponentRuntimeConfig API."
)


@pytest.mark.parametrize(("may_wait", "named"), [(True, EndpointWarming), (False, EndpointCold)])
def test_no_capacity_is_a_cold_endpoint_waited_for_only_while_the_run_may_wait(may_wait: bool, named: type[Exception]) -> None:
    failure = endpoint_failure(client_error("ValidationError", NO_CAPACITY), 70, may_wait=may_wait)
    assert type(failure) is named and str(failure) == NO_CAPACITY


def test_another_validation_error_of_a_component_is_not_a_cold_endpoint() -> None:
    failure = endpoint_failure(client_error("ValidationError", "Inference Component sd-1-model not found."), 70, may_wait=True)
    assert type(failure) is EndpointRejected


def test_no_answer_within_the_read_timeout_names_the_timeout() -> None:
    failure = endpoint_failure(ReadTimeoutError(endpoint_url="http://sd"), 0.25, may_wait=True)
    assert type(failure) is EndpointTimeout and str(failure) == "no answer within 0.25 s"


@pytest.mark.parametrize("error", [EndpointConnectionError(endpoint_url="http://sd"), ConnectTimeoutError(endpoint_url="http://sd")])
def test_a_connection_that_fails_is_endpoint_busy(error: EndpointConnectionError | ConnectTimeoutError) -> None:
    failure = endpoint_failure(error, 70, may_wait=True)
    assert type(failure) is EndpointBusy and str(failure).startswith("connection failed: ") and "http://sd" in str(failure)


def test_the_workflows_retry_names_are_errors_of_the_asset() -> None:
    """Step Functions retries by error name (the exception's class name): a renamed class
    would silently stop the retries."""
    lane = json.loads(STATE_MACHINE.read_text(encoding="utf-8"))["States"]["Generate"]["ItemProcessor"]["States"]["Lane"]
    invoke = lane["ItemProcessor"]["States"]["InvokeEndpoint"]
    retried = {name for rule in invoke["Retry"] for name in rule["ErrorEquals"] if not name.startswith(("Lambda.", "States."))}
    assert retried == {"EndpointBusy", "EndpointWarming", "ImageWriteFailed"}
    assert all(issubclass(getattr(invocation_errors, name), Exception) for name in retried)
