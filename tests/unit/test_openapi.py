"""The OpenAPI document: valid OpenAPI 3.0, its request the very request.schema.json, and a
schema feature OpenAPI 3.0 cannot say refused rather than dropped."""

from __future__ import annotations

import json
from typing import Any

import pytest
from openapi_spec_validator import validate

from text2image.openapi import AWS_REQUEST_TOO_LONG, OPENAPI_VERSION, REQUEST_NAME, document, document_bytes, openapi_schema
from text2image.paths import REQUEST_SCHEMA
from text2image.routes import API_ROUTES, HISTORY_ROUTE, JOBS_ROUTE, SYNC_ROUTE


def test_the_document_is_valid_openapi_3_0() -> None:
    spec = document()
    assert spec["openapi"] == OPENAPI_VERSION and OPENAPI_VERSION.startswith("3.0.")
    validate(spec)


def test_the_request_is_the_schema_file_itself() -> None:
    schema = json.loads(REQUEST_SCHEMA.read_text(encoding="utf-8"))
    del schema["$schema"]  # the one draft-04 keyword OpenAPI 3.0 has no place for
    spec = document()
    assert spec["components"]["schemas"][REQUEST_NAME] == schema
    for method, path in (SYNC_ROUTE, JOBS_ROUTE):  # the routes that take a body (the history's GET takes none)
        operation = spec["paths"][path][method.lower()]
        assert operation["requestBody"]["content"]["application/json"]["schema"] == {"$ref": f"#/components/schemas/{REQUEST_NAME}"}, path
    assert "requestBody" not in spec["paths"][HISTORY_ROUTE[1]]["get"]


def test_both_routes_and_only_they_are_documented() -> None:
    assert {(method.upper(), path) for path, item in document()["paths"].items() for method in item} == set(API_ROUTES)


def test_every_error_answer_is_the_error_shape() -> None:
    spec = document()
    for item in spec["paths"].values():
        for operation in item.values():
            for status, answer in operation["responses"].items():
                body = answer["content"]["application/json"]["schema"]
                for ref in body.get("oneOf", [body]):  # a 429 is throttling or a quota
                    name = ref["$ref"].rsplit("/", 1)[1]
                    schema = spec["components"]["schemas"][name]
                    if int(status) >= 400 and name != AWS_REQUEST_TOO_LONG:  # AWS's own answer, which the API cannot reshape
                        assert schema["required"][:2] == ["error", "message"] and schema["properties"]["error"]["enum"] == [name], status


@pytest.mark.parametrize(
    "draft04",
    [
        {"type": "object", "patternProperties": {"^x": {"type": "string"}}},
        {"type": ["string", "null"]},
        {"type": "object", "properties": {"inner": {"definitions": {}}}},
    ],
)
def test_what_openapi_3_0_cannot_say_is_refused(draft04: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"no OpenAPI 3\.0 equivalent"):
        openapi_schema(draft04)


def test_the_served_bytes_are_the_document() -> None:
    assert json.loads(document_bytes()) == document()
