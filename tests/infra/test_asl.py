"""The workflow file passes asl-validator (the npm package, installed by `npm ci`), as each
partition's substitutions render it: its ARNs name their partition through ${Partition}."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from text2image import manifest
from text2image.local.aws import definition_substitutions, render_definition
from text2image.paths import ROOT, STATE_MACHINE

VALIDATOR = ROOT / "node_modules" / ".bin" / "asl-validator"


@pytest.mark.parametrize("partition", ["aws", "aws-cn", "aws-us-gov"])
def test_asl_validator_accepts_the_workflow_as_rendered_for_each_partition(partition: str, tmp_path: Path) -> None:
    if not VALIDATOR.exists():
        pytest.fail("asl-validator is missing: `make test` runs `npm ci`; run it, or `npm ci` yourself")
    assert shutil.which("node"), "Node.js is needed for asl-validator"
    substitutions = definition_substitutions() | {manifest.PARTITION_PLACEHOLDER: partition}
    rendered = tmp_path / "text2image.asl.json"
    rendered.write_text(render_definition(STATE_MACHINE.read_text(encoding="utf-8"), substitutions), encoding="utf-8")
    result = subprocess.run([str(VALIDATOR), "--json-path", str(rendered)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is valid" in result.stdout


def test_no_arn_in_the_workflow_file_names_a_partition() -> None:
    assert "arn:aws:" not in STATE_MACHINE.read_text(encoding="utf-8")
    assert f"arn:${{{manifest.PARTITION_PLACEHOLDER}}}:states:::lambda:invoke" in STATE_MACHINE.read_text(encoding="utf-8")
