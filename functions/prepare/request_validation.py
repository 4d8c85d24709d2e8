"""The request contract, applied the same way at every door.

The rules live once, in ``request.schema.json`` beside this module (draft-04, so API
Gateway can use it as a model). This module turns a schema failure into the error body
the API returns: ``{"error": "ValidationError", "message": "<field>: <why>", "field": ...}``.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import fastjsonschema

SCHEMA_PATH = Path(__file__).with_name("request.schema.json")
SCHEMA: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
FIELDS: tuple[str, ...] = tuple(SCHEMA["properties"])
# The schema compiled once per container by fastjsonschema, the engine behind Powertools'
# validate(), which compiles it again on every call (about 8 ms here): a batch file of
# text2image:maxBatchLines lines (10,000) paid that for each line, past its function's timeout.
_check_schema = fastjsonschema.compile(SCHEMA)


class ValidationError(Exception):
    """The request breaks the contract. ``str()`` is the JSON error body (Step Functions
    carries it as the error message, so every door can answer with the same body)."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        self.body = {"error": "ValidationError", "message": f"{field}: {reason}", "field": field}
        super().__init__(json.dumps(self.body))


def validated_request(candidate: Any) -> dict[str, Any]:
    """Validate ``candidate`` against the schema; return a copy with the defaults filled in."""
    request: dict[str, Any] = copy.deepcopy(candidate)
    try:
        _check_schema(request)  # fills the schema's defaults in, in place
    except fastjsonschema.JsonSchemaValueException as exc:
        raise _explain(exc) from None
    return request


def _explain(exc: fastjsonschema.JsonSchemaValueException) -> ValidationError:
    path = [str(part) for part in (exc.path or []) if part != "data"]
    rule = exc.rule or ""
    if not path:
        if rule == "additionalProperties" and isinstance(exc.value, dict):
            unknown = sorted(key for key in exc.value if key not in FIELDS)
            return ValidationError(unknown[0], f"unknown field; allowed: {', '.join(FIELDS)}")
        if rule == "required" and isinstance(exc.value, dict):
            missing = [key for key in SCHEMA["required"] if key not in exc.value]
            return ValidationError(missing[0], "is required")
        return ValidationError("body", "must be a JSON object")
    field = ".".join(path)
    return ValidationError(field, _reason(rule, SCHEMA["properties"].get(path[0], {}), exc.value))


# Beyond 2^53 a JSON number is a double in JavaScript, JSONata and Step Functions: show it
# rounded, so every door (which may have carried it as a double) words it the same way.
_EXACT_LIMIT = 2**53


def _reason(rule: str, definition: dict[str, Any], value: Any) -> str:
    huge = isinstance(value, (int, float)) and not isinstance(value, bool) and abs(value) >= _EXACT_LIMIT
    shown = f"{value:.15g}" if huge else json.dumps(value, ensure_ascii=False)
    if len(shown) > 40:
        shown = shown[:37] + "..."
    reasons = {
        "type": f"must be {'a whole number' if definition.get('type') == 'integer' else 'a ' + str(definition.get('type'))} (got {shown})",
        "minimum": f"must be at least {definition.get('minimum')} (got {shown})",
        "maximum": f"must be at most {definition.get('maximum')} (got {shown})",
        "multipleOf": f"must be a multiple of {definition.get('multipleOf')} (got {shown})",
        "minLength": "must not be empty",
        "maxLength": f"must be at most {definition.get('maxLength')} characters (got {len(value) if isinstance(value, str) else shown})",
        "pattern": "must contain more than white space",
    }
    return reasons.get(rule, f"is not valid (got {shown})")
