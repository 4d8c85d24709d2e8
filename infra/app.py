"""CDK app entry point: `npx aws-cdk@2 synth|deploy` (cdk.json) or `python infra/app.py`.

cdk-nag's AWS Solutions checks run on every synth; an unacknowledged finding fails it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

# Before aws_cdk is imported: jsii prints a Node 20 end-of-life banner otherwise.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `infra` and `text2image` as packages

from aws_cdk import App, Environment, Validations
from cdk_nag import AwsSolutionsChecks

from infra.config import StackConfig
from infra.stack import Text2ImageStack

STACK_NAME = "Text2Image"


def build(app: App) -> Text2ImageStack:
    """The stack, configured from ``app``'s context, with cdk-nag registered."""
    stack = Text2ImageStack(
        app,
        STACK_NAME,
        config=StackConfig.from_context(app.node),
        env=Environment(account=os.environ.get("CDK_DEFAULT_ACCOUNT"), region=os.environ.get("CDK_DEFAULT_REGION")),
    )
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return stack


def main() -> None:
    # The CLI passes its output folder; run directly, the app writes cdk.out like the CLI would.
    app = App(outdir=os.environ.get("CDK_OUTDIR", "cdk.out"))
    build(app)
    app.synth()


if __name__ == "__main__":
    main()
