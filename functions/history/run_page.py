"""One page of a user's run history: the query parameters read, the cursor made and read, the
stored items turned into the runs the API answers (docs/design.md, "Sign-in and quotas"). Pure:
no client, no I/O (history.py queries the table).

The cursor is the last run's sort key, base64url-encoded: opaque to clients, and it only ever
names a position inside the caller's own partition (the partition comes from the token, never
from the cursor).
"""

from __future__ import annotations

import base64
import binascii
from decimal import Decimal
from typing import Any, TypedDict

DEFAULT_LIMIT = 20
MAX_LIMIT = 50
RUN_PREFIX = "RUN#"


class BadQuery(ValueError):
    """A query parameter the route cannot serve; ``field`` names it."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field, self.reason = field, reason


class Run(TypedDict):
    request_id: str
    request: dict[str, Any]
    status: str
    started: str
    seconds: float
    images: list[str]
    errors: int
    manifest: str


class Page(TypedDict):
    runs: list[Run]
    next: str | None


def user_key(sub: str) -> str:
    """The partition of one user's items (Prepare's quota.user_key, Collect's run_history.user_key)."""
    return f"USER#{sub}"


def parse_limit(text: str | None) -> int:
    if text is None:
        return DEFAULT_LIMIT
    if not (text.isascii() and text.isdigit() and 1 <= int(text) <= MAX_LIMIT):
        raise BadQuery("limit", f"must be a whole number in 1..{MAX_LIMIT}, not {text!r}")
    return int(text)


def encode_cursor(sort_key: str) -> str:
    return base64.urlsafe_b64encode(sort_key.encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> str | None:
    """The sort key a cursor stands for; ``BadQuery`` for anything this route did not hand out."""
    if cursor is None:
        return None
    try:
        sort_key = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        sort_key = ""
    if not sort_key.startswith(RUN_PREFIX):
        raise BadQuery("cursor", "is not a cursor this route handed out: pass the `next` of the previous page as it was")
    return sort_key


def run_of(item: dict[str, Any]) -> Run:
    """A stored run (boto3-deserialized: numbers are Decimal) as the API answers it."""
    return {
        "request_id": item["request_id"],
        "request": _plain(item["request"]),
        "status": item["status"],
        "started": item["started"],
        "seconds": float(item["seconds"]),
        "images": list(item["images"]),
        "errors": int(item["errors"]),
        "manifest": item["manifest"],
    }


def page_of(items: list[dict[str, Any]], last_key: dict[str, Any] | None) -> Page:
    """The runs newest first as queried, and the cursor to the next page when there is one."""
    return {"runs": [run_of(item) for item in items], "next": encode_cursor(last_key["sk"]) if last_key else None}


def _plain(value: Any) -> Any:
    """Decimal back to int or float, as the request was written."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value
