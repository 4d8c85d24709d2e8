"""The workflow files pass asl-validator (the npm package, installed by `npm ci`), as each
partition's substitutions render them: their ARNs name their partition through ${Partition}."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from text2image import batch_workflow, manifest
from text2image.local.aws import definition_substitutions, render_definition
from text2image.local.lambdas import function_arn
from text2image.paths import BATCH_STATE_MACHINE, ROOT, STATE_MACHINE

VALIDATOR = ROOT / "node_modules" / ".bin" / "asl-validator"


def batch_substitutions(partition: str) -> dict[str, str]:
    """The batch workflow's placeholders as the deployed stack fills them by default."""
    return batch_workflow.definition_substitutions(
        {function.name: function_arn(function.name) for function in manifest.LAMBDAS},
        partition,
        request_state_machine_arn=f"arn:{partition}:states:us-east-1:123456789012:stateMachine:text2image",
        concurrency=batch_workflow.batch_concurrency(0, gpus=4),
    )


WORKFLOWS = {
    STATE_MACHINE: lambda partition: definition_substitutions() | {manifest.PARTITION_PLACEHOLDER: partition},
    BATCH_STATE_MACHINE: batch_substitutions,
}


@pytest.mark.parametrize("workflow", list(WORKFLOWS), ids=lambda path: path.name)
@pytest.mark.parametrize("partition", ["aws", "aws-cn", "aws-us-gov"])
def test_asl_validator_accepts_the_workflow_as_rendered_for_each_partition(workflow: Path, partition: str, tmp_path: Path) -> None:
    if not VALIDATOR.exists():
        pytest.fail("asl-validator is missing: `make test` runs `npm ci`; run it, or `npm ci` yourself")
    assert shutil.which("node"), "Node.js is needed for asl-validator"
    rendered = tmp_path / workflow.name
    rendered.write_text(render_definition(workflow.read_text(encoding="utf-8"), WORKFLOWS[workflow](partition)), encoding="utf-8")
    result = subprocess.run([str(VALIDATOR), "--json-path", str(rendered)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is valid" in result.stdout


@pytest.mark.parametrize("workflow", list(WORKFLOWS), ids=lambda path: path.name)
def test_no_arn_in_the_workflow_file_names_a_partition(workflow: Path) -> None:
    assert "arn:aws:" not in workflow.read_text(encoding="utf-8")
    assert f"arn:${{{manifest.PARTITION_PLACEHOLDER}}}:states:::lambda:invoke" in workflow.read_text(encoding="utf-8")
