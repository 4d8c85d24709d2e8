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

from text2image.local.containers import Container, ContainerError, PreviewContainer
from text2image.local.http_service import Body, HTTPService, Response

FAULT_MODES = ("error", "throttle", "notready", "unavailable", "slow", "garbage")
SAGEMAKER_INVOCATION_LIMIT = 60.0
MAX_BODY_BYTES = 6 * 1024 * 1024
ACCOUNT = "123456789012"
_PATH = re.compile(r"^/endpoints/([A-Za-z0-9-]{1,63})/invocations$")
_HOOKS_PREFIX = "/_local/"
_FAULT_SPEC = 'body: must be {"endpoint": NAME, "mode": MODE or null, "count": N}'

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
    ) -> None:
        """``container(name)`` makes each endpoint's own container (its own model copy, as
        on separate instances); they are all made, models loaded, before the server starts."""
        self.endpoints = {name: Endpoint(name) for name in names}
        self.containers = {name: container(name) for name in names}
        self.invocation_limit = invocation_limit
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

    def stats(self) -> dict[str, dict[str, Any]]:
        with self._stats_lock:
            return {
                e.name: {
                    "invocations": e.invocations,
                    "errors": e.errors,
                    "fault": None if e.fault is None else {"mode": e.fault.mode, "remaining": e.fault.remaining},
                }
                for e in self.endpoints.values()
            }

    def _endpoint(self, name: str) -> Endpoint:
        try:
            return self.endpoints[name]
        except KeyError:
            raise EndpointError(400, "ValidationError", f"Endpoint {name} of account {ACCOUNT} not found.") from None

    def invoke(self, name: str, body: bytes, content_type: str | None, accept: str | None) -> bytes:
        """One invocation as SageMaker would run it; raises ``EndpointError`` for error answers."""
        arrived = time.monotonic()
        endpoint = self._endpoint(name)
        with self._stats_lock:
            endpoint.invocations += 1
            fault = endpoint.take_fault()
        try:
            # The container's host reads a missing or */* Accept as application/json.
            return self._run(endpoint, fault, body, content_type, accept if accept and accept != "*/*" else "application/json", arrived)
        except EndpointError:
            with self._stats_lock:
                endpoint.errors += 1
            raise

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
        return self.invoke(match.group(1), body.data, headers.get("Content-Type"), headers.get("Accept"))

    @staticmethod
    def _headers(error_code: str | None) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "x-amzn-RequestId": f"local-{time.monotonic_ns()}"}
        if error_code:
            headers["x-amzn-ErrorType"] = error_code
        else:
            headers["x-Amzn-Invoked-Production-Variant"] = "AllTraffic"
        return headers

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
