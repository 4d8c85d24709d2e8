"""What each make target installs, read from a dry run: `make up` needs Python only, so it never
runs npm ci; the targets that use the CDK CLI or asl-validator still get the Node packages.
``-W package-lock.json`` makes the lock file look just changed, as on a fresh clone."""

from __future__ import annotations

import subprocess

import pytest

from text2image.paths import ROOT


def dry_run(target: str) -> str:
    return subprocess.run(["make", "-n", "-W", "package-lock.json", target], cwd=ROOT, capture_output=True, text=True, check=True, timeout=60).stdout


def test_make_up_syncs_python_only() -> None:
    commands = dry_run("up")
    assert "sync --frozen --inexact" in commands and "run text2image up" in commands
    assert "npm" not in commands


@pytest.mark.parametrize("target", ["synth", "deploy", "test-infra", "test"])
def test_targets_that_need_node_run_npm_ci(target: str) -> None:
    assert "npm ci" in dry_run(target)
