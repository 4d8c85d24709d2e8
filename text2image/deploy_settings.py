"""The deployment settings everyone shares: the ``text2image:*`` context of ``cdk.json``.

The CDK app reads them (with ``-c`` overrides), and the local gateway takes the same
throttling values, so the local stack throttles like the deployed stage.
"""

from __future__ import annotations

import json
from typing import Any

from text2image.paths import ROOT

PREFIX = "text2image:"


def context_defaults() -> dict[str, Any]:
    """``cdk.json``'s text2image context, keys without the prefix."""
    context = json.loads((ROOT / "cdk.json").read_text(encoding="utf-8"))["context"]
    return {key.removeprefix(PREFIX): value for key, value in context.items() if key.startswith(PREFIX)}
