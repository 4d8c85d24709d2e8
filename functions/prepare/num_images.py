"""How many images a request that names none makes: one reading of ``DEFAULT_NUM_IMAGES`` for
Prepare (which fills it in) and the batch submit (which deals each line's images after the
lines before it: batch_input.StoredLine's ``deal_from``)."""

from __future__ import annotations

import os

from request_validation import SCHEMA


def default_num_images() -> int:
    """``DEFAULT_NUM_IMAGES`` (set by the stack from cdk.json), else the schema's default; one
    outside the schema's limits is a bad configuration, refused loudly."""
    limits = SCHEMA["properties"]["num_images"]
    text = os.environ.get("DEFAULT_NUM_IMAGES", str(limits["default"]))
    if not (text.isascii() and text.isdigit() and limits["minimum"] <= int(text) <= limits["maximum"]):
        raise ValueError(f"DEFAULT_NUM_IMAGES must be in {limits['minimum']}..{limits['maximum']}, not {text!r}")
    return int(text)
