"""The endpoint server scaling to zero (`text2image up --scale-to-zero IDLE --cold-start S`): each
endpoint hosts an inference component whose one copy goes after IDLE seconds without a call and
comes back S seconds after it is asked for. A fake clock moves time: no test sleeps.
SageMaker's answers are read by real botocore clients, so they parse as on AWS."""

from __future__ import annotations

import json
from collections.abc import Iterator
from http.client import HTTPConnection
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from support import sagemaker_runtime

from text2image.local.capacity import Capacity, ScaleToZero, fitted_retry_time_scale, warming_retry_interval
from text2image.local.containers import PreviewContainer
from text2image.local.endpoints import EndpointServer

IDLE, COLD_START = 60.0, 30.0
BODY = b'{"prompt": "a lighthouse", "width": 64, "height": 64}'
NO_CAPACITY = (
    "Inference Component has no capacity to process this request. ApplicationAutoScaling may be in-progress (if configured) "
    "or try to increase the capacity by invoking UpdateInferenceComponentRuntimeConfig API."
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def server(clock: FakeClock) -> Iterator[EndpointServer]:
    running = EndpointServer(["sd-a"], scale_to_zero=ScaleToZero(IDLE, COLD_START, clock)).start()
    yield running
    running.stop()


@pytest.fixture
def runtime(server: EndpointServer) -> Any:
    return sagemaker_runtime(server.url, read_timeout=10)


@pytest.fixture
def sagemaker(server: EndpointServer) -> Any:
    """The control-plane client the warm Lambda makes (boto3.client("sagemaker")), on this server."""
    return boto3.client(
        "sagemaker",
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=Config(retries={"total_max_attempts": 1}),
    )


def invoke(runtime: Any, component: str | None = "sd-a-model") -> bytes:
    named = {} if component is None else {"InferenceComponentName": component}
    body: bytes = runtime.invoke_endpoint(EndpointName="sd-a", ContentType="application/json", Body=BODY, **named)["Body"].read()
    return body


def capacity(server: EndpointServer) -> tuple[str, int, int]:
    stats = server.stats()["sd-a"]
    return stats["state"], stats["copies"], stats["cold_refusals"]


def refused(runtime: Any) -> str:
    """A call that must be refused with a ValidationError: its message."""
    with pytest.raises(runtime.exceptions.ValidationError) as raised:
        invoke(runtime)
    message: str = raised.value.response["Error"]["Message"]
    return message


def go_cold(server: EndpointServer, clock: FakeClock) -> None:
    clock.advance(IDLE)
    assert capacity(server) == ("cold", 0, 0)


def test_an_endpoint_starts_warm_and_has_no_copy_after_idle_seconds_without_a_call(server: EndpointServer, runtime: Any, clock: FakeClock) -> None:
    assert capacity(server) == ("warm", 1, 0)
    clock.advance(IDLE - 1)
    assert b"generated_images" in invoke(runtime)
    clock.advance(IDLE - 1)  # idle counts from the last call, not from the start
    assert capacity(server) == ("warm", 1, 0)
    clock.advance(1)
    assert capacity(server) == ("cold", 0, 0)


def test_a_call_while_cold_gets_sagemakers_no_capacity_answer_word_for_word(server: EndpointServer, clock: FakeClock) -> None:
    go_cold(server, clock)
    connection = HTTPConnection(urlsplit(server.url).netloc, timeout=10)
    try:
        headers = {"Content-Type": "application/json", "X-Amzn-SageMaker-Inference-Component": "sd-a-model"}
        connection.request("POST", "/endpoints/sd-a/invocations", BODY, headers)
        response = connection.getresponse()
        status, error_type, body = response.status, response.getheader("x-amzn-ErrorType"), json.loads(response.read())
    finally:
        connection.close()
    assert (status, error_type, body) == (400, "ValidationError", {"ErrorCode": "ValidationError", "Message": NO_CAPACITY})


def test_botocore_raises_the_no_capacity_answer_as_its_validation_error(server: EndpointServer, runtime: Any, clock: FakeClock) -> None:
    go_cold(server, clock)
    with pytest.raises(runtime.exceptions.ValidationError) as raised:
        invoke(runtime)
    assert raised.value.response["Error"] == {"Code": "ValidationError", "Message": NO_CAPACITY}
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_the_first_refused_call_starts_warming_and_the_endpoint_serves_a_cold_start_later(server: EndpointServer, runtime: Any, clock: FakeClock) -> None:
    go_cold(server, clock)
    assert refused(runtime) == NO_CAPACITY
    assert capacity(server) == ("warming", 0, 1)
    clock.advance(COLD_START - 1)
    assert refused(runtime) == NO_CAPACITY  # still warming; this refusal does not start it over
    assert capacity(server) == ("warming", 0, 2)
    clock.advance(1)
    assert capacity(server) == ("warm", 1, 2)
    assert b"generated_images" in invoke(runtime)
    stats = server.stats()["sd-a"]
    assert (stats["invocations"], stats["errors"]) == (1, 0)  # refused calls never reached the model


def test_the_idle_time_starts_when_the_copy_comes(server: EndpointServer, runtime: Any, clock: FakeClock) -> None:
    go_cold(server, clock)
    refused(runtime)
    clock.advance(COLD_START + IDLE - 1)
    assert capacity(server)[0] == "warm"
    clock.advance(1)
    assert capacity(server)[0] == "cold"


def test_a_copy_at_work_is_not_idle_however_long_its_call(clock: FakeClock) -> None:
    seen: list[str] = []
    servers: list[EndpointServer] = []

    class SlowContainer(PreviewContainer):
        def invoke(self, body: bytes, content_type: str | None, accept: str) -> bytes:
            clock.advance(2 * IDLE)  # a call longer than the idle time
            seen.append(servers[0].stats()["sd-a"]["state"])
            return super().invoke(body, content_type, accept)

    slow = EndpointServer(["sd-a"], lambda name: SlowContainer(), scale_to_zero=ScaleToZero(IDLE, COLD_START, clock)).start()
    servers.append(slow)
    try:
        invoke(sagemaker_runtime(slow.url, read_timeout=10))
        assert seen == ["warm"]
        clock.advance(IDLE - 1)  # idle counts from the call's end
        assert capacity(slow) == ("warm", 1, 0)
    finally:
        slow.stop()


def test_a_call_must_name_the_endpoints_inference_component(server: EndpointServer, runtime: Any) -> None:
    assert refused_without(runtime, None) == (
        "Inference Component Name header is required for endpoints to which you plan to deploy inference components. "
        "Please include Inference Component Name header or consider using SageMaker models."
    )
    assert refused_without(runtime, "sd-b-model") == "Inference Component sd-b-model not found on endpoint sd-a of account 123456789012."
    assert server.stats()["sd-a"]["invocations"] == 0 and capacity(server) == ("warm", 1, 0)


def refused_without(runtime: Any, component: str | None) -> str:
    with pytest.raises(runtime.exceptions.ValidationError) as raised:
        invoke(runtime, component)
    message: str = raised.value.response["Error"]["Message"]
    return message


def describe(sagemaker: Any) -> tuple[str, dict[str, int]]:
    described = sagemaker.describe_inference_component(InferenceComponentName="sd-a-model")
    return described["InferenceComponentStatus"], described["RuntimeConfig"]


def test_describe_inference_component_answers_as_sagemaker(sagemaker: Any) -> None:
    described = sagemaker.describe_inference_component(InferenceComponentName="sd-a-model")
    described.pop("ResponseMetadata")
    assert described.pop("CreationTime") <= described.pop("LastModifiedTime")  # botocore parsed both as datetimes
    assert described == {
        "InferenceComponentName": "sd-a-model",
        "InferenceComponentArn": "arn:aws:sagemaker:us-east-1:123456789012:inference-component/sd-a-model",
        "EndpointName": "sd-a",
        "EndpointArn": "arn:aws:sagemaker:us-east-1:123456789012:endpoint/sd-a",
        "VariantName": "AllTraffic",
        "InferenceComponentStatus": "InService",
        "RuntimeConfig": {"DesiredCopyCount": 1, "CurrentCopyCount": 1},
    }


def test_describe_gives_the_copies_wanted_and_serving_in_each_state(server: EndpointServer, sagemaker: Any, runtime: Any, clock: FakeClock) -> None:
    go_cold(server, clock)
    assert describe(sagemaker) == ("InService", {"DesiredCopyCount": 0, "CurrentCopyCount": 0})
    refused(runtime)  # the alarm's step scaling asks for a copy
    assert describe(sagemaker) == ("Updating", {"DesiredCopyCount": 1, "CurrentCopyCount": 0})
    clock.advance(COLD_START)
    assert describe(sagemaker) == ("InService", {"DesiredCopyCount": 1, "CurrentCopyCount": 1})


def test_update_runtime_config_while_cold_starts_warming(server: EndpointServer, sagemaker: Any, runtime: Any, clock: FakeClock) -> None:
    go_cold(server, clock)
    before = sagemaker.describe_inference_component(InferenceComponentName="sd-a-model")["LastModifiedTime"]
    answer = sagemaker.update_inference_component_runtime_config(InferenceComponentName="sd-a-model", DesiredRuntimeConfig={"CopyCount": 1})
    assert answer["InferenceComponentArn"] == "arn:aws:sagemaker:us-east-1:123456789012:inference-component/sd-a-model"
    assert capacity(server) == ("warming", 0, 0)
    assert sagemaker.describe_inference_component(InferenceComponentName="sd-a-model")["LastModifiedTime"] >= before
    clock.advance(COLD_START - 1)
    sagemaker.update_inference_component_runtime_config(InferenceComponentName="sd-a-model", DesiredRuntimeConfig={"CopyCount": 1})
    clock.advance(1)  # asking again while warming did not start it over
    assert capacity(server) == ("warm", 1, 0)
    assert b"generated_images" in invoke(runtime)


def test_update_runtime_config_while_warm_changes_nothing(server: EndpointServer, sagemaker: Any, clock: FakeClock) -> None:
    clock.advance(IDLE - 1)
    sagemaker.update_inference_component_runtime_config(InferenceComponentName="sd-a-model", DesiredRuntimeConfig={"CopyCount": 1})
    assert capacity(server) == ("warm", 1, 0)
    clock.advance(1)
    assert capacity(server) == ("cold", 0, 0)


@pytest.mark.parametrize("copies", [0, 2])
def test_a_copy_count_other_than_one_is_refused_saying_why(server: EndpointServer, sagemaker: Any, copies: int) -> None:
    with pytest.raises(ClientError) as raised:
        sagemaker.update_inference_component_runtime_config(InferenceComponentName="sd-a-model", DesiredRuntimeConfig={"CopyCount": copies})
    error = raised.value.response["Error"]
    assert error["Code"] == "ValidationException" and f"CopyCount must be 1, not {copies}" in error["Message"]
    assert capacity(server) == ("warm", 1, 0)


@pytest.mark.parametrize("operation", ["describe_inference_component", "update_inference_component_runtime_config"])
def test_an_unknown_component_is_sagemakers_could_not_find(sagemaker: Any, operation: str) -> None:
    arguments: dict[str, Any] = {"InferenceComponentName": "sd-b-model"}
    if operation.startswith("update"):
        arguments["DesiredRuntimeConfig"] = {"CopyCount": 1}
    with pytest.raises(ClientError) as raised:
        getattr(sagemaker, operation)(**arguments)
    assert raised.value.response["Error"] == {
        "Code": "ValidationException",
        "Message": 'Could not find inference component "arn:aws:sagemaker:us-east-1:123456789012:inference-component/sd-b-model".',
    }


def test_another_control_plane_operation_is_unknown(server: EndpointServer) -> None:
    connection = HTTPConnection(urlsplit(server.url).netloc, timeout=10)
    try:
        connection.request("POST", "/", b"{}", {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "SageMaker.DeleteEndpoint"})
        response = connection.getresponse()
        status, body = response.status, json.loads(response.read())
    finally:
        connection.close()
    assert (status, body["__type"]) == (400, "UnknownOperationException")
    assert "SageMaker.DeleteEndpoint" in body["message"]


def test_reset_stats_zeroes_the_refusals(server: EndpointServer, runtime: Any, clock: FakeClock) -> None:
    go_cold(server, clock)
    refused(runtime)
    server.reset_stats()
    assert capacity(server) == ("warming", 0, 0)


def test_without_scale_to_zero_an_endpoint_is_always_warm_and_hosts_no_component() -> None:
    server = EndpointServer(["sd-a"]).start()
    try:
        stats = server.stats()["sd-a"]
        assert (stats["state"], stats["copies"], stats["cold_refusals"]) == ("warm", 1, 0)
        assert b"generated_images" in invoke(sagemaker_runtime(server.url, read_timeout=10), component=None)
        control_plane = boto3.client("sagemaker", endpoint_url=server.url, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
        with pytest.raises(ClientError, match="Could not find inference component"):
            control_plane.describe_inference_component(InferenceComponentName="sd-a-model")
    finally:
        server.stop()


def calls_until_served(capacity: Capacity, clock: FakeClock, every: float, calls: int = 20) -> int | None:
    """A job's calls to a cold endpoint, ``every`` seconds apart: how many until one is served."""
    for attempt in range(1, calls + 1):
        if capacity.admit():
            capacity.finish()
            return attempt
        clock.advance(every)
    return None


@pytest.mark.parametrize("idle", [2.0, 8.0, 30.0])
def test_a_job_retrying_at_the_fitted_cadence_is_served_once_the_copy_comes(clock: FakeClock, idle: float) -> None:
    capacity = Capacity(ScaleToZero(idle, 3.0, clock))
    clock.advance(idle)  # cold
    every = warming_retry_interval() * fitted_retry_time_scale(idle)
    assert every == pytest.approx(min(idle / 2, 15.0))
    served = calls_until_served(capacity, clock, every)
    assert served is not None and (served - 1) * every < 3.0 + every  # the first call after the cold start


def test_at_the_deployed_cadence_a_copy_that_idles_in_seconds_goes_before_the_next_call(clock: FakeClock) -> None:
    # Why `up --scale-to-zero 2` fits the Retry intervals to the idle window: every 15 s, never served.
    capacity = Capacity(ScaleToZero(2.0, 3.0, clock))
    clock.advance(2.0)
    assert calls_until_served(capacity, clock, warming_retry_interval()) is None
    assert capacity.refusals == 20
