"""What the workflow hands the handlers in the unit and integration tests, declared once."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from text2image.local.lambdas import LambdaContext

if TYPE_CHECKING:  # the handler modules are imported by the tests, once their environment is set
    from invoke_endpoint import WorkItem

# One call's work item, as the Lane map builds it: two images with consecutive indices and seeds,
# a non-square size, a prompt with quotes.
CALL: WorkItem = {
    "request_id": "unit-1",
    "endpoint": "sd-local-1",
    "images": [{"index": 2, "seed": 11, "key": "images/unit-1/2.jpeg"}, {"index": 3, "seed": 12, "key": "images/unit-1/3.jpeg"}],
    "prompt": 'a "quoted" flower',
    "negative_prompt": "",
    "width": 512,
    "height": 256,
    "num_inference_steps": 20,
    "guidance_scale": 7.5,
    "capacity_deadline": 0.0,
}


def call(module: Any, event: Any) -> Any:
    """Invoke a handler module as the Lambda runtime does."""
    return module.handler(event, LambdaContext(module.__name__))
