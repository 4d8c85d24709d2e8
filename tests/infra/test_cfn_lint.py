"""cfn-lint, AWS's CloudFormation linter (its resource specifications come from the
CloudFormation registry), on every template of the session's synth (conftest.py): no error,
and no warning that is not acknowledged below with its reason."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import Stage
from infra_synth import Synth

CFN_LINT = Path(sys.executable).parent / "cfn-lint"
PARTITION = "aws"

# (rule, logical ids it applies to) -> why the warning is left as it is. The one place where
# cfn-lint warnings are acknowledged; an entry that no longer matches anything fails the test.
ACKNOWLEDGED: dict[tuple[str, str], str] = {
    (
        "W3005",
        r"(Functions|Batches|Authpresignup|WorkflowStateMachine|BucketNotificationsHandler|CustomCDKBucketDeployment)\w+",
    ): "CDK's Function and StateMachine constructs list their role in DependsOn beside the role's DefaultPolicy, "
    "though the role is already a GetAtt. The DefaultPolicy entry is the one that matters (nothing runs before its "
    "permissions exist); the redundant role entry is CDK's own output and changes no order.",
    (
        "W3005",
        r"Endpoints(Model|\w+config)\w+",
    ): "infra/endpoints.py's add_dependency(role) is how the SageMaker Model (and, for inference components, the endpoint "
    "configuration that carries the execution role) waits for the role's DefaultPolicy (CreateModel checks that the execution "
    "role can pull the image and the model data); CDK lists the role itself too.",
    (
        "W3045",
        r"StorageAccessLogs\w+",
    ): "The access-log bucket: CDK grants S3 server-access-log delivery with the canned ACL LogDeliveryWrite unless the "
    "@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy flag is on. The bucket keeps ACLs enabled either way: CloudFront "
    "standard logging writes with ACLs and refuses a bucket whose ACLs are disabled.",
}


@dataclass(frozen=True)
class Finding:
    rule: str
    level: str
    resource: str  # logical id, or "" for a finding outside Resources
    message: str
    where: str

    def __str__(self) -> str:
        return f"{self.rule} {self.resource}: {self.message} ({self.where})"


def lint(template: Path, regions: list[str]) -> list[Finding]:
    """cfn-lint's command line, as CI or a user runs it, one template in ``regions``."""
    result = subprocess.run(
        [str(CFN_LINT), "--format", "json", "--regions", *regions, "--", str(template)], capture_output=True, text=True, timeout=120, check=False
    )
    # Exit status: a bit mask of error (2), warning (4) and informational (8) findings; 1 is a crash.
    assert result.returncode & 1 == 0 and result.stdout.strip(), result.stderr
    findings = []
    for match in json.loads(result.stdout):
        path = match["Location"]["Path"]
        resource = path[1] if len(path) > 1 and path[0] == "Resources" else ""
        where = f"{Path(match['Filename']).name}:{match['Location']['Start']['LineNumber']}"
        findings.append(Finding(match["Rule"]["Id"], match["Level"], resource, match["Message"], where))
    return findings


def acknowledgment(finding: Finding) -> tuple[str, str] | None:
    """The entry of ACKNOWLEDGED that covers ``finding``; errors are never acknowledged."""
    if finding.level == "Error":
        return None
    return next((key for key in ACKNOWLEDGED if key[0] == finding.rule and re.fullmatch(key[1], finding.resource)), None)


def target_regions(region: str) -> list[str]:
    """A stack pinned to a region is linted there; an environment-agnostic one in every region
    of the partition it deploys to, as it may be deployed to any of them. Not aws-cn: CloudFront
    there has no Origin Access Control (cfn-lint E3006) and cannot serve its default domain."""
    if not region.startswith("unknown"):
        return [region]
    from aws_cdk.region_info import RegionInfo
    from cfnlint.helpers import REGIONS  # type: ignore[import-untyped]

    return [name for name in REGIONS if RegionInfo.get(name).partition == PARTITION]


@pytest.fixture(scope="session")
def findings(synth: Synth) -> list[Finding]:
    found: list[Finding] = []
    for stack in (synth.default, synth.created):
        app = Stage.of(stack)
        assert app is not None
        assembly = app.synth()  # the session's assembly: an App synthesizes once
        artifact = assembly.get_stack_artifact(stack.artifact_id)
        found += lint(Path(artifact.template_full_path), target_regions(artifact.environment.region))
    return found


def test_every_synthesized_template_is_linted(synth: Synth) -> None:
    templates = {Path(p).name for p in [*synth.outdir.glob("*.template.json"), *synth.outdir.glob("*/*.template.json")]}
    assert templates == {f"{stack.artifact_id}.template.json" for stack in (synth.default, synth.created)}


def test_no_error_and_no_unacknowledged_warning(findings: list[Finding]) -> None:
    left = [str(finding) for finding in findings if acknowledgment(finding) is None]
    assert not left, "cfn-lint findings (fix them, or acknowledge a warning in ACKNOWLEDGED with its reason):\n" + "\n".join(left)


def test_every_acknowledgment_still_matches_a_warning(findings: list[Finding]) -> None:
    used = {acknowledgment(finding) for finding in findings}
    assert not [key for key in ACKNOWLEDGED if key not in used], "stale entries in ACKNOWLEDGED: remove them"


def test_the_linter_bites(tmp_path: Path) -> None:
    """An error cfn-lint must report, in a resource that an acknowledgment's pattern covers."""
    template: dict[str, Any] = {
        "Resources": {
            "StorageAccessLogs1234": {
                "Type": "AWS::S3::Bucket",
                "Properties": {
                    "AccessControl": "LogDeliveryWrite",
                    "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerPreferred"}]},
                    "VersioningConfiguration": {},
                },
            }
        }
    }
    path = tmp_path / "probe.template.json"
    path.write_text(json.dumps(template), encoding="utf-8")
    found = lint(path, ["us-east-1"])
    assert [(f.rule, acknowledgment(f)) for f in found if f.level == "Error"] == [("E3003", None)]  # VersioningConfiguration needs Status
    assert [acknowledgment(f) for f in found if f.rule == "W3045"] == [("W3045", r"StorageAccessLogs\w+")]
