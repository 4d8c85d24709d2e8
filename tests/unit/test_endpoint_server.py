"""The SageMaker-compatible endpoint server on its own: limits and queueing like SageMaker."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from support import sagemaker_runtime

from text2image.local.endpoints import EndpointServer, Fault


@pytest.fixture
def server() -> Iterator[EndpointServer]:
    running = EndpointServer(["sd-a"], invocation_limit=0.5).start()
    yield running
    running.stop()


def client(server: EndpointServer) -> Any:
    return sagemaker_runtime(server.url, read_timeout=10)


def test_a_request_queued_past_the_call_limit_gets_sagemakers_timeout_answer(server: EndpointServer) -> None:
    runtime = client(server)
    busy = server.endpoints["sd-a"].lock  # held: the endpoint is busy with another request
    with busy, pytest.raises(runtime.exceptions.ModelError, match="timed out"):
        runtime.invoke_endpoint(EndpointName="sd-a", ContentType="application/json", Body=b'{"prompt": "queued"}')


def test_botocore_raises_the_real_exception_classes(server: EndpointServer) -> None:
    runtime = client(server)
    server.set_fault("sd-a", "notready", 1)
    with pytest.raises(runtime.exceptions.ModelNotReadyException):
        runtime.invoke_endpoint(EndpointName="sd-a", ContentType="application/json", Body=b'{"prompt": "x"}')
    server.set_fault("sd-a", "unavailable", 1)
    with pytest.raises(runtime.exceptions.ServiceUnavailable):
        runtime.invoke_endpoint(EndpointName="sd-a", ContentType="application/json", Body=b'{"prompt": "x"}')
    with pytest.raises(runtime.exceptions.ValidationError, match="not found"):
        runtime.invoke_endpoint(EndpointName="sd-missing", ContentType="application/json", Body=b'{"prompt": "x"}')


@pytest.mark.parametrize("text", ["sd-a=melt", "sd-a", "=error", "sd-a=error:0", "sd-a=error:x"])
def test_bad_fault_specs_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        Fault.parse(text)


def test_a_fault_with_a_count_recovers(server: EndpointServer) -> None:
    runtime = client(server)
    server.set_fault("sd-a", "error", 2)
    for _ in range(2):
        with pytest.raises(runtime.exceptions.ModelError):
            runtime.invoke_endpoint(EndpointName="sd-a", ContentType="application/json", Body=b'{"prompt": "x"}')
    answer = runtime.invoke_endpoint(EndpointName="sd-a", ContentType="application/json", Body=b'{"prompt": "x", "width": 64, "height": 64}')
    assert b"generated_images" in answer["Body"].read()
    assert server.stats()["sd-a"]["invocations"] == 3 and server.stats()["sd-a"]["errors"] == 2
