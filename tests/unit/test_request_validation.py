"""The one JSON Schema, through the Prepare function's validation module."""

from __future__ import annotations

import json
from typing import Any

import pytest

from request_validation import SCHEMA, ValidationError, validated_request
from text2image.paths import REQUEST_SCHEMA


def test_valid_requests_pass_with_defaults_and_text_unchanged(valid_case: dict[str, Any]) -> None:
    request = valid_case["request"]
    result = validated_request(request)
    assert result["text"] == request["text"]
    for field, definition in SCHEMA["properties"].items():
        if "default" in definition:
            assert result[field] == request.get(field, definition["default"])
    assert "seed" not in result or result["seed"] == request["seed"]


def test_invalid_requests_name_the_field(invalid_case: dict[str, Any]) -> None:
    with pytest.raises(ValidationError) as raised:
        validated_request(invalid_case["request"])
    body = json.loads(str(raised.value))
    assert body["error"] == "ValidationError"
    assert body["field"] == invalid_case["field"]
    assert body["message"].startswith(f"{invalid_case['field']}: ")


def test_validation_does_not_modify_the_callers_request() -> None:
    request = {"text": "a"}
    validated_request(request)
    assert request == {"text": "a"}


def test_the_schema_is_draft_04_and_the_one_file_the_local_stack_reads() -> None:
    assert SCHEMA["$schema"] == "http://json-schema.org/draft-04/schema#"
    assert json.loads(REQUEST_SCHEMA.read_text(encoding="utf-8")) == SCHEMA
    assert SCHEMA["additionalProperties"] is False


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        ({"text": "a", "width": 1001}, "width: must be a multiple of 8 (got 1001)"),
        ({"text": "a", "num_images": 17}, "num_images: must be at most 16 (got 17)"),
        ({"text": "a", "seed": -1}, "seed: must be at least 0 (got -1)"),
        ({"text": "a", "height": "512"}, 'height: must be a whole number (got "512")'),
        ({"text": ""}, "text: must not be empty"),
        ({"text": "   "}, "text: must contain more than white space"),
        ({}, "text: is required"),
    ],
)
def test_messages_say_why(request_: Any, message: str) -> None:
    with pytest.raises(ValidationError) as raised:
        validated_request(request_)
    assert json.loads(str(raised.value))["message"] == message


def test_a_number_written_with_a_fraction_is_not_an_integer_at_the_edge() -> None:
    """Draft-04: 768.0 is not an integer, so the API refuses it. (A workflow started directly
    gets its input through JSONata, which has one number type: there 768.0 is 768.)"""
    with pytest.raises(ValidationError, match="width: must be a whole number"):
        validated_request({"text": "a", "width": 768.0})


def test_huge_numbers_are_shown_rounded_the_same_way_at_every_door() -> None:
    with pytest.raises(ValidationError) as exact:
        validated_request({"text": "a", "seed": 10**30})
    with pytest.raises(ValidationError) as as_double:
        validated_request({"text": "a", "seed": int(float(10**30))})  # what JSONata hands on
    assert str(exact.value) == str(as_double.value)
    assert exact.value.reason == "must be at most 4294967295 (got 1e+30)"
