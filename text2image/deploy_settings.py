"""The deployment settings everyone shares: the ``text2image:*`` context of ``cdk.json``.

The CDK app reads them (with ``-c`` overrides), and the local gateway takes the same
throttling values, so the local stack throttles like the deployed stage.
"""

from __future__ import annotations

import json
from typing import Any

from text2image.paths import ROOT

PREFIX = "text2image:"


def cdk_context() -> dict[str, Any]:
    """``cdk.json``'s whole context, as ``cdk synth`` passes it: CDK's feature flags and target
    partitions as well as the text2image settings."""
    context: dict[str, Any] = json.loads((ROOT / "cdk.json").read_text(encoding="utf-8"))["context"]
    return context


def context_defaults() -> dict[str, Any]:
    """``cdk.json``'s text2image context, keys without the prefix."""
    return {key.removeprefix(PREFIX): value for key, value in cdk_context().items() if key.startswith(PREFIX)}
