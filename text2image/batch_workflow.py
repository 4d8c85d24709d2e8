"""The batch workflow's settings, declared once for infra/ and the local stack: the ``${...}``
placeholders of statemachine/text2image_batch.asl.json beyond the functions' ARNs and the
partition (text2image/manifest.py), and how the deployed and the local stacks size them.

Neutral ground, like the manifest: nothing here belongs to the deployed stack or to the emulator.
"""

from __future__ import annotations

from collections.abc import Mapping

from text2image import manifest

# The request workflow (statemachine/text2image.asl.json) that runs each line.
REQUEST_STATE_MACHINE_PLACEHOLDER = "RequestStateMachineArn"
# The map's MaxConcurrency: lines in flight at once (text2image:batchConcurrency).
CONCURRENCY_PLACEHOLDER = "BatchConcurrency"
# The map's ToleratedFailurePercentage (text2image:batchToleratedFailurePercentage).
TOLERATED_FAILURE_PLACEHOLDER = "BatchToleratedFailurePercentage"
# Seconds between two updates of status.json while the batch runs.
PROGRESS_SECONDS_PLACEHOLDER = "ProgressSeconds"

DEFAULT_TOLERATED_FAILURE_PERCENTAGE = 10
PROGRESS_SECONDS = 10
# Lines in flight per GPU: two hide each line's workflow overhead (Prepare, Collect, the child's
# start) behind the other's images, and an interactive request waits behind about one line's call.
LINES_PER_GPU = 2


def batch_concurrency(setting: int, gpus: int) -> int:
    """MaxConcurrency: ``setting`` (text2image:batchConcurrency) where it is set, else 0 asks for
    ``LINES_PER_GPU`` lines per GPU the endpoints can have (endpoints x their most instances)."""
    if setting < 0 or gpus < 1:
        raise ValueError(f"batch concurrency must be 0 (sized to the GPUs) or more, and there must be a GPU; got {setting} for {gpus} GPUs")
    return setting or LINES_PER_GPU * gpus


def definition_substitutions(
    function_arns: Mapping[str, str],
    partition: str,
    *,
    request_state_machine_arn: str,
    concurrency: int,
    tolerated_failure_percentage: float = DEFAULT_TOLERATED_FAILURE_PERCENTAGE,
    progress_seconds: float = PROGRESS_SECONDS,
) -> dict[str, str]:
    """Every ``${...}`` placeholder of the batch workflow file and its value. AWS's Wait takes whole
    seconds; the local stack scales ``progress_seconds`` down with its Retry intervals."""
    if concurrency < 1 or not 0 <= tolerated_failure_percentage <= 100 or not progress_seconds > 0:
        raise ValueError(
            f"MaxConcurrency {concurrency} (1 or more), ToleratedFailurePercentage {tolerated_failure_percentage:g} (0 to 100), "
            f"progress every {progress_seconds:g} s (more than 0)"
        )
    return manifest.definition_substitutions(function_arns, partition, manifest.BATCH_WORKFLOW) | {
        REQUEST_STATE_MACHINE_PLACEHOLDER: request_state_machine_arn,
        CONCURRENCY_PLACEHOLDER: str(concurrency),
        TOLERATED_FAILURE_PLACEHOLDER: f"{tolerated_failure_percentage:g}",
        PROGRESS_SECONDS_PLACEHOLDER: f"{progress_seconds:g}",
    }
