"""Whole-number settings of the Prepare folder's functions (Prepare, the batch submit), read one
way: the stack sets them (infra/functions.py, infra/batches.py) from cdk.json's context, and a
bad value fails the first invocation, naming the variable."""

from __future__ import annotations

import os


def whole_number(variable: str, low: int, default: int | None = None) -> int:
    """``variable`` as a whole number of at least ``low``; required unless it has a ``default``."""
    text = os.environ[variable] if default is None else os.environ.get(variable, str(default))
    if not (text.isascii() and text.isdigit() and int(text) >= low):
        raise ValueError(f"{variable} must be a whole number of at least {low}, not {text!r}")
    return int(text)
