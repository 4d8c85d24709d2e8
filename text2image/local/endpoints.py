"""A SageMaker-Runtime-compatible server hosting N named Stable Diffusion endpoints.

``POST /endpoints/<name>/invocations`` speaks the JumpStart contract of docs/design.md ("The endpoint protocol") and
answers errors the way SageMaker Runtime does (status, ``x-amzn-ErrorType`` header,
``Message`` body), so botocore raises the real exception classes. Each endpoint serves
one request at a time, like one GPU instance; a request that cannot finish within the
invocation limit (SageMaker: 60 s) gets the service's 424 ModelError timeout answer.
Faults can be injected per endpoint to exercise the workflow's retries and catches,
through its test hooks, which exist only here (SageMaker has no such API), apart from the
SageMaker routes as LocalStack keeps its developer API apart: ``GET /_local/stats`` and
``POST /_local/faults`` (the gateway forwards ``/_local/*`` here, so they answer at its URL too).

With ``scale_to_zero`` each endpoint hosts its model as an inference component
(text2image.inference_components) whose copy comes and goes (capacity.py): calls must name the
component, a call while it has no copy gets SageMaker's no-capacity answer, and the same port
answers the two SageMaker control-plane operations the warm Lambda uses (``POST /`` with
``X-Amz-Target: SageMaker.<Operation>``, JSON 1.1): DescribeInferenceComponent and
UpdateInferenceComponentRuntimeConfig.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from typing import Any

from text2image.inference_components import component_name
from text2image.local.capacity import COPIES, WARM, WARMING, Capacity, ScaleToZero
from text2image.local.containers import Container, ContainerError, PreviewContainer
from text2image.local.http_service import Body, HTTPService, Response

FAULT_MODES = ("error", "throttle", "notready", "unavailable", "slow", "garbage")
SAGEMAKER_INVOCATION_LIMIT = 60.0
MAX_BODY_BYTES = 6 * 1024 * 1024
ACCOUNT = "123456789012"
REGION = "us-east-1"
_PATH = re.compile(r"^/endpoints/([A-Za-z0-9-]{1,63})/invocations$")
_HOOKS_PREFIX = "/_local/"
_FAULT_SPEC = 'body: must be {"endpoint": NAME, "mode": MODE or null, "count": N}'
COMPONENT_HEADER = "X-Amzn-SageMaker-Inference-Component"  # InvokeEndpoint's InferenceComponentName
# InvokeEndpoint's answers about components, word for word as SageMaker Runtime gives them.
NO_CAPACITY = (
    "Inference Component has no capacity to process this request. ApplicationAutoScaling may be in-progress (if configured) "
    "or try to increase the capacity by invoking UpdateInferenceComponentRuntimeConfig API."
)
COMPONENT_REQUIRED = (
    "Inference Component Name header is required for endpoints to which you plan to deploy inference components. "
    "Please include Inference Component Name header or consider using SageMaker models."
)
_CONTROL_PLANE_TARGET = "SageMaker."
_JSON_1_1 = "application/x-amz-json-1.1"

# mode -> (status, error code, message) as SageMaker Runtime sends them; "error" is the
# container failing (a 500 from the model server), answered like any container error.
_FAULT_ANSWERS: dict[str, tuple[int, str, str]] = {
    "throttle": (400, "ThrottlingException", "Rate exceeded"),
    "notready": (429, "ModelNotReadyException", "Model is not ready to serve requests"),
    "unavailable": (503, "ServiceUnavailable", "Service is unavailable"),
}


class EndpointError(Exception):
    def __init__(self, status: int, code: str, message: str, extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.extra = extra or {}

    @classmethod
    def from_container(cls, endpoint: str, error: ContainerError) -> EndpointError:
        """SageMaker Runtime's answer when the container answers an error: 424 ModelError
        carrying the container's status and its model server's error body."""
        kind = "client" if error.status < 500 else "server"
        original = json.dumps({"code": error.status, "type": "InternalServerException", "message": error.message}, indent=2)
        log_group = f"/aws/sagemaker/Endpoints/{endpoint}"
        return cls(
            424,
            "ModelError",
            f'Received {kind} error ({error.status}) from primary with message "{original}". '
            f"See the log group {log_group} in account {ACCOUNT} for more information.",
            {"OriginalStatusCode": error.status, "OriginalMessage": original, "LogStreamArn": f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:{log_group}"},
        )


@dataclass
class Fault:
    mode: str
    remaining: int | None  # None: every call fails

    @classmethod
    def parse(cls, text: str) -> tuple[str, Fault]:
        """``NAME=MODE[:COUNT]`` -> (name, fault)."""
        name, sep, spec = text.partition("=")
        mode, _, count = spec.partition(":")
        if not sep or not name or mode not in FAULT_MODES:
            raise ValueError(f"fault must be NAME=MODE[:COUNT] with MODE one of {', '.join(FAULT_MODES)}: {text!r}")
        if count and (not count.isdigit() or int(count) < 1):
            raise ValueError(f"fault COUNT must be a positive whole number: {text!r}")
        return name, cls(mode, int(count) if count else None)


@dataclass
class Endpoint:
    name: str
    lock: threading.Lock = field(default_factory=threading.Lock)
    fault: Fault | None = None
    invocations: int = 0
    errors: int = 0
    capacity: Capacity | None = None  # scale to zero: its inference component's copy

    def take_fault(self) -> str | None:
        """The fault mode for this call, counting it down."""
        if self.fault is None:
            return None
        mode = self.fault.mode
        if self.fault.remaining is not None:
            self.fault.remaining -= 1
            if self.fault.remaining <= 0:
                self.fault = None
        return mode


class EndpointServer(HTTPService):
    max_body_bytes = MAX_BODY_BYTES

    def __init__(
        self,
        names: list[str],
        container: Callable[[str], Container] = lambda name: PreviewContainer(),
        invocation_limit: float = SAGEMAKER_INVOCATION_LIMIT,
        host: str = "127.0.0.1",
        port: int = 0,
        scale_to_zero: ScaleToZero | None = None,
    ) -> None:
        """``container(name)`` makes each endpoint's own container (its own model copy, as
        on separate instances); they are all made, models loaded, before the server starts.
        ``scale_to_zero``: each endpoint hosts an inference component that scales to zero."""
        self.endpoints = {name: Endpoint(name, capacity=None if scale_to_zero is None else Capacity(scale_to_zero)) for name in names}
        self.containers = {name: container(name) for name in names}
        self.invocation_limit = invocation_limit
        self.components = {component_name(name): self.endpoints[name] for name in names} if scale_to_zero else {}
        self._created = self._modified = time.time()
        self._stats_lock = threading.Lock()
        self.hooks: dict[tuple[str, str], Callable[[bytes], tuple[int, dict[str, Any]]]] = {
            ("GET", "/_local/stats"): lambda body: (200, {"endpoints": self.stats()}),
            ("POST", "/_local/faults"): self._set_fault_hook,
        }
        super().__init__("endpoints", host, port)

    def set_fault(self, name: str, mode: str | None, count: int | None = None) -> None:
        """Make ``name`` fail with ``mode`` for ``count`` calls (None: every call); mode None clears."""
        if name not in self.endpoints:
            raise ValueError(f"no endpoint named {name!r}; there are {', '.join(self.endpoints)}")
        if mode is not None and mode not in FAULT_MODES:
            raise ValueError(f"mode must be one of {', '.join(FAULT_MODES)}")
        if count is not None and (not isinstance(count, int) or count < 1):
            raise ValueError("count must be a positive whole number or null")
        endpoint = self.endpoints[name]
        with self._stats_lock:
            endpoint.fault = Fault(mode, count) if mode else None

    def clear_faults(self) -> None:
        with self._stats_lock:
            for endpoint in self.endpoints.values():
                endpoint.fault = None

    def reset_stats(self) -> None:
        with self._stats_lock:
            for endpoint in self.endpoints.values():
                endpoint.invocations = endpoint.errors = 0
                if endpoint.capacity is not None:
                    endpoint.capacity.refusals = 0

    def stats(self) -> dict[str, dict[str, Any]]:
        with self._stats_lock:
            return {
                e.name: {
                    "invocations": e.invocations,
                    "errors": e.errors,
                    "fault": None if e.fault is None else {"mode": e.fault.mode, "remaining": e.fault.remaining},
                    **self._capacity_stats(e),
                }
                for e in self.endpoints.values()
            }

    @staticmethod
    def _capacity_stats(endpoint: Endpoint) -> dict[str, Any]:
        """state (warm, cold or warming), copies serving, calls refused for want of one; an
        endpoint that does not scale to zero is always warm with its one copy."""
        capacity = endpoint.capacity
        if capacity is None:
            return {"state": WARM, "copies": 1, "cold_refusals": 0}
        state = capacity.state()
        return {"state": state, "copies": COPIES[state][1], "cold_refusals": capacity.refusals}

    def _endpoint(self, name: str) -> Endpoint:
        try:
            return self.endpoints[name]
        except KeyError:
            raise EndpointError(400, "ValidationError", f"Endpoint {name} of account {ACCOUNT} not found.") from None

    def invoke(self, name: str, body: bytes, content_type: str | None, accept: str | None, component: str | None = None) -> bytes:
        """One invocation as SageMaker would run it; raises ``EndpointError`` for error answers.
        ``component``: the inference component named (InvokeEndpoint's InferenceComponentName)."""
        arrived = time.monotonic()
        endpoint = self._endpoint(name)
        capacity = endpoint.capacity
        if capacity is not None:
            self._check_component(endpoint, component)
        with self._stats_lock:
            if capacity is not None and not capacity.admit():
                raise EndpointError(400, "ValidationError", NO_CAPACITY)
            endpoint.invocations += 1
            fault = endpoint.take_fault()
        try:
            # The container's host reads a missing or */* Accept as application/json.
            return self._run(endpoint, fault, body, content_type, accept if accept and accept != "*/*" else "application/json", arrived)
        except EndpointError:
            with self._stats_lock:
                endpoint.errors += 1
            raise
        finally:
            if capacity is not None:
                with self._stats_lock:
                    capacity.finish()

    @staticmethod
    def _check_component(endpoint: Endpoint, component: str | None) -> None:
        """An endpoint hosting a component takes only calls that name it."""
        if not component:
            raise EndpointError(400, "ValidationError", COMPONENT_REQUIRED)
        if component != component_name(endpoint.name):
            raise EndpointError(400, "ValidationError", f"Inference Component {component} not found on endpoint {endpoint.name} of account {ACCOUNT}.")

    def _run(self, endpoint: Endpoint, fault: str | None, body: bytes, content_type: str | None, accept: str, arrived: float) -> bytes:
        if fault in _FAULT_ANSWERS:
            raise EndpointError(*_FAULT_ANSWERS[fault])
        # One request at a time per endpoint, as on one GPU; the wait counts against the limit.
        if not endpoint.lock.acquire(timeout=self.invocation_limit):
            raise self._timed_out()
        try:
            if fault == "slow":
                time.sleep(self.invocation_limit)
                raise self._timed_out()
            try:
                if fault == "error":
                    raise ContainerError(500, "injected fault")
                answer = self.containers[endpoint.name].invoke(body, content_type, accept)
            except ContainerError as exc:
                raise EndpointError.from_container(endpoint.name, exc) from None
            if time.monotonic() - arrived > self.invocation_limit:
                raise self._timed_out()
        finally:
            endpoint.lock.release()
        if fault == "garbage":
            return b"<html>this is not what a model answers</html>"
        return answer

    def _timed_out(self) -> EndpointError:
        return EndpointError(
            424,
            "ModelError",
            f"Your invocation timed out while waiting for a response from container primary (limit {self.invocation_limit:g} s).",
        )

    # -- HTTP ------------------------------------------------------------------------------

    def handle(self, method: str, path: str, headers: Message, body: Body, query: str = "") -> Response:
        if path.startswith(_HOOKS_PREFIX):
            return self._hook(method, path, body)
        if (method, path) == ("POST", "/") and "X-Amz-Target" in headers:
            return self._control_plane(headers["X-Amz-Target"], body)
        try:
            answer = self._invocation(method, path, headers, body)
        except EndpointError as exc:
            return exc.status, self._headers(exc.code), json.dumps({"ErrorCode": exc.code, "Message": exc.message, **exc.extra}).encode()
        return 200, self._headers(None), answer

    def _invocation(self, method: str, path: str, headers: Message, body: Body) -> bytes:
        match = _PATH.match(path)
        if match is None or method != "POST":
            raise EndpointError(404, "UnknownOperationException", f"no such path {path}")
        if body.too_large(MAX_BODY_BYTES):
            raise EndpointError(413, "ValidationError", "Request body exceeds the 6 MB limit")
        if body.malformed:
            raise EndpointError(400, "ValidationError", "the chunked transfer encoding of the body is malformed")
        return self.invoke(match.group(1), body.data, headers.get("Content-Type"), headers.get("Accept"), headers.get(COMPONENT_HEADER))

    @staticmethod
    def _headers(error_code: str | None) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "x-amzn-RequestId": f"local-{time.monotonic_ns()}"}
        if error_code:
            headers["x-amzn-ErrorType"] = error_code
        else:
            headers["x-Amzn-Invoked-Production-Variant"] = "AllTraffic"
        return headers

    # -- SageMaker control plane: the two operations on inference components the warm Lambda uses --

    def describe_inference_component(self, name: str) -> dict[str, Any]:
        """DescribeInferenceComponent's answer (the fields of botocore's output shape this stand-in knows)."""
        endpoint = self._component(name)
        capacity = endpoint.capacity
        assert capacity is not None  # only endpoints that scale to zero host components
        with self._stats_lock:
            state = capacity.state()
        desired, current = COPIES[state]
        return {
            "InferenceComponentName": name,
            "InferenceComponentArn": self._component_arn(name),
            "EndpointName": endpoint.name,
            "EndpointArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/{endpoint.name}",
            "VariantName": "AllTraffic",
            # Copies being added are a runtime update in progress; no copy at all is still in service.
            "InferenceComponentStatus": "Updating" if state == WARMING else "InService",
            "RuntimeConfig": {"DesiredCopyCount": desired, "CurrentCopyCount": current},
            "CreationTime": self._created,
            "LastModifiedTime": self._modified,
        }

    def update_inference_component_runtime_config(self, name: str, copy_count: int) -> dict[str, Any]:
        """UpdateInferenceComponentRuntimeConfig: a copy asked for while cold serves cold-start
        seconds later. Each endpoint here is one GPU with one copy and scales in by itself when idle,
        so the only count it takes is 1."""
        endpoint = self._component(name)
        capacity = endpoint.capacity
        assert capacity is not None
        if copy_count != 1:
            raise EndpointError(
                400,
                "ValidationException",
                f"the local endpoints host 1 copy each and scale in by themselves after {capacity.settings.idle:g} s without a call: "
                f"CopyCount must be 1, not {copy_count}",
            )
        with self._stats_lock:
            capacity.ask_for_copy()
            self._modified = time.time()
        return {"InferenceComponentArn": self._component_arn(name)}

    def _component(self, name: str) -> Endpoint:
        try:
            return self.components[name]
        except KeyError:
            raise EndpointError(400, "ValidationException", f'Could not find inference component "{self._component_arn(name)}".') from None

    @staticmethod
    def _component_arn(name: str) -> str:
        return f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:inference-component/{name}"

    def _control_plane(self, target: str, body: Body) -> Response:
        """One JSON 1.1 call: errors as ``{"__type", "message"}``, which botocore raises as ClientError."""
        operations: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "DescribeInferenceComponent": lambda request: self.describe_inference_component(_string(request, "InferenceComponentName")),
            "UpdateInferenceComponentRuntimeConfig": lambda request: self.update_inference_component_runtime_config(
                _string(request, "InferenceComponentName"), _copy_count(request)
            ),
        }
        headers = {"Content-Type": _JSON_1_1, "x-amzn-RequestId": f"local-{time.monotonic_ns()}"}
        operation = operations.get(target.removeprefix(_CONTROL_PLANE_TARGET)) if target.startswith(_CONTROL_PLANE_TARGET) else None
        try:
            if operation is None:
                raise EndpointError(400, "UnknownOperationException", f"this local SageMaker answers {' and '.join(operations)} only, not {target}")
            try:
                request = json.loads(body.data or b"{}")
            except json.JSONDecodeError:
                request = None
            if not isinstance(request, dict):
                raise EndpointError(400, "SerializationException", "the request body must be a JSON object")
            answer = operation(request)
        except EndpointError as exc:
            return exc.status, headers, json.dumps({"__type": exc.code, "message": exc.message}).encode()
        return 200, headers, json.dumps(answer).encode()

    # -- test hooks (the local stack's own API; errors in the gateway's JSON shape) ---------

    def _hook(self, method: str, path: str, body: Body) -> Response:
        hook = self.hooks.get((method, path))
        status, answer = hook(body.data) if hook else (404, {"error": "NotFound", "message": f"no such path {path}"})
        return status, {"Content-Type": "application/json"}, json.dumps(answer).encode()

    def _set_fault_hook(self, body: bytes) -> tuple[int, dict[str, Any]]:
        """``POST /_local/faults`` with ``{"endpoint": NAME, "mode": MODE or null, "count": N}``."""
        try:
            spec = json.loads(body)
            self.set_fault(spec["endpoint"], spec.get("mode"), spec.get("count"))
        except (json.JSONDecodeError, TypeError, KeyError, AttributeError):
            return 400, {"error": "ValidationError", "message": _FAULT_SPEC, "field": "body"}
        except ValueError as exc:  # what set_fault refuses
            return 400, {"error": "ValidationError", "message": str(exc), "field": "body"}
        return 200, {"endpoints": self.stats()}


def _string(request: dict[str, Any], field: str) -> str:
    value = request.get(field)
    if not isinstance(value, str):
        raise EndpointError(400, "ValidationException", f"{field}: a string is required")
    return value


def _copy_count(request: dict[str, Any]) -> int:
    desired = request.get("DesiredRuntimeConfig")
    count = desired.get("CopyCount") if isinstance(desired, dict) else None
    if not isinstance(count, int) or isinstance(count, bool):
        raise EndpointError(400, "ValidationException", "DesiredRuntimeConfig.CopyCount: a whole number is required")
    return count
