"""The project's Lambda functions, declared once: what infra deploys, what the local stack
runs, what the workflow file's ``${...}`` placeholders name, what tests and benches read.

Neutral ground: nothing here belongs to the deployed stack or to the local emulator, so each
may read it without depending on the other (tests/unit/test_manifest.py checks the imports).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from text2image.paths import FUNCTIONS

# The Python the functions deploy on (arm64), and the one `make test-lambda-runtime` runs their
# tests on (the Makefile reads this line). The newest that both the public Powertools layer and
# this machine's interpreters offer: uv cannot download interpreters here.
LAMBDA_PYTHON = "3.13"
LAMBDA_RUNTIME = f"python{LAMBDA_PYTHON}"

# The workflow file's ARNs name their partition (arn:${Partition}:states:::lambda:invoke).
PARTITION_PLACEHOLDER = "Partition"
# The state machines whose files name functions by ${...}: the request workflow
# (statemachine/text2image.asl.json) and the batch workflow (statemachine/text2image_batch.asl.json).
REQUEST_WORKFLOW = "request"
BATCH_WORKFLOW = "batch"


@dataclass(frozen=True)
class LambdaFunction:
    name: str  # the function name the local stack answers to
    folder: str  # under functions/: the asset CDK deploys, the folder the local stack imports
    handler: str  # "module.attribute", as the Lambda runtime reads it
    # ${...} in its workflow's file that takes its ARN; None for a function no workflow calls (a
    # user pool trigger, an API route's function).
    arn_placeholder: str | None
    memory_mb: int
    timeout_seconds: int
    workflow: str = REQUEST_WORKFLOW  # whose file names arn_placeholder

    @property
    def path(self) -> Path:
        return FUNCTIONS / self.folder


PREPARE = LambdaFunction("text2image-prepare", "prepare", "prepare.handler", "PrepareFunctionArn", memory_mb=256, timeout_seconds=30)
# One SageMaker call (up to 60 s, read timeout 70 s) plus an S3 write.
INVOKE_ENDPOINT = LambdaFunction(
    "text2image-invoke-endpoint", "invoke_endpoint", "invoke_endpoint.handler", "InvokeEndpointFunctionArn", memory_mb=512, timeout_seconds=90
)
COLLECT = LambdaFunction("text2image-collect", "collect", "collect.handler", "CollectFunctionArn", memory_mb=256, timeout_seconds=30)
# The user pool's pre sign-up trigger (infra/auth.py), deployed only with text2image:signUpDomains.
PRE_SIGN_UP = LambdaFunction("text2image-pre-sign-up", "pre_sign_up", "pre_sign_up.handler", None, memory_mb=128, timeout_seconds=5)
# GET /text2image/history ("My runs"), deployed with sign-in (infra/functions.py).
HISTORY = LambdaFunction("text2image-history", "history", "history.handler", None, memory_mb=256, timeout_seconds=10)
# POST /text2image/warm: asks cold endpoints for a model copy ahead of use; deployed where the endpoints scale to zero.
WARM = LambdaFunction("text2image-warm", "warm", "warm.handler", None, memory_mb=256, timeout_seconds=10)
# POST /text2image/batches: checks a JSONL/CSV file of requests (up to 4 MiB, 10,000 lines), stores it
# and starts the batch workflow. Beside Prepare: the same request check and DEFAULT_NUM_IMAGES.
SUBMIT_BATCH = LambdaFunction("text2image-submit-batch", "prepare", "batches.handler", None, memory_mb=512, timeout_seconds=30)
# The same for a file dropped under batches/inbox/ (an EventBridge rule's target).
BATCH_DROP = LambdaFunction("text2image-batch-drop", "prepare", "batches.drop_handler", None, memory_mb=512, timeout_seconds=60)
# The batch workflow's Summarize task: batches/<id>/status.json from the lines' manifests (a final
# look after a long wait may read hundreds of them).
BATCH_STATUS = LambdaFunction(
    "text2image-batch-status", "batch_status", "batch_status.handler", "BatchStatusFunctionArn", memory_mb=512, timeout_seconds=120, workflow=BATCH_WORKFLOW
)
LAMBDAS = (PREPARE, INVOKE_ENDPOINT, COLLECT, PRE_SIGN_UP, HISTORY, WARM, SUBMIT_BATCH, BATCH_DROP, BATCH_STATUS)
# The request workflow's tasks: the functions infra/functions.py deploys and the state machine invokes.
WORKFLOW_LAMBDAS = tuple(function for function in LAMBDAS if function.arn_placeholder is not None and function.workflow == REQUEST_WORKFLOW)
# The batch workflow's tasks (its other placeholders: text2image/batch_workflow.py).
BATCH_WORKFLOW_LAMBDAS = tuple(function for function in LAMBDAS if function.arn_placeholder is not None and function.workflow == BATCH_WORKFLOW)
CALLED_BY = {REQUEST_WORKFLOW: WORKFLOW_LAMBDAS, BATCH_WORKFLOW: BATCH_WORKFLOW_LAMBDAS}


def definition_substitutions(function_arns: Mapping[str, str], partition: str, workflow: str = REQUEST_WORKFLOW) -> dict[str, str]:
    """The ``${...}`` placeholders of ``workflow``'s file that the manifest fills: the ARN of each
    function it calls (``function_arns`` by function name) and the partition."""
    arns = {function.arn_placeholder: function_arns[function.name] for function in CALLED_BY[workflow] if function.arn_placeholder is not None}
    return {PARTITION_PLACEHOLDER: partition, **arns}
