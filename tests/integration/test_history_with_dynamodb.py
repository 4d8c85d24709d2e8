"""My runs against the local stack's DynamoDB (moto): Collect records a signed-in caller's runs,
the history function pages through them newest first, and a caller sees only their own."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from handler_events import call

from text2image.local.rest_proxy import proxy_answer, proxy_event
from text2image.local.stack import LocalStack


@pytest.fixture
def handlers(clean_stack: LocalStack, cold_start: None) -> tuple[Any, Any]:
    import collect
    import history

    return collect, history


def record(collect: Any, sub: str, started: str, request_id: str) -> None:
    image = {"index": 0, "key": f"images/{request_id}/0.jpeg", "seed": 5, "endpoint": "sd-local-1", "seconds": 1.0}
    plan = {
        "request_id": request_id,
        "request": {"text": f"run {request_id}", "num_images": 1, "guidance_scale": 7.5, "seed": 5},
        "caller": {"sub": sub, "username": "ana"},
        "reservation": {"sk": "QUOTA#2026-11-26", "images": 1},
        "capacity_deadline": 0.0,
    }
    call(collect, {"plan": plan, "results": [[{"images": [image]}]], "started": started})


def history_page(history: Any, sub: str | None, **query: str) -> tuple[int, dict[str, Any]]:
    claims = {"sub": sub, "token_use": "id"} if sub else None
    status, _, body = proxy_answer(call(history, proxy_event("GET", "/text2image/history", query, {}, claims)))
    return status, json.loads(body)


def test_runs_come_newest_first_in_pages_and_only_the_callers(handlers: tuple[Any, Any], clean_stack: LocalStack) -> None:
    collect, history = handlers
    me, someone_else = uuid.uuid4().hex, uuid.uuid4().hex
    for minute in range(5):
        record(collect, me, f"2026-11-26T10:0{minute}:00.000Z", f"mine-{minute}")
    record(collect, someone_else, "2026-11-26T10:09:00.000Z", "theirs")
    status, first = history_page(history, me, limit="2")
    assert status == 200 and [run["request_id"] for run in first["runs"]] == ["mine-4", "mine-3"]
    run = first["runs"][0]
    assert run["request"] == {"text": "run mine-4", "num_images": 1, "guidance_scale": 7.5, "seed": 5} and run["status"] == "succeeded"
    assert run["images"] == [f"{clean_stack.gateway.url}/images/mine-4/0.jpeg"] and run["manifest"] == f"{clean_stack.gateway.url}/requests/mine-4.json"
    _, second = history_page(history, me, limit="2", cursor=first["next"])
    _, third = history_page(history, me, limit="2", cursor=second["next"])
    assert [r["request_id"] for r in second["runs"] + third["runs"]] == ["mine-2", "mine-1", "mine-0"]
    assert third["next"] is None


def test_a_bad_query_is_a_400_naming_the_field(handlers: tuple[Any, Any]) -> None:
    _, history = handlers
    status, body = history_page(history, "u-1", limit="500")
    assert status == 400 and body["error"] == "ValidationError" and body["field"] == "limit"
    status, body = history_page(history, "u-1", cursor="bm90LWEtcnVu")
    assert status == 400 and body["field"] == "cursor"


def test_without_the_authorizers_claims_nothing_is_read(handlers: tuple[Any, Any]) -> None:
    _, history = handlers
    status, body = history_page(history, None)
    assert status == 401 and body["error"] == "Unauthorized"
