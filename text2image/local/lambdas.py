"""Run the project's Lambda handlers in this process, as the local Lambda service.

moto's Step Functions engine calls ``lambda:Invoke`` through boto3; a botocore
``before-send.lambda.Invoke`` handler answers those calls by running our handler modules
(the very folders CDK deploys) and replying the way the Lambda service does: the result
as the payload, or ``X-Amz-Function-Error: Unhandled`` with ``errorMessage``/``errorType``.
"""

from __future__ import annotations

import importlib
import io
import json
import sys
import threading
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import boto3
from botocore.awsrequest import AWSResponse, HTTPHeaders

from text2image.manifest import LAMBDAS

PARTITION = "aws"
ACCOUNT = "123456789012"
REGION = "us-east-1"
Handler = Callable[[Any, Any], Any]


def function_arn(name: str) -> str:
    return f"arn:{PARTITION}:lambda:{REGION}:{ACCOUNT}:function:{name}"


@dataclass
class LambdaContext:
    """The attributes of the Lambda runtime's context object that handlers use."""

    function_name: str
    memory_limit_in_mb: int = 1024
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def invoked_function_arn(self) -> str:
        return function_arn(self.function_name)

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return "local"

    def get_remaining_time_in_millis(self) -> int:
        return 900_000


def add_function_paths() -> None:
    """Make each function folder importable, as the Lambda runtime does with an asset's root.
    Module names are unique across the folders (tests/unit/test_function_assets.py)."""
    for function in LAMBDAS:
        path = str(function.path)
        if path not in sys.path:
            sys.path.append(path)


def function_module(name: str) -> Any:
    """A pure module of the function folders (``request_validation``, ``planning``,
    ``collect_response``...): the local stack uses the same code as the Lambdas, never a copy."""
    add_function_paths()
    return importlib.import_module(name)


def request_validation() -> Any:
    """The Prepare function's request check: the local edge validates with the same code."""
    return function_module("request_validation")


def load_handlers() -> dict[str, Handler]:
    """Import each function folder's handler. Each reads its settings from the environment on
    first use (``get_settings()``, cached), as after a cold start."""
    add_function_paths()
    handlers = {}
    for function in LAMBDAS:
        module_name, attr = function.handler.rsplit(".", 1)
        handlers[function.name] = getattr(importlib.import_module(module_name), attr)
    return handlers


class _Body(io.BytesIO):
    def stream(self, **_: Any) -> Any:  # what botocore reads a non-streaming body with
        yield self.getvalue()


def invoke(handler: Handler, function_name: str, payload: Any) -> tuple[int, dict[str, str], bytes]:
    """Run one invocation; (status, headers, body) as the Lambda service would answer."""
    headers = {"Content-Type": "application/json", "X-Amz-Executed-Version": "$LATEST"}
    try:
        result = handler(payload, LambdaContext(function_name))
    except Exception as exc:  # the Lambda runtime reports every unhandled exception
        headers["X-Amz-Function-Error"] = "Unhandled"
        result = {
            "errorMessage": str(exc),
            "errorType": type(exc).__name__,
            "stackTrace": traceback.format_exception(exc)[-3:],
        }
    return 200, headers, json.dumps(result).encode()


class LocalLambdaService:
    """Answers ``lambda:Invoke`` for the functions of the manifest (text2image/manifest.py)."""

    def __init__(self, handlers: dict[str, Handler]) -> None:
        self.handlers = handlers
        self._lost_answers: dict[str, int] = {}
        self._lock = threading.Lock()

    def lose_answers(self, function_name: str, count: int) -> None:
        """Test hook: the next ``count`` successful runs of ``function_name`` answer with the
        Lambda service's 500 ServiceException, as when the service fails after the function
        did its work; Step Functions then retries a task that already wrote its output."""
        with self._lock:
            self._lost_answers[function_name] = count

    def _answer_lost(self, name: str) -> bool:
        with self._lock:
            if self._lost_answers.get(name, 0) <= 0:
                return False
            self._lost_answers[name] -= 1
            return True

    def install(self) -> None:
        # moto's engine builds its Lambda client from boto3's default session.
        boto3.setup_default_session()
        boto3.DEFAULT_SESSION.events.register("before-send.lambda.Invoke", self._on_invoke)  # type: ignore[union-attr, arg-type]

    def _on_invoke(self, request: Any, **_: Any) -> AWSResponse:
        # .../2015-03-31/functions/<name or ARN>/invocations
        target = unquote(request.url.split("/functions/", 1)[1].split("/", 1)[0])
        name = target.rsplit(":function:", 1)[-1].split(":", 1)[0]
        handler = self.handlers.get(name)
        if handler is None:
            body = json.dumps({"Type": "User", "message": f"Function not found: {function_arn(name)}"}).encode()
            return AWSResponse(request.url, 404, HTTPHeaders.from_dict({"x-amzn-ErrorType": "ResourceNotFoundException"}), _Body(body))
        status, headers, body = invoke(handler, name, json.loads(request.body or b"{}"))
        if "X-Amz-Function-Error" not in headers and self._answer_lost(name):
            lost = json.dumps({"Type": "Service", "message": "injected: the service failed after the function ran"}).encode()
            headers = {"x-amzn-ErrorType": "ServiceException", "x-amzn-RequestId": str(uuid.uuid4()), "Content-Type": "application/json"}
            return AWSResponse(request.url, 500, HTTPHeaders.from_dict(headers), _Body(lost))
        return AWSResponse(request.url, status, HTTPHeaders.from_dict(headers), _Body(body))
