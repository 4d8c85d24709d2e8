"""The README's AWS CLI block, run as written with AWS CLI v1 (what pip and uvx install)."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from support import EXECUTION_DEADLINE, jpeg_dimensions, wait_until

from text2image.local.stack import LocalStack
from text2image.paths import ROOT

AWS_CLI = Path(sys.executable).with_name("aws")


def readme_cli_block() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"so the AWS CLI works against it.*?```sh\n(.*?)```", readme, re.DOTALL)
    assert match, "the README's AWS CLI block is gone"
    return match.group(1)


def test_the_readme_cli_block_works_with_aws_cli_v1_twice(clean_stack: LocalStack, tmp_path: Path) -> None:
    version = subprocess.run([str(AWS_CLI), "--version"], capture_output=True, text=True, check=True)
    assert (version.stdout + version.stderr).startswith("aws-cli/1."), "this test is about the CLI v1 a user gets from pip"
    ports = {"<aws-port>": clean_stack.aws.url.rsplit(":", 1)[1], "<endpoint-port>": clean_stack.endpoints.url.rsplit(":", 1)[1]}
    script = re.sub("|".join(map(re.escape, ports)), lambda m: ports[m.group(0)], readme_cli_block())
    sfn, machine = clean_stack.aws.sfn, clean_stack.aws.state_machine_arn

    def executions() -> list[str]:
        pages = sfn.get_paginator("list_executions").paginate(stateMachineArn=machine)
        return [execution["executionArn"] for page in pages for execution in page["executions"]]

    before = set(executions())
    env = {**os.environ, "PATH": f"{AWS_CLI.parent}{os.pathsep}{os.environ['PATH']}"}
    for attempt in (1, 2):  # the second run must not collide with the first (ExecutionAlreadyExists)
        ran = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
        assert ran.returncode == 0, f"run {attempt}: {ran.stderr}"
        answer = json.loads((tmp_path / "out.json").read_bytes())
        assert jpeg_dimensions(base64.b64decode(answer["generated_images"][0])) == (512, 512)

    # Each run of the block starts three runs: the prompt file, start-execution, the event.
    def started() -> set[str] | None:
        found = set(executions()) - before
        return found if len(found) >= 6 else None

    new = wait_until(started, "six runs from the README's commands")
    assert len(new) == 6
    for arn in new:
        assert clean_stack.aws.wait(arn, EXECUTION_DEADLINE)
        execution = sfn.describe_execution(executionArn=arn)
        assert execution["status"] == "SUCCEEDED", (arn, execution.get("error"), execution.get("cause"))
