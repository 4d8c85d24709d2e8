"""The ASL file passes asl-validator (the npm package, installed by `npm ci`)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from text2image.paths import ROOT, STATE_MACHINE

VALIDATOR = ROOT / "node_modules" / ".bin" / "asl-validator"


def test_asl_validator_accepts_the_workflow() -> None:
    if not VALIDATOR.exists():
        pytest.fail("asl-validator is missing: `make test` runs `npm ci`; run it, or `npm ci` yourself")
    assert shutil.which("node"), "Node.js is needed for asl-validator"
    result = subprocess.run([str(VALIDATOR), "--json-path", str(STATE_MACHINE)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is valid" in result.stdout
