"""What runs inside a local endpoint: the model container.

SageMaker sends each invocation to a model container and turns the container's error
answers into ``ModelError`` for the caller. Locally a container is an object with
``invoke(body, content_type, accept)``; two kinds exist:

- ``PreviewContainer``: the fast deterministic preview renderer;
- ``InferenceScriptContainer``: endpoint/code/inference.py run the way the Hugging Face
  inference toolkit runs it in the container (``model_fn`` once; ``input_fn`` ->
  ``predict_fn`` -> ``output_fn`` per request; JSON bodies arrive as text; any
  exception is a 400 answer).

The endpoint server hands them the Accept header as the container's host does: missing
or ``*/*`` becomes ``application/json``.

Both parse and answer through endpoint/code/jumpstart_contract.py, so they hold to one
contract and refuse the same requests with the same messages.
"""

from __future__ import annotations

import importlib
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

from text2image.local.preview import render
from text2image.paths import ENDPOINT_CODE


class ContainerError(Exception):
    """The container answered an error: ``status`` is its HTTP status (400: bad request)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


class Container(Protocol):
    def invoke(self, body: bytes, content_type: str | None, accept: str) -> bytes: ...


def endpoint_module(name: str) -> ModuleType:
    """A module of endpoint/code, imported as the container does: with code/ on sys.path."""
    code = str(ENDPOINT_CODE)
    if code not in sys.path:
        sys.path.insert(0, code)
    return importlib.import_module(name)


class PreviewContainer:
    """Preview images timed as one GPU makes them: a call of k images takes ``call_overhead`` +
    k x ``latency`` seconds, drawing included (``clock`` and ``sleep`` are replaceable for tests)."""

    def __init__(
        self,
        latency: float = 0.0,
        call_overhead: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        limits: Any = None,
    ) -> None:
        self.latency, self.call_overhead = latency, call_overhead
        self.clock, self.sleep = clock, sleep
        self.contract = endpoint_module("jumpstart_contract")
        self.limits = limits or self.contract.Limits()

    def invoke(self, body: bytes, content_type: str | None, accept: str) -> bytes:
        started = self.clock()
        try:
            request = self.contract.parse_request(body, content_type, self.limits)
            kind = self.contract.check_accept(accept)
            encoded = [self.contract.encode_image(render(request.prompt, seed, request.width, request.height), kind) for seed in request.seeds]
            answer: bytes = self.contract.answer_body(request.prompt, encoded, kind)
        except self.contract.InvalidRequest as exc:  # refused before the GPU: no GPU time
            raise ContainerError(400, str(exc)) from None
        # A GPU pays a per-call cost (prompt encoding, pipeline set-up, kernel launches) once, then each
        # image of the batch: C + k.T for the whole call, the drawing and encoding counted in it.
        self.sleep(max(0.0, self.call_overhead + len(encoded) * self.latency - (self.clock() - started)))
        return answer


class InferenceScriptContainer:
    """endpoint/code/inference.py serving the diffusers model in ``model_dir``."""

    UTF8_TYPES = ("application/json", "text/csv")  # the toolkit hands these to input_fn as text

    def __init__(self, model_dir: Path) -> None:
        self.script = endpoint_module("inference")
        self.model = self.script.model_fn(str(model_dir))

    def invoke(self, body: bytes, content_type: str | None, accept: str) -> bytes:
        try:
            data: str | bytes = body.decode("utf-8") if content_type in self.UTF8_TYPES else body
            request = self.script.input_fn(data, content_type)
            prediction = self.script.predict_fn(request, self.model)
            answer: bytes = self.script.output_fn(prediction, accept)
        except Exception as exc:  # the toolkit answers every handler exception with 400
            raise ContainerError(400, str(exc)) from exc
        return answer
