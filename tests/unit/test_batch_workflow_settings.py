"""The batch workflow's placeholders as the local stack fills them (text2image/batch_workflow.py,
LocalAWSConfig): MaxConcurrency two lines per endpoint unless `up --batch-concurrency` says, the
progress interval scaled with the Retry intervals."""

from __future__ import annotations

import pytest

from text2image import batch_workflow
from text2image.local.aws import LocalAWSConfig, batch_definition_substitutions
from text2image.local.stack import LocalStack, StackConfig


def local(**settings: object) -> dict[str, str]:
    return batch_definition_substitutions(LocalAWSConfig(endpoint_names=["a", "b", "c"], endpoints_url="http://127.0.0.1:1", **settings))  # type: ignore[arg-type]


def test_the_local_batch_concurrency_is_two_lines_per_endpoint_unless_set() -> None:
    assert local()[batch_workflow.CONCURRENCY_PLACEHOLDER] == "6"
    assert local(batch_concurrency=3)[batch_workflow.CONCURRENCY_PLACEHOLDER] == "3"


def test_the_progress_interval_is_scaled_like_the_retry_intervals() -> None:
    assert local()[batch_workflow.PROGRESS_SECONDS_PLACEHOLDER] == "10"
    assert local(retry_time_scale=0.01)[batch_workflow.PROGRESS_SECONDS_PLACEHOLDER] == "0.1"


def test_the_deployed_default_sizes_the_concurrency_to_the_gpus() -> None:
    assert batch_workflow.batch_concurrency(0, gpus=2 * 2) == 8
    assert batch_workflow.batch_concurrency(5, gpus=4) == 5
    with pytest.raises(ValueError, match="batch concurrency"):
        batch_workflow.batch_concurrency(-1, gpus=4)


@pytest.mark.parametrize(
    ("settings", "says"),
    [({"concurrency": 0}, "MaxConcurrency 0"), ({"concurrency": 2, "tolerated_failure_percentage": 101}, "ToleratedFailurePercentage 101")],
)
def test_values_aws_would_refuse_are_refused_before_anything_is_rendered(settings: dict[str, float], says: str) -> None:
    with pytest.raises(ValueError, match=says):
        batch_workflow.definition_substitutions({}, "aws", request_state_machine_arn="arn", **settings)  # type: ignore[arg-type]


def test_up_refuses_a_negative_batch_concurrency() -> None:
    with pytest.raises(ValueError, match="--batch-concurrency must be 0"):
        LocalStack(StackConfig(port=0, batch_concurrency=-1))
