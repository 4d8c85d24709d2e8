"""The SageMaker-compatible endpoint server on its own: limits and queueing like SageMaker, and
its test hooks on its own port (the gateway forwards /_local/* to them)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from http.client import HTTPConnection
from typing import Any
from urllib.parse import urlsplit

import pytest
from support import http, post_json, sagemaker_runtime

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


def exchange(url: str, method: str, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    """One request on its own connection, sending only the headers given (no body)."""
    connection = HTTPConnection(urlsplit(url).netloc, timeout=10)
    try:
        connection.putrequest(method, path)
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, dict(response.headers), response.read()
    finally:
        connection.close()


def test_the_test_hooks_answer_on_the_endpoint_servers_own_port(server: EndpointServer) -> None:
    status, answer = post_json(f"{server.url}/_local/faults", {"endpoint": "sd-a", "mode": "throttle", "count": 2})
    assert (status, answer["endpoints"]["sd-a"]["fault"]) == (200, {"mode": "throttle", "remaining": 2})
    assert server.stats()["sd-a"]["fault"] == {"mode": "throttle", "remaining": 2}
    code, headers, body = http("GET", f"{server.url}/_local/stats", content_type=None)
    assert (code, headers["Content-Type"], json.loads(body)) == (200, "application/json", {"endpoints": server.stats()})


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"endpoint": "sd-9", "mode": "error"}, "no endpoint named 'sd-9'"),
        ({"endpoint": "sd-a", "mode": "melt"}, "mode must be one of"),
        ({"endpoint": "sd-a", "mode": "error", "count": 0}, "count must be a positive whole number"),
        ({"mode": "error"}, 'must be {"endpoint": NAME'),
        (["sd-a", "error"], 'must be {"endpoint": NAME'),
    ],
)
def test_a_fault_the_hook_cannot_set_is_refused_naming_why(server: EndpointServer, spec: Any, message: str) -> None:
    status, answer = post_json(f"{server.url}/_local/faults", spec)
    assert (status, answer["error"], answer["field"]) == (400, "ValidationError", "body") and message in answer["message"]
    assert server.stats()["sd-a"]["fault"] is None


@pytest.mark.parametrize(("method", "path"), [("POST", "/_local/stats"), ("GET", "/_local/faults"), ("GET", "/_local/nothing")])
def test_an_unknown_hook_is_a_json_404(server: EndpointServer, method: str, path: str) -> None:
    status, _, body = http(method, server.url + path, b"{}" if method == "POST" else None)
    assert (status, json.loads(body)["error"]) == (404, "NotFound")


@pytest.mark.parametrize("method", ["GET", "PUT", "FOO"])
def test_any_other_method_on_an_invocation_is_sagemakers_unknown_operation(server: EndpointServer, method: str) -> None:
    status, headers, body = exchange(server.url, method, "/endpoints/sd-a/invocations", {})
    assert (status, headers["x-amzn-ErrorType"], json.loads(body)["ErrorCode"]) == (404, "UnknownOperationException", "UnknownOperationException")
    assert server.stats()["sd-a"]["invocations"] == 0


def test_a_body_over_6_mb_is_refused_unread_with_sagemakers_413(server: EndpointServer) -> None:
    declared = {"Content-Type": "application/json", "Content-Length": str(6 * 1024 * 1024 + 1)}
    status, headers, body = exchange(server.url, "POST", "/endpoints/sd-a/invocations", declared)
    assert (status, headers["x-amzn-ErrorType"], headers["Connection"]) == (413, "ValidationError", "close")
    assert json.loads(body) == {"ErrorCode": "ValidationError", "Message": "Request body exceeds the 6 MB limit"}
    assert server.stats()["sd-a"]["invocations"] == 0
