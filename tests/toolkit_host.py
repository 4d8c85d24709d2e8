"""Requests through the real SageMaker Hugging Face inference toolkit, as the container runs them.

    python tests/toolkit_host.py MODEL_DIR < requests.json

Reads ``[{"headers": {...}, "body": "..."}]``, builds the toolkit's handler service on the
unpacked model artifact in MODEL_DIR (it imports code/inference.py from there, calls
``model_fn`` once and ``input_fn``/``predict_fn``/``output_fn`` per request) and prints
``{"answers": [...], "module": <file the toolkit imported>}``. A process of its own, so the
toolkit imports the artifact's code, not a copy already loaded by the tests.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from mms.context import Context, RequestProcessor
from mms.metrics.metrics_store import MetricsStore
from mms.service import PredictionException
from sagemaker_huggingface_inference_toolkit.handler_service import HuggingFaceHandlerService


class ModelServerRequest(RequestProcessor):  # type: ignore[misc]
    """The model server's request record with the accessor the toolkit calls (the container's
    model server has it; the PyPI release of multi-model-server does not)."""

    def get_request_properties(self) -> dict[str, str]:
        headers: dict[str, str] = self._request_header
        return headers


def main() -> None:
    model_dir = sys.argv[1]
    service = HuggingFaceHandlerService()
    answers: list[dict[str, Any]] = []
    for request in json.load(sys.stdin):
        context = Context("model", model_dir, {}, 1, None, "1.1.11")
        context.request_processor = [ModelServerRequest(request["headers"])]
        context.metrics = MetricsStore(["request"], "model")
        try:
            (body,) = service.handle([{"body": request["body"].encode()}], context)
        except PredictionException as exc:
            answers.append({"status": exc.error_code, "message": exc.message})
            continue
        answers.append({"status": 200, "content_type": context.get_response_content_type(0), "body": body.decode()})
    json.dump({"answers": answers, "module": sys.modules["inference"].__file__}, sys.stdout)


if __name__ == "__main__":
    main()
