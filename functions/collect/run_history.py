"""A signed-in user's run, as the usage table keeps it for "My runs" (docs/design.md, "Sign-in and
quotas"): one item per run under the user's partition, sorted by start time, expiring with the
images. Pure: the item is built here, collect.py writes it."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from collect_response import Caller


def user_key(sub: str) -> str:
    """The partition of one user's items (Prepare's quota.user_key: the same layout)."""
    return f"USER#{sub}"


def run_key(started: str, request_id: str) -> str:
    """Newest first is descending order of this key: the start time leads (ISO 8601, one format)."""
    return f"RUN#{started}#{request_id}"


def run_item(
    caller: Caller,
    request_id: str,
    request: dict[str, Any],
    response: dict[str, Any],
    status: str,
    started: str,
    manifest_url: str,
    retention_days: int,
) -> dict[str, Any]:
    """The item, in the types boto3's DynamoDB serializer takes (numbers as int or Decimal)."""
    expires = datetime.fromisoformat(started) + timedelta(days=retention_days)
    return {
        "pk": user_key(caller["sub"]),
        "sk": run_key(started, request_id),
        "request_id": request_id,
        "request": _decimals(request),
        "status": status,
        "started": started,
        "seconds": Decimal(str(response["time"])),
        "images": [image["url"] for image in response["images"]],
        "errors": len(response["errors"]),
        "manifest": manifest_url,
        "expires_at": int(expires.timestamp()),
    }


def _decimals(value: Any) -> Any:
    """DynamoDB numbers are Decimal to boto3: a request's guidance_scale is a float."""
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {key: _decimals(item) for key, item in value.items()}
    return value
