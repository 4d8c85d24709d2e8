"""The local gateway over real HTTP: edge validation, status mapping, throttling, objects."""

from __future__ import annotations

import json
from http.client import HTTPConnection
from typing import Any

import pytest
from support import http, invocations, jpeg_dimensions, keys_under, post_json

from text2image.local.gateway import Gateway, GatewayConfig, execution_error_answer
from text2image.local.stack import LocalStack, edge_validator
from text2image.routes import UNSUPPORTED_MEDIA_TYPE_MESSAGE, UNSUPPORTED_MEDIA_TYPE_STATUS


def test_post_returns_the_seed_clients_shape_and_fetchable_jpegs(clean_stack: LocalStack) -> None:
    status, answer = post_json(f"{clean_stack.gateway.url}/text2image", {"text": "A flower, fantasy, happy"})
    assert status == 200 and answer["statusCode"] == 200
    urls = json.loads(answer["body"])
    assert len(urls) == 4 and isinstance(answer["time"], float)
    for url in urls:
        code, headers, data = http("GET", url, content_type=None)
        assert code == 200 and headers["Content-Type"] == "image/jpeg"
        assert jpeg_dimensions(data) == (768, 512)
    code, headers, manifest = http("GET", f"{clean_stack.gateway.url}/requests/{answer['request_id']}.json", content_type=None)
    assert code == 200 and json.loads(manifest)["status"] == "succeeded"


def test_bad_requests_get_400_naming_the_field_and_call_no_endpoint(clean_stack: LocalStack, invalid_case: dict[str, Any]) -> None:
    before = keys_under(clean_stack, "requests/")
    status, answer = post_json(f"{clean_stack.gateway.url}/text2image", invalid_case["request"])
    assert status == 400
    assert answer["error"] == "ValidationError" and answer["field"] == invalid_case["field"]
    assert answer["message"].startswith(invalid_case["field"] + ": ")
    assert invocations(clean_stack) == {"sd-local-1": 0, "sd-local-2": 0}
    assert keys_under(clean_stack, "requests/") == before


@pytest.mark.parametrize(
    ("body", "content_type", "field"),
    [
        (b"{not json", "application/json", "body"),
        (b"", "application/json", "body"),
        (json.dumps({"text": "a", "negative_prompt": "x" * 70_000}).encode(), "application/json", "body"),
    ],
)
def test_broken_http_bodies_are_validation_errors(clean_stack: LocalStack, body: bytes, content_type: str | None, field: str) -> None:
    status, _, raw = http("POST", f"{clean_stack.gateway.url}/text2image", body, content_type)
    answer = json.loads(raw)
    assert status == 400 and answer["error"] == "ValidationError" and answer["field"] == field
    assert invocations(clean_stack) == {"sd-local-1": 0, "sd-local-2": 0}


@pytest.mark.parametrize("route", ["/text2image", "/text2image/jobs"])
@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "application/jsonx"])
def test_a_body_that_is_not_json_by_its_type_is_415_as_api_gateway_answers(clean_stack: LocalStack, route: str, content_type: str) -> None:
    status, _, raw = http("POST", f"{clean_stack.gateway.url}{route}", b'{"text": "a"}', content_type)
    assert (status, json.loads(raw)) == (UNSUPPORTED_MEDIA_TYPE_STATUS, {"error": "ValidationError", "message": UNSUPPORTED_MEDIA_TYPE_MESSAGE})
    assert invocations(clean_stack) == {"sd-local-1": 0, "sd-local-2": 0}


@pytest.mark.parametrize(("body", "status"), [(b'{"text": "a", "num_images": 1}', 200), (b"{not json", 400)])
def test_no_content_type_is_taken_as_json_as_api_gateway_does(clean_stack: LocalStack, body: bytes, status: int) -> None:
    # http.client, not urllib: urllib adds a form Content-Type to any body sent without one.
    host, port = clean_stack.gateway.url.removeprefix("http://").split(":")
    connection = HTTPConnection(host, int(port), timeout=60)
    connection.request("POST", "/text2image", body=body)
    response = connection.getresponse()
    answer = json.loads(response.read())
    connection.close()
    assert response.status == status, answer
    assert status == 200 or answer["field"] == "body"


def test_json_with_a_charset_is_accepted(clean_stack: LocalStack) -> None:
    status, _, _ = http("POST", f"{clean_stack.gateway.url}/text2image", b'{"text": "a", "num_images": 1}', "application/json; charset=utf-8")
    assert status == 200


def test_one_endpoint_down_gives_200_with_errors(clean_stack: LocalStack) -> None:
    clean_stack.endpoints.set_fault("sd-local-2", "error")
    status, answer = post_json(f"{clean_stack.gateway.url}/text2image", {"text": "half"})
    assert status == 200
    assert len(json.loads(answer["body"])) == 2
    assert [(e["index"], e["endpoint"]) for e in answer["errors"]] == [(2, "sd-local-2"), (3, "sd-local-2")]


def test_all_endpoints_down_gives_502_listing_why(clean_stack: LocalStack) -> None:
    for name in ("sd-local-1", "sd-local-2"):
        clean_stack.endpoints.set_fault(name, "error")
    status, answer = post_json(f"{clean_stack.gateway.url}/text2image", {"text": "none", "num_images": 2})
    assert status == 502 and answer["error"] == "GenerationFailed"
    assert [e["error"] for e in answer["errors"]] == ["ModelError", "ModelError"]


def test_faults_and_stats_hooks(clean_stack: LocalStack) -> None:
    url = clean_stack.gateway.url
    status, answer = post_json(f"{url}/_local/faults", {"endpoint": "sd-local-1", "mode": "throttle", "count": 1})
    assert status == 200 and answer["endpoints"]["sd-local-1"]["fault"] == {"mode": "throttle", "remaining": 1}
    post_json(f"{url}/text2image", {"text": "a", "num_images": 1})
    code, _, stats = http("GET", f"{url}/_local/stats", content_type=None)
    assert code == 200 and json.loads(stats)["endpoints"]["sd-local-1"]["invocations"] == 2
    assert post_json(f"{url}/_local/faults", {"endpoint": "sd-9", "mode": "error"})[0] == 400
    assert post_json(f"{url}/_local/faults", {"endpoint": "sd-local-1", "mode": "melt"})[0] == 400


@pytest.mark.parametrize(
    "path",
    ["/images/../requests/x.json", "/images/%2e%2e/x.jpeg", "/requests/../../etc/passwd", "/images/a/b/0.jpeg", "/../pyproject.toml", "/prompts/x.json"],
)
def test_paths_outside_the_served_prefixes_are_refused(clean_stack: LocalStack, path: str) -> None:
    status, _, _ = http("GET", clean_stack.gateway.url + path, content_type=None)
    assert status == 404


def test_the_page_is_served_at_the_root(clean_stack: LocalStack) -> None:
    status, headers, body = http("GET", clean_stack.gateway.url + "/", content_type=None)
    assert status == 200 and headers["Content-Type"] == "text/html"
    assert b'src="text2image.js"' in body
    code, headers, script = http("GET", clean_stack.gateway.url + "/text2image.js", content_type=None)
    assert code == 200 and headers["Content-Type"] == "text/javascript" and b'apiFetch("/text2image/jobs"' in script


def test_throttling_answers_429_with_retry_after(clean_stack: LocalStack) -> None:
    gateway = Gateway(
        clean_stack.aws, edge_validator(), GatewayConfig(throttle_rate=0.01, throttle_burst=1), port=0, hooks_url=clean_stack.endpoints.url
    ).start()
    try:
        first = post_json(f"{gateway.url}/text2image", {"text": "a", "width": 7})
        status, headers, body = http("POST", f"{gateway.url}/text2image", b'{"text": "a"}')
    finally:
        gateway.stop()
    assert first[0] == 400  # the one token was spent on it
    assert status == 429 and json.loads(body)["error"] == "TooManyRequests"
    assert int(headers["Retry-After"]) >= 1
    assert invocations(clean_stack) == {"sd-local-1": 0, "sd-local-2": 0}


GENERATION_FAILED = json.dumps({"error": "GenerationFailed", "message": "no image could be made"})


@pytest.mark.parametrize(
    ("execution", "status", "error"),
    [
        ({"status": "TIMED_OUT"}, 504, "Timeout"),
        ({"status": "FAILED", "error": "States.Timeout", "cause": "Task timed out"}, 500, "InternalError"),
        ({"status": "FAILED", "error": "States.Runtime", "cause": "boom"}, 500, "InternalError"),
        (
            {"status": "FAILED", "error": "GenerationFailed", "cause": json.dumps({"errorMessage": '{"error": "GenerationFailed", "message": "m"}'})},
            502,
            "GenerationFailed",
        ),
    ],
)
def test_failed_runs_map_to_the_statuses_of_the_deployed_template(execution: dict[str, Any], status: int, error: str) -> None:
    """The same mapping as infra/templates/start_sync_execution.response.vtl (tests/infra/test_vtl.py)."""
    answer_status, answer = execution_error_answer(execution)
    assert (answer_status, answer["error"]) == (status, error)
