"""cdk-nag (AwsSolutions) runs on the synth of conftest.py: reaching these tests means it
found nothing unacknowledged. These check the acknowledgments and that the check bites."""

from __future__ import annotations

import pytest
from aws_cdk import App, Stack, Validations
from aws_cdk import aws_sqs as sqs
from cdk_nag import AwsSolutionsChecks
from infra_synth import Synth

from infra.nag import NAG_PACK


def acknowledgments(synth: Synth) -> list[tuple[str, str, str]]:
    found = []
    for stack in (synth.default, synth.created):
        for construct in stack.node.find_all():
            for entry in construct.node.metadata:
                if entry.type == Validations.ACKNOWLEDGED_RULES_METADATA_KEY:
                    found += [(construct.node.path, rule, reason) for rule, reason in entry.data.items()]
    return found


def test_every_acknowledgment_names_a_rule_and_says_why_for_this_stack(synth: Synth) -> None:
    ours = [(path, rule, reason) for path, rule, reason in acknowledgments(synth) if rule.startswith(f"{NAG_PACK}::")]
    assert len(ours) >= 20
    for path, rule, reason in ours:
        assert rule.removeprefix(f"{NAG_PACK}::").startswith("AwsSolutions-"), (path, rule)
        assert len(reason) >= 40, f"{path} {rule}: the reason must say why, for this stack: {reason!r}"
    reasons = [reason for _, _, reason in ours]
    assert not [r for r in set(reasons) if r.lower().startswith(("suppress", "ok", "n/a", "not needed"))]


def test_an_unacknowledged_finding_fails_synth(tmp_path: object) -> None:
    app = App(outdir=str(tmp_path))
    stack = Stack(app, "Probe")
    sqs.Queue(stack, "Plain")  # no SSL enforcement, no DLQ: AwsSolutions-SQS3/SQS4
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    with pytest.raises(Exception, match="AwsSolutions-SQS4"):
        app.synth()
