"""What the session's synth produced (see conftest.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aws_cdk import App
from aws_cdk.assertions import Template

from infra.stack import Text2ImageStack


@dataclass
class Synth:
    app: App
    default: Text2ImageStack
    created: Text2ImageStack
    outdir: Path

    def template(self, stack: Text2ImageStack) -> Template:
        return Template.from_stack(stack)
