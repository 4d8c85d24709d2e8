"""POST /text2image/batches through the local gateway, end to end: the file reaches the submit
function base64-encoded in API Gateway's proxy event, the batch runs on the batch workflow, its
status document and images are served where the 202 says."""

from __future__ import annotations

import json
import socket
import uuid
from typing import Any
from urllib.parse import urlsplit

import pytest
from support import http, invocations, jpeg_dimensions, keys_under, wait_until

from text2image.local.gateway import MAX_BODY_BYTES
from text2image.local.stack import LocalStack
from text2image.routes import API_GATEWAY_PAYLOAD_BYTES, BATCH_MAX_BYTES, PAYLOAD_TOO_LARGE_ANSWER, PAYLOAD_TOO_LARGE_STATUS, REQUEST_TOO_LARGE_MESSAGE

JSONL = "application/x-ndjson"
CSV = "text/csv"


def post_batch(stack: LocalStack, body: bytes, content_type: str | None = JSONL) -> tuple[int, dict[str, Any]]:
    status, _, answer = http("POST", f"{stack.gateway.url}/text2image/batches", body, content_type)
    decoded: dict[str, Any] = json.loads(answer)
    return status, decoded


def jsonl(requests: list[Any]) -> bytes:
    return "".join(json.dumps(request) + "\n" for request in requests).encode()


def ended_status(url: str) -> dict[str, Any]:
    """The batch's status document once it is no longer running, read as a client polls it."""

    def ended() -> dict[str, Any] | None:
        status, _, body = http("GET", url, content_type=None)
        document: dict[str, Any] = json.loads(body) if status == 200 else {}
        return document if document.get("status") not in (None, "running") else None

    document: dict[str, Any] = wait_until(ended, f"{url} to say the batch ended", timeout=60)
    return document


def test_a_jsonl_batch_answers_202_and_its_status_url_reaches_succeeded_with_fetchable_images(clean_stack: LocalStack) -> None:
    tag = uuid.uuid4().hex[:8]
    requests = [{"text": f"a lighthouse {tag}", "num_images": 2, "width": 256, "height": 256}, {"text": "a harbour", "num_images": 1}]
    status, answer = post_batch(clean_stack, jsonl(requests))
    assert status == 202, answer
    batch_id = answer["batch_id"]
    assert answer == {"batch_id": batch_id, "status_url": f"{clean_stack.gateway.url}/batches/{batch_id}/status.json", "lines": 2}
    document = ended_status(answer["status_url"])
    assert (document["status"], document["total"], document["done"], document["images"]) == ("succeeded", 2, 2, 3)
    sizes = [(256, 256), (256, 256), (768, 512)]
    urls = [url for line in document["lines"] for url in line["images"]]
    for url, size in zip(urls, sizes, strict=True):
        code, headers, data = http("GET", url, content_type=None)
        assert (code, headers["Content-Type"], jpeg_dimensions(data)) == (200, "image/jpeg", size)


def test_a_csv_batch_runs_with_its_columns_as_the_requests_fields(clean_stack: LocalStack) -> None:
    tag = uuid.uuid4().hex[:8]
    status, answer = post_batch(clean_stack, f'text,num_images,seed\nfirst {tag},1,5\n"second, with a comma",2,\n'.encode(), CSV)
    assert (status, answer["lines"]) == (202, 2), answer
    document = ended_status(answer["status_url"])
    assert (document["status"], [len(line["images"]) for line in document["lines"]]) == ("succeeded", [1, 2])


def test_bad_lines_are_refused_naming_each_and_no_endpoint_is_called(clean_stack: LocalStack) -> None:
    lines: list[Any] = [{"text": f"fine {n}"} for n in range(20)]
    lines[2] = {"text": ""}  # line 3
    lines[16] = {"text": "unknown field", "colour": "red"}  # line 17
    stored, started = keys_under(clean_stack, "batches/"), started_batches(clean_stack)
    status, answer = post_batch(clean_stack, jsonl(lines))
    assert (status, answer["error"], answer["field"]) == (400, "ValidationError", "body"), answer
    assert [(line["line"], line["field"]) for line in answer["lines"]] == [(3, "text"), (17, "colour")]
    assert answer["message"].startswith("2 of 20 lines are invalid: line 3: text") and "; line 17: colour" in answer["message"]
    assert invocations(clean_stack) == {"sd-local-1": 0, "sd-local-2": 0}
    assert (keys_under(clean_stack, "batches/"), started_batches(clean_stack)) == (stored, started)  # nothing written, nothing started


def started_batches(stack: LocalStack) -> list[str]:
    """The batch ids the batch workflow has executions for (each stored batch has one)."""
    executions = stack.aws.sfn.list_executions(stateMachineArn=stack.aws.batch_state_machine_arn, maxResults=1000)["executions"]
    return [execution["name"] for execution in executions]


def test_the_same_file_twice_is_one_batch(clean_stack: LocalStack) -> None:
    body = jsonl([{"text": f"twice {uuid.uuid4().hex[:8]}", "num_images": 1}])
    first_status, first = post_batch(clean_stack, body)
    second_status, second = post_batch(clean_stack, body)
    assert (first_status, second_status) == (202, 202) and first == second
    ended_status(first["status_url"])
    third_status, third = post_batch(clean_stack, body)  # after it ended too: nothing restarted
    assert (third_status, third) == (202, first)
    assert started_batches(clean_stack).count(first["batch_id"]) == 1
    assert invocations(clean_stack) == {"sd-local-1": 1, "sd-local-2": 0}


@pytest.mark.parametrize(
    ("body", "content_type", "status", "says"),
    [
        (b"", JSONL, 400, "no request line"),
        (b"\n  \n", JSONL, 400, "no request line"),
        (b'{"text": "a"}\n["not", "an object"]\n', JSONL, 400, "line 2"),
        (b'{"text": "a"}\n', "application/json", 415, "application/x-ndjson or text/csv"),
        (b'{"text": "caf\xe9"}\n', JSONL, 400, "line 1: body: is not UTF-8 text (byte 0xe9)"),
    ],
    ids=["empty", "blank-lines-only", "not-an-object", "json-content-type", "not-utf-8"],
)
def test_a_bad_file_is_refused_whole(clean_stack: LocalStack, body: bytes, content_type: str, status: int, says: str) -> None:
    code, answer = post_batch(clean_stack, body, content_type)
    assert (code, answer["error"]) == (status, "ValidationError") and says in answer["message"], answer
    assert invocations(clean_stack) == {"sd-local-1": 0, "sd-local-2": 0}


def test_a_body_over_api_gateways_limit_is_refused_unread_as_the_stacks_gateway_response_says(clean_stack: LocalStack) -> None:
    """Sent up to its headers only: the gateway answers from the declared size, unread."""
    address = urlsplit(clean_stack.gateway.url)
    size = API_GATEWAY_PAYLOAD_BYTES + 1
    with socket.create_connection((str(address.hostname), int(address.port or 80)), timeout=30) as sock:
        sock.sendall(f"POST /text2image/batches HTTP/1.1\r\nHost: local\r\nContent-Type: {JSONL}\r\nContent-Length: {size}\r\n\r\n".encode())
        reply = sock.makefile("rb").read()
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400") and json.loads(body) == {"error": "ValidationError", "message": REQUEST_TOO_LARGE_MESSAGE}


def filler_lines(size: int) -> bytes:
    """Valid request lines of about ``size`` bytes in all."""
    line = json.dumps({"text": "x" * 1990}).encode() + b"\n"
    return line * (size // len(line) + 1)


def test_a_file_just_over_the_routes_limit_reaches_the_function_which_names_the_limit(clean_stack: LocalStack) -> None:
    """4 MiB and a little: its event still fits Lambda's payload, so the function answers."""
    body = filler_lines(BATCH_MAX_BYTES)[: BATCH_MAX_BYTES + 1]
    stored = keys_under(clean_stack, "batches/")
    status, answer = post_batch(clean_stack, body)
    assert (status, answer["field"], answer["message"]) == (400, "body", f"body: is {BATCH_MAX_BYTES + 1} bytes; the limit is {BATCH_MAX_BYTES}")
    assert keys_under(clean_stack, "batches/") == stored


def test_a_file_whose_event_passes_lambdas_payload_gets_aws_own_413_and_the_function_never_runs(clean_stack: LocalStack) -> None:
    """5 MiB is 6.7 MB base64-encoded: Lambda refuses the Invoke, and API Gateway answers as
    recorded (text2image/routes.py). The page and the CLI check the size before they send."""
    stored = keys_under(clean_stack, "batches/")
    status, headers, answer = http("POST", f"{clean_stack.gateway.url}/text2image/batches", filler_lines(5 * 1024 * 1024), JSONL)
    assert (status, json.loads(answer), headers["x-amzn-ErrorType"]) == (PAYLOAD_TOO_LARGE_STATUS, PAYLOAD_TOO_LARGE_ANSWER, "BadRequestException")
    assert keys_under(clean_stack, "batches/") == stored


def test_a_batch_file_larger_than_a_json_request_may_be_is_taken(clean_stack: LocalStack) -> None:
    """The 64 KB limit of the JSON routes does not apply to this route: its limit is BATCH_MAX_BYTES."""
    long = {"text": "x" * 2000, "negative_prompt": "y" * 2000, "num_images": 1}  # the schema's longest fields
    count = MAX_BODY_BYTES // len(json.dumps(long)) + 1
    body = jsonl([{**long, "text": f"{n} {uuid.uuid4().hex}".ljust(2000, "x")} for n in range(count)])
    assert MAX_BODY_BYTES < len(body) < BATCH_MAX_BYTES
    status, answer = post_batch(clean_stack, body)
    assert (status, answer["lines"]) == (202, count), answer
    assert ended_status(answer["status_url"])["status"] == "succeeded"
