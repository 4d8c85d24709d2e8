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


ALLOWED = "text, negative_prompt, width, height, num_images, num_inference_steps, guidance_scale, seed"


@pytest.mark.parametrize(
    ("request_", "field", "message"),
    [
        ({"text": "a", "zeta": 1, "colour": "red"}, "colour", f"colour: unknown field; allowed: {ALLOWED}"),
        ({"negative_prompt": "b"}, "text", "text: is required"),
        ([{"text": "a"}], "body", "body: must be a JSON object"),
        ("a flower", "body", "body: must be a JSON object"),
        ({"text": 5}, "text", "text: must be a string (got 5)"),
        ({"text": "a", "guidance_scale": "7.5"}, "guidance_scale", 'guidance_scale: must be a number (got "7.5")'),
        ({"text": "a", "guidance_scale": 20.5}, "guidance_scale", "guidance_scale: must be at most 20 (got 20.5)"),
        ({"text": "a", "height": True}, "height", "height: must be a whole number (got true)"),
        ({"text": "a", "width": 248}, "width", "width: must be at least 256 (got 248)"),
        ({"text": "a", "num_images": None}, "num_images", "num_images: must be a whole number (got null)"),
        ({"text": "x" * 2001}, "text", "text: must be at most 2000 characters (got 2001)"),
        ({"text": "a", "negative_prompt": "y" * 2001}, "negative_prompt", "negative_prompt: must be at most 2000 characters (got 2001)"),
    ],
)
def test_each_refusal_has_its_field_reason_and_body(request_: Any, field: str, message: str) -> None:
    with pytest.raises(ValidationError) as raised:
        validated_request(request_)
    error = raised.value
    assert (error.field, f"{error.field}: {error.reason}") == (field, message)
    assert error.body == {"error": "ValidationError", "message": message, "field": field}
    assert json.loads(str(error)) == error.body


def test_non_ascii_values_are_shown_as_written() -> None:
    with pytest.raises(ValidationError) as raised:
        validated_request({"text": "a", "width": "größe"})
    assert raised.value.reason == 'must be a whole number (got "größe")'
    assert json.loads(str(raised.value))["message"] == 'width: must be a whole number (got "größe")'


def test_a_value_shown_in_40_characters_is_shown_whole_and_a_longer_one_cut_to_40() -> None:
    forty = "w" * 38  # 40 characters with its quotes
    with pytest.raises(ValidationError) as whole:
        validated_request({"text": "a", "width": forty})
    assert whole.value.reason == f'must be a whole number (got "{forty}")'
    with pytest.raises(ValidationError) as cut:
        validated_request({"text": "a", "width": forty + "w"})
    assert cut.value.reason == f'must be a whole number (got "{"w" * 36}...)'
    assert len('"' + "w" * 36 + "...") == 40


@pytest.mark.parametrize(
    ("seed", "shown"),
    [
        (2**53 - 1, "9007199254740991"),  # the largest integer a double holds exactly: shown as is
        (2**53, "9.00719925474099e+15"),
        (-(2**53), "-9.00719925474099e+15"),
        (-(2**53) + 1, "-9007199254740991"),
    ],
)
def test_integers_from_2_to_the_53_on_are_shown_rounded(seed: int, shown: str) -> None:
    with pytest.raises(ValidationError) as raised:
        validated_request({"text": "a", "seed": seed})
    bound = "at most 4294967295" if seed > 0 else "at least 0"
    assert raised.value.reason == f"must be {bound} (got {shown})"


def test_the_defaults_are_the_schemas_and_given_values_are_kept() -> None:
    assert validated_request({"text": "a"}) == {
        "text": "a",
        "negative_prompt": "",
        "width": 768,
        "height": 512,
        "num_images": 4,
        "num_inference_steps": 50,
        "guidance_scale": 7.5,
    }
    given = {"text": "b", "negative_prompt": "n", "width": 256, "height": 1280, "num_images": 16, "num_inference_steps": 150, "guidance_scale": 0, "seed": 0}
    assert validated_request(given) == given
