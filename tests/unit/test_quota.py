"""The quota's arithmetic and refusal, without DynamoDB (tests/integration/test_quota_with_dynamodb.py
runs the conditional update against moto's DynamoDB)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from botocore.exceptions import ClientError

from quota import QuotaExceeded, QuotaSettings, check_room, day_of, refusal, reserve, used_of, user_key

NOW = datetime(2026, 11, 26, 23, 0, 0, tzinfo=UTC)
MIDNIGHT = datetime(2026, 11, 27, tzinfo=UTC)  # the end of NOW's day


class FakeDynamoDB:
    """Records the update it is sent and answers with ``answer``: DynamoDB's updated attributes,
    or the ClientError it raises."""

    def __init__(self, answer: dict[str, Any] | ClientError) -> None:
        self.answer = answer
        self.updates: list[dict[str, Any]] = []
        self.reads: list[dict[str, Any]] = []

    def get_item(self, **arguments: Any) -> dict[str, Any]:
        self.reads.append(arguments)
        assert not isinstance(self.answer, ClientError)
        return self.answer

    def update_item(self, **arguments: Any) -> dict[str, Any]:
        self.updates.append(arguments)
        if isinstance(self.answer, ClientError):
            raise self.answer
        return self.answer


def client_error(code: str, **fields: Any) -> ClientError:
    """botocore's error for ``code``; ``fields``: what the error response carries besides (a failed condition's Item)."""
    response: Any = {"Error": {"Code": code, "Message": code}, **fields}
    return ClientError(response, "UpdateItem")


def test_a_day_is_the_utc_day_and_ends_at_utc_midnight() -> None:
    assert day_of(NOW) == ("2026-11-26", datetime(2026, 11, 27, tzinfo=UTC))
    tokyo = NOW.astimezone(timezone(timedelta(hours=9)))  # already the 27th in Tokyo
    assert day_of(tokyo) == ("2026-11-26", datetime(2026, 11, 27, tzinfo=UTC))


def test_the_refusal_says_how_many_were_used_and_asked_and_when_it_resets() -> None:
    body = refusal(196, 8, 200, datetime(2026, 11, 27, tzinfo=UTC), NOW)
    assert body == {
        "error": "QuotaExceeded",
        "message": "daily quota of 200 images: 196 used, 8 asked; resets at 2026-11-27T00:00:00Z",
        "resets_at": "2026-11-27T00:00:00Z",
        "retry_after": 3600,
    }
    assert json.loads(str(QuotaExceeded(body))) == body  # the error message Step Functions carries


def test_retry_after_is_never_zero() -> None:
    assert refusal(None, 1, 1, NOW + timedelta(milliseconds=300), NOW)["retry_after"] == 1
    assert refusal(None, 1, 1, MIDNIGHT, MIDNIGHT - timedelta(microseconds=1))["retry_after"] == 1  # a microsecond before the day ends
    assert refusal(None, 1, 1, MIDNIGHT, MIDNIGHT)["retry_after"] == 1  # at the very end: still a wait, not 0


def test_a_request_larger_than_the_quota_is_refused_without_a_count() -> None:
    assert refusal(None, 300, 200, datetime(2026, 11, 27, tzinfo=UTC), NOW)["message"].startswith("daily quota of 200 images: 300 asked")


def test_the_used_count_comes_from_the_item_dynamodb_returned() -> None:
    assert used_of({"images": {"N": "42"}}) == 42
    assert used_of(None) is None and used_of({}) is None and used_of({"images": {"S": "x"}}) is None


def test_a_users_items_share_one_partition() -> None:
    assert user_key("abc") == "USER#abc"


def test_a_reservation_adds_the_images_to_the_callers_day_while_the_count_stays_within_the_limit() -> None:
    dynamodb = FakeDynamoDB({"Attributes": {"images": {"N": "7"}}})
    assert reserve(dynamodb, "usage", "u-1", 4, 10, NOW) == 7  # type: ignore[arg-type]
    (update,) = dynamodb.updates
    assert update == {
        "TableName": "usage",
        "Key": {"pk": {"S": "USER#u-1"}, "sk": {"S": "QUOTA#2026-11-26"}},
        "UpdateExpression": "ADD images :n SET expires_at = :expires",
        # 6 already used leaves room for these 4 (exactly the limit); 7 would not.
        "ConditionExpression": "attribute_not_exists(images) OR images <= :room",
        "ExpressionAttributeValues": {":n": {"N": "4"}, ":room": {"N": "6"}, ":expires": {"N": str(int(MIDNIGHT.timestamp()))}},
        "ReturnValues": "UPDATED_NEW",
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }


def test_a_failed_condition_is_the_refusal_with_the_count_dynamodb_returned() -> None:
    dynamodb = FakeDynamoDB(client_error("ConditionalCheckFailedException", Item={"images": {"N": "8"}}))
    with pytest.raises(QuotaExceeded) as raised:
        reserve(dynamodb, "usage", "u-1", 4, 10, NOW)  # type: ignore[arg-type]
    assert raised.value.body == refusal(8, 4, 10, MIDNIGHT, NOW)
    assert raised.value.body["message"] == "daily quota of 10 images: 8 used, 4 asked; resets at 2026-11-27T00:00:00Z"


@pytest.mark.parametrize("code", ["ProvisionedThroughputExceededException", "ResourceNotFoundException", "ValidationException"])
def test_any_other_dynamodb_error_is_no_refusal_and_goes_on_as_it_is(code: str) -> None:
    error = client_error(code)
    with pytest.raises(ClientError) as raised:
        reserve(FakeDynamoDB(error), "usage", "u-1", 1, 10, NOW)  # type: ignore[arg-type]
    assert raised.value is error


def test_retry_after_rounds_any_part_of_a_second_up() -> None:
    resets = datetime(2026, 11, 27, tzinfo=UTC)
    assert refusal(None, 1, 1, resets, resets - timedelta(seconds=3600, microseconds=500))["retry_after"] == 3601
    assert refusal(None, 1, 1, resets, resets - timedelta(seconds=3600))["retry_after"] == 3600


@pytest.mark.parametrize(("item", "used"), [({}, 0), ({"Item": {"images": {"N": "7"}}}, 7)])
def test_a_look_at_the_room_left_reads_the_callers_day_and_refuses_what_would_pass_it(item: dict[str, Any], used: int) -> None:
    """check_room (a signed-in batch before it starts): no item is a day with nothing used."""
    dynamodb = FakeDynamoDB(item)
    check_room(dynamodb, "usage", "u-1", 10 - used, 10, NOW)  # type: ignore[arg-type]  # exactly what is left: taken
    with pytest.raises(QuotaExceeded) as raised:
        check_room(dynamodb, "usage", "u-1", 11 - used, 10, NOW)  # type: ignore[arg-type]
    assert raised.value.body["message"] == f"daily quota of 10 images: {used} used, {11 - used} asked; resets at 2026-11-27T00:00:00Z"
    assert dynamodb.reads[0] == {"TableName": "usage", "Key": {"pk": {"S": "USER#u-1"}, "sk": {"S": "QUOTA#2026-11-26"}}, "ConsistentRead": True}
    assert dynamodb.updates == []  # a look counts nothing


def test_the_quota_settings_come_from_the_environment_and_need_a_whole_positive_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("USAGE_TABLE", raising=False)
    assert QuotaSettings.from_env() is None  # sign-in off
    monkeypatch.setenv("USAGE_TABLE", "usage")
    monkeypatch.setenv("DAILY_IMAGES_PER_USER", "1")
    assert QuotaSettings.from_env() == QuotaSettings("usage", 1)
    monkeypatch.setenv("DAILY_IMAGES_PER_USER", "0")
    with pytest.raises(ValueError, match="DAILY_IMAGES_PER_USER must be a whole number of at least 1, not '0'"):
        QuotaSettings.from_env()
