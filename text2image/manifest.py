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


@dataclass(frozen=True)
class LambdaFunction:
    name: str  # the function name the local stack answers to
    folder: str  # under functions/: the asset CDK deploys, the folder the local stack imports
    handler: str  # "module.attribute", as the Lambda runtime reads it
    # ${...} in statemachine/text2image.asl.json that takes its ARN; None for a function the
    # workflow does not call (a user pool trigger, an API route's function).
    arn_placeholder: str | None
    memory_mb: int
    timeout_seconds: int

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
LAMBDAS = (PREPARE, INVOKE_ENDPOINT, COLLECT, PRE_SIGN_UP, HISTORY, WARM)
# The workflow's tasks: the functions infra/functions.py deploys and the state machine invokes.
WORKFLOW_LAMBDAS = tuple(function for function in LAMBDAS if function.arn_placeholder is not None)


def definition_substitutions(function_arns: Mapping[str, str], partition: str) -> dict[str, str]:
    """Every ``${...}`` placeholder of the workflow file and its value: each function's ARN
    (``function_arns`` by function name) and the partition."""
    arns = {function.arn_placeholder: function_arns[function.name] for function in LAMBDAS if function.arn_placeholder is not None}
    return {PARTITION_PLACEHOLDER: partition, **arns}
