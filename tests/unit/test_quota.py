"""The quota's arithmetic and refusal, without DynamoDB (tests/integration/test_quota_with_dynamodb.py
runs the conditional update against moto's DynamoDB)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

from quota import QuotaExceeded, day_of, refusal, used_of, user_key

NOW = datetime(2026, 11, 26, 23, 0, 0, tzinfo=UTC)


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


def test_a_request_larger_than_the_quota_is_refused_without_a_count() -> None:
    assert refusal(None, 300, 200, datetime(2026, 11, 27, tzinfo=UTC), NOW)["message"].startswith("daily quota of 200 images: 300 asked")


def test_the_used_count_comes_from_the_item_dynamodb_returned() -> None:
    assert used_of({"images": {"N": "42"}}) == 42
    assert used_of(None) is None and used_of({}) is None and used_of({"images": {"S": "x"}}) is None


def test_a_users_items_share_one_partition() -> None:
    assert user_key("abc") == "USER#abc"
