"""Prepare's quota against the local stack's DynamoDB (moto): the reservation, the refusal with
its manifest, and two requests racing for the last images."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from handler_events import call
from support import read_manifest

from text2image.local.stack import LocalStack


@pytest.fixture
def prepare(clean_stack: LocalStack, monkeypatch: pytest.MonkeyPatch, cold_start: None) -> Any:
    import prepare

    monkeypatch.setenv("DAILY_IMAGES_PER_USER", "10")
    return prepare


def signed_in(sub: str, num_images: int) -> dict[str, Any]:
    return {"input": {"request": {"text": "mine", "num_images": num_images}, "caller": {"sub": sub, "username": "ana"}}, "execution_name": uuid.uuid4().hex}


def quota_count(stack: LocalStack, sub: str) -> int:
    items = stack.aws.client("dynamodb").query(
        TableName="text2image-usage",
        KeyConditionExpression="pk = :pk AND begins_with(sk, :day)",
        ExpressionAttributeValues={":pk": {"S": f"USER#{sub}"}, ":day": {"S": "QUOTA#"}},
    )["Items"]
    (item,) = items
    day = datetime.fromisoformat(item["sk"]["S"].removeprefix("QUOTA#")).replace(tzinfo=UTC)
    assert int(item["expires_at"]["N"]) == int((day + timedelta(days=1)).timestamp())  # the TTL: the day's end
    return int(item["images"]["N"])


def test_a_signed_in_request_reserves_its_images_and_passes_the_caller_on(prepare: Any, clean_stack: LocalStack) -> None:
    sub = uuid.uuid4().hex
    plan = call(prepare, signed_in(sub, 4))
    assert plan["caller"] == {"sub": sub, "username": "ana"} and plan["request"]["num_images"] == 4
    call(prepare, signed_in(sub, 6))
    assert quota_count(clean_stack, sub) == 10  # exactly the limit is allowed


def test_past_the_quota_the_request_is_refused_and_its_manifest_says_why(prepare: Any, clean_stack: LocalStack) -> None:
    sub = uuid.uuid4().hex
    call(prepare, signed_in(sub, 7))
    event = signed_in(sub, 4)
    with pytest.raises(prepare.quota.QuotaExceeded) as raised:
        call(prepare, event)
    body = json.loads(str(raised.value))
    assert body["error"] == "QuotaExceeded" and body["message"].startswith("daily quota of 10 images: 7 used, 4 asked; resets at ")
    assert body["retry_after"] >= 1
    assert quota_count(clean_stack, sub) == 7  # a refused request spends nothing
    manifest = read_manifest(clean_stack, event["execution_name"])
    assert manifest["status"] == "refused" and manifest["message"] == body["message"] and manifest["images"] == []


def test_a_request_without_a_caller_counts_against_no_quota(prepare: Any, clean_stack: LocalStack) -> None:
    plan = call(prepare, {"input": {"text": "open", "num_images": 16}, "execution_name": uuid.uuid4().hex})
    assert plan["caller"] is None


def test_of_two_requests_racing_for_the_last_images_exactly_one_is_refused(prepare: Any, clean_stack: LocalStack) -> None:
    sub = uuid.uuid4().hex
    call(prepare, signed_in(sub, 4))  # 6 left; each of the two asks for 4
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def race() -> None:
        start.wait()
        try:
            call(prepare, signed_in(sub, 4))
            outcomes.append("planned")
        except prepare.quota.QuotaExceeded:
            outcomes.append("refused")

    threads = [threading.Thread(target=race) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["planned", "refused"]
    assert quota_count(clean_stack, sub) == 8


def test_images_a_cold_endpoint_refused_are_given_back_on_the_day_they_were_counted(prepare: Any, clean_stack: LocalStack) -> None:
    """Prepare's reservation travels in the plan; Collect takes the refused images off that very item."""
    import collect

    sub = uuid.uuid4().hex
    plan = call(prepare, signed_in(sub, 4))
    assert plan["reservation"]["images"] == 4 and plan["reservation"]["sk"].startswith("QUOTA#")
    cause = json.dumps({"errorMessage": "Inference Component has no capacity to process this request."})
    lanes = [
        [{"endpoint": lane["endpoint"], "images": call_["images"], "error": "EndpointCold", "cause": cause} for call_ in lane["calls"]]
        for lane in plan["lanes"]
    ]
    for _ in range(2):  # the second: Collect retried after it ran (a Lambda service error) gives nothing back twice
        with pytest.raises(collect.WarmingUp):
            call(collect, {"plan": plan, "results": lanes, "started": datetime.now(UTC).isoformat()})
        assert quota_count(clean_stack, sub) == 0


def test_a_look_at_the_room_left_counts_nothing_and_sees_what_reservations_counted(prepare: Any, clean_stack: LocalStack) -> None:
    """quota.check_room (a signed-in batch's look before it starts) against the same items reserve writes."""
    sub, dynamodb, now = uuid.uuid4().hex, clean_stack.aws.client("dynamodb"), datetime.now(UTC)
    prepare.quota.check_room(dynamodb, "text2image-usage", sub, 10, 10, now)  # no item yet: the whole day is left
    call(prepare, signed_in(sub, 7))
    prepare.quota.check_room(dynamodb, "text2image-usage", sub, 3, 10, now)
    with pytest.raises(prepare.quota.QuotaExceeded) as raised:
        prepare.quota.check_room(dynamodb, "text2image-usage", sub, 4, 10, now)
    assert json.loads(str(raised.value))["message"].startswith("daily quota of 10 images: 7 used, 4 asked; resets at ")
    assert quota_count(clean_stack, sub) == 7
