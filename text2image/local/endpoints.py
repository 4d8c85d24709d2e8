"""A SageMaker-Runtime-compatible server hosting N named Stable Diffusion endpoints.

``POST /endpoints/<name>/invocations`` speaks the JumpStart contract of DESIGN.md and
answers errors the way SageMaker Runtime does (status, ``x-amzn-ErrorType`` header,
``Message`` body), so botocore raises the real exception classes. Each endpoint serves
one request at a time, like one GPU instance; a request that cannot finish within the
invocation limit (SageMaker: 60 s) gets the service's 424 ModelError timeout answer.
Faults can be injected per endpoint to exercise the workflow's retries and catches.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from text2image.local.http_service import HTTPService
from text2image.local.preview import render

FAULT_MODES = ("error", "throttle", "notready", "unavailable", "slow", "garbage")
SAGEMAKER_INVOCATION_LIMIT = 60.0
MAX_BODY_BYTES = 6 * 1024 * 1024
_PATH = re.compile(r"^/endpoints/([A-Za-z0-9-]{1,63})/invocations$")

# mode -> (status, error code, message) as SageMaker Runtime sends them
_FAULT_ANSWERS: dict[str, tuple[int, str, str]] = {
    "error": (424, "ModelError", 'Received server error (500) from primary with message "injected fault".'),
    "throttle": (400, "ThrottlingException", "Rate exceeded"),
    "notready": (429, "ModelNotReadyException", "Model is not ready to serve requests"),
    "unavailable": (503, "ServiceUnavailable", "Service is unavailable"),
}

Model = Callable[[str, str, int, int, int, float, int], bytes]  # prompt, negative, seed, w, h, guidance, steps


def preview_model(prompt: str, negative_prompt: str, seed: int, width: int, height: int, guidance: float, steps: int) -> bytes:
    return render(prompt, seed, width, height)


class EndpointError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


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
    images: int = 0
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
    def __init__(
        self,
        names: list[str],
        model: Model = preview_model,
        latency: float = 0.0,
        invocation_limit: float = SAGEMAKER_INVOCATION_LIMIT,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.endpoints = {name: Endpoint(name) for name in names}
        self.model = model
        self.latency = latency
        self.invocation_limit = invocation_limit
        self._stats_lock = threading.Lock()
        super().__init__("endpoints", self._handler_class(), host, port)

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
                endpoint.invocations = endpoint.images = endpoint.errors = 0

    def stats(self) -> dict[str, dict[str, Any]]:
        with self._stats_lock:
            return {
                e.name: {
                    "invocations": e.invocations,
                    "images": e.images,
                    "errors": e.errors,
                    "fault": None if e.fault is None else {"mode": e.fault.mode, "remaining": e.fault.remaining},
                }
                for e in self.endpoints.values()
            }

    def _endpoint(self, name: str) -> Endpoint:
        try:
            return self.endpoints[name]
        except KeyError:
            raise EndpointError(400, "ValidationError", f"Endpoint {name} of account 123456789012 not found.") from None

    def invoke(self, name: str, body: bytes) -> bytes:
        """One invocation as SageMaker would run it; raises ``EndpointError`` for error answers."""
        arrived = time.monotonic()
        endpoint = self._endpoint(name)
        with self._stats_lock:
            endpoint.invocations += 1
            fault = endpoint.take_fault()
        try:
            return self._run(endpoint, fault, body, arrived)
        except EndpointError:
            with self._stats_lock:
                endpoint.errors += 1
            raise

    def _run(self, endpoint: Endpoint, fault: str | None, body: bytes, arrived: float) -> bytes:
        if fault in _FAULT_ANSWERS:
            raise EndpointError(*_FAULT_ANSWERS[fault])
        request = parse_invocation(body)
        # One request at a time per endpoint, as on one GPU; the wait counts against the limit.
        if not endpoint.lock.acquire(timeout=self.invocation_limit):
            raise self._timed_out()
        try:
            if fault == "slow":
                time.sleep(self.invocation_limit)
                raise self._timed_out()
            images = []
            for offset in range(request["num_images_per_prompt"]):
                started = time.monotonic()
                seed = (request["seed"] + offset) % 2**32
                images.append(
                    self.model(
                        request["prompt"],
                        request["negative_prompt"],
                        seed,
                        request["width"],
                        request["height"],
                        request["guidance_scale"],
                        request["num_inference_steps"],
                    )
                )
                # --latency is the whole GPU time of an image: drawing it counts towards it.
                time.sleep(max(0.0, self.latency - (time.monotonic() - started)))
            if time.monotonic() - arrived > self.invocation_limit:
                raise self._timed_out()
        finally:
            endpoint.lock.release()
        with self._stats_lock:
            endpoint.images += len(images)
        if fault == "garbage":
            return b"<html>this is not what a model answers</html>"
        answer = {"generated_images": [base64.b64encode(image).decode() for image in images], "prompt": request["prompt"]}
        return json.dumps(answer).encode()

    def _timed_out(self) -> EndpointError:
        return EndpointError(
            424,
            "ModelError",
            f"Your invocation timed out while waiting for a response from container primary (limit {self.invocation_limit:g} s).",
        )

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes: without TCP_NODELAY, Nagle + delayed ACK
            # hold the body back ~40 ms on every call.
            disable_nagle_algorithm = True

            def do_POST(self) -> None:
                match = _PATH.match(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length <= MAX_BODY_BYTES else b""
                try:
                    if match is None:
                        raise EndpointError(404, "UnknownOperationException", f"no such path {self.path}")
                    if length > MAX_BODY_BYTES:
                        raise EndpointError(413, "ValidationError", "Request body exceeds the 6 MB limit")
                    answer = server.invoke(match.group(1), body)
                except EndpointError as exc:
                    self._send(exc.status, json.dumps({"ErrorCode": exc.code, "Message": exc.message}).encode(), exc.code)
                    return
                self._send(200, answer)

            def _send(self, status: int, body: bytes, error_code: str | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("x-amzn-RequestId", f"local-{time.monotonic_ns()}")
                if error_code:
                    self.send_header("x-amzn-ErrorType", error_code)
                else:
                    self.send_header("x-Amzn-Invoked-Production-Variant", "AllTraffic")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass  # the workflow logs every call; access lines would only add noise

        return Handler


def parse_invocation(body: bytes) -> dict[str, Any]:
    """The JumpStart request with its defaults; 424 ModelError when the model cannot use it,
    as a real container's input check would answer."""
    try:
        request = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise EndpointError(424, "ModelError", "Received client error (400) from primary: body is not JSON") from None
    if not isinstance(request, dict) or not isinstance(request.get("prompt"), str) or not request["prompt"]:
        raise EndpointError(424, "ModelError", "Received client error (400) from primary: 'prompt' is required")
    parsed = {
        "prompt": request["prompt"],
        "negative_prompt": request.get("negative_prompt") or "",
        "width": request.get("width", 512),
        "height": request.get("height", 512),
        "num_inference_steps": request.get("num_inference_steps", 50),
        "guidance_scale": request.get("guidance_scale", 7.5),
        "num_images_per_prompt": request.get("num_images_per_prompt", 1),
        "seed": request.get("seed", 0),
    }
    for name in ("width", "height"):
        value = parsed[name]
        if not isinstance(value, int) or isinstance(value, bool) or value % 8 or not 64 <= value <= 2048:
            raise EndpointError(424, "ModelError", f"Received client error (400) from primary: {name} must be a multiple of 8 in 64..2048")
    for name, low, high in (("num_images_per_prompt", 1, 16), ("num_inference_steps", 1, 500), ("seed", 0, 2**32 - 1)):
        value = parsed[name]
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise EndpointError(424, "ModelError", f"Received client error (400) from primary: {name} must be a whole number in {low}..{high}")
    if not isinstance(parsed["guidance_scale"], (int, float)) or isinstance(parsed["guidance_scale"], bool):
        raise EndpointError(424, "ModelError", "Received client error (400) from primary: guidance_scale must be a number")
    return parsed
