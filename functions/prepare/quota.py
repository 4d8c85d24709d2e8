"""Per-user daily quota: a signed-in caller's images are reserved before anything is generated.

One conditional UpdateItem per request on the usage table (docs/design.md, "Sign-in and
quotas"): ``ADD images :n`` on the caller's item for the UTC day, on condition that the day's
count stays within the limit. DynamoDB applies it atomically, so two requests that together
pass the quota cannot both be let through. The item expires a day after its day ends (TTL).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypedDict

from botocore.exceptions import ClientError

from prepare_environment import whole_number

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


@dataclass(frozen=True)
class QuotaSettings:
    """Where the quota is kept and how large it is: ``USAGE_TABLE``, ``DAILY_IMAGES_PER_USER``."""

    table: str  # the usage table: quota days and run history
    daily_images: int

    @classmethod
    def from_env(cls) -> QuotaSettings | None:
        """None where ``USAGE_TABLE`` is not set: sign-in is off, no caller is ever signed in."""
        table = os.environ.get("USAGE_TABLE")
        return cls(table, whole_number("DAILY_IMAGES_PER_USER", low=1)) if table else None


class QuotaBody(TypedDict):
    error: str
    message: str
    resets_at: str
    retry_after: int  # seconds until the quota resets, for the 429's Retry-After


class Reservation(TypedDict):
    """Images counted against a user's day: the day's sort key and how many."""

    sk: str
    images: int


class QuotaExceeded(Exception):
    """The caller's images for the day would pass the limit. ``str()`` is the JSON body the API
    answers with 429 (Step Functions carries it as the error message, as for ValidationError)."""

    def __init__(self, body: QuotaBody) -> None:
        self.body = body
        super().__init__(json.dumps(body))


def user_key(sub: str) -> str:
    """The partition of one user's items (quota days and run history)."""
    return f"USER#{sub}"


def quota_key(day: str) -> str:
    """The sort key of a user's count for one UTC day (``YYYY-MM-DD``)."""
    return f"QUOTA#{day}"


def day_of(now: datetime) -> tuple[str, datetime]:
    """The UTC day ``now`` falls in, as ``YYYY-MM-DD``, and when it ends."""
    day = now.astimezone(UTC).date()
    return day.isoformat(), datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)


def reserve(dynamodb: DynamoDBClient, table: str, sub: str, images: int, limit: int, now: datetime) -> int:
    """Count ``images`` against the caller's day; the day's count after it, or ``QuotaExceeded``."""
    day, resets = day_of(now)
    try:
        answer = dynamodb.update_item(
            TableName=table,
            Key={"pk": {"S": user_key(sub)}, "sk": {"S": quota_key(day)}},
            UpdateExpression="ADD images :n SET expires_at = :expires",
            ConditionExpression="attribute_not_exists(images) OR images <= :room",
            ExpressionAttributeValues={
                ":n": {"N": str(images)},
                ":room": {"N": str(limit - images)},
                ":expires": {"N": str(int(resets.timestamp()))},
            },
            ReturnValues="UPDATED_NEW",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        raise QuotaExceeded(refusal(used_of(exc.response.get("Item")), images, limit, resets, now)) from None
    return int(answer["Attributes"]["images"]["N"])


def check_room(dynamodb: DynamoDBClient, table: str, sub: str, images: int, limit: int, now: datetime) -> None:
    """``QuotaExceeded`` when ``images`` more would pass the caller's day (a look: nothing counted,
    so a later ``reserve`` still decides; this only refuses early what could not run)."""
    day, resets = day_of(now)
    item = dynamodb.get_item(TableName=table, Key={"pk": {"S": user_key(sub)}, "sk": {"S": quota_key(day)}}, ConsistentRead=True).get("Item")
    used = used_of(item) or 0
    if used + images > limit:
        raise QuotaExceeded(refusal(used, images, limit, resets, now))


def used_of(item: Any) -> int | None:
    """The day's count in an item DynamoDB returned (with a failed condition, or to GetItem), when it did."""
    try:
        return int(item["images"]["N"])
    except (KeyError, TypeError, ValueError):
        return None


def refusal(used: int | None, images: int, limit: int, resets: datetime, now: datetime) -> QuotaBody:
    resets_at = resets.strftime("%Y-%m-%dT%H:%M:%SZ")
    spent = f"{used} used, " if used is not None else ""
    return {
        "error": "QuotaExceeded",
        "message": f"daily quota of {limit} images: {spent}{images} asked; resets at {resets_at}",
        "resets_at": resets_at,
        "retry_after": max(1, math.ceil((resets - now).total_seconds())),
    }
