"""The local stack without ``--auth`` stays open, as the deployed stack with text2image:auth none:
/config.json says so, any Authorization header is ignored, and a run starts with the body itself
(what the original snippet and the console send)."""

from __future__ import annotations

import json
import urllib.request

import pytest
from support import http

from text2image.local.stack import LocalStack
from text2image.routes import BATCH_MAX_BYTES, UNDECLARED_ROUTE_ERROR, UNDECLARED_ROUTE_STATUS


def test_config_json_says_there_is_no_sign_in(clean_stack: LocalStack) -> None:
    status, headers, body = http("GET", f"{clean_stack.gateway.url}/config.json", content_type=None)
    assert (status, headers["Content-Type"], json.loads(body)) == (200, "application/json", {"auth": None, "warm": None, "batchMaxBytes": BATCH_MAX_BYTES})


@pytest.mark.parametrize("authorization", [None, "not.a-jwt"], ids=["no header", "a junk header"])
def test_a_run_starts_with_the_body_and_no_caller_whatever_the_authorization_header(clean_stack: LocalStack, authorization: str | None) -> None:
    """The sync route wraps the body with its route only (docs/design.md, "Execution input"): no caller."""
    request = {"text": "open stack", "num_images": 1, "width": 256, "height": 256}
    headers = {"Content-Type": "application/json"} | ({"Authorization": authorization} if authorization else {})
    sent = urllib.request.Request(f"{clean_stack.gateway.url}/text2image", data=json.dumps(request).encode(), method="POST", headers=headers)
    with urllib.request.urlopen(sent, timeout=60) as response:
        answer = json.loads(response.read())
    arn = f"{clean_stack.aws.state_machine_arn.replace(':stateMachine:', ':execution:')}:{answer['request_id']}"
    assert json.loads(clean_stack.aws.sfn.describe_execution(executionArn=arn)["input"]) == {"request": request, "route": "sync"}


def test_without_sign_in_there_is_no_history_route(clean_stack: LocalStack) -> None:
    """No one signs in, so no one has runs: the route is undeclared, as on the open stack."""
    status, _, body = http("GET", f"{clean_stack.gateway.url}/text2image/history", content_type=None)
    assert status == UNDECLARED_ROUTE_STATUS and json.loads(body)["error"] == UNDECLARED_ROUTE_ERROR
