"""A page of "My runs" without DynamoDB: the query parameters, the cursor, the runs as answered
(tests/integration/test_history_with_dynamodb.py pages through moto's DynamoDB)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from run_page import BadQuery, decode_cursor, encode_cursor, page_of, parse_limit, run_of, user_key

ITEM: dict[str, Any] = {
    "pk": "USER#u-1",
    "sk": "RUN#2026-11-26T10:00:00.000Z#req-1",
    "request_id": "req-1",
    "request": {"text": "a café", "num_images": Decimal(2), "guidance_scale": Decimal("7.5"), "seed": Decimal(42)},
    "status": "succeeded",
    "started": "2026-11-26T10:00:00.000Z",
    "seconds": Decimal("3.25"),
    "images": ["https://d.example/images/req-1/0.jpeg", "https://d.example/images/req-1/1.jpeg"],
    "errors": Decimal(0),
    "manifest": "https://d.example/requests/req-1.json",
    "expires_at": Decimal(1797000000),
}


def test_a_run_is_answered_without_its_keys_and_with_plain_numbers() -> None:
    run = run_of(ITEM)
    assert run == {
        "request_id": "req-1",
        "request": {"text": "a café", "num_images": 2, "guidance_scale": 7.5, "seed": 42},
        "status": "succeeded",
        "started": "2026-11-26T10:00:00.000Z",
        "seconds": 3.25,
        "images": ITEM["images"],
        "errors": 0,
        "manifest": ITEM["manifest"],
    }
    assert type(run["request"]["num_images"]) is int and type(run["request"]["guidance_scale"]) is float


def test_a_page_has_a_next_cursor_only_when_dynamodb_stopped_early() -> None:
    assert page_of([ITEM], None)["next"] is None
    cursor = page_of([ITEM], {"sk": ITEM["sk"]})["next"]
    assert cursor is not None and decode_cursor(cursor) == ITEM["sk"]


@pytest.mark.parametrize(("text", "limit"), [(None, 20), ("1", 1), ("50", 50)])
def test_the_limit_is_1_to_50_default_20(text: str | None, limit: int) -> None:
    assert parse_limit(text) == limit


@pytest.mark.parametrize("text", ["0", "51", "-1", "ten", "", "²", "2.5"])
def test_a_bad_limit_is_refused_by_name(text: str) -> None:
    with pytest.raises(BadQuery) as raised:
        parse_limit(text)
    assert raised.value.field == "limit" and "1..50" in raised.value.reason
    assert str(raised.value) == f"limit: must be a whole number in 1..50, not {text!r}"  # the 400's message


@pytest.mark.parametrize("cursor", ["%%%", encode_cursor("QUOTA#2026-11-26"), encode_cursor("USER#other"), "", "gA"])
def test_a_cursor_this_route_did_not_hand_out_is_refused(cursor: str) -> None:
    with pytest.raises(BadQuery) as raised:
        decode_cursor(cursor)
    assert raised.value.field == "cursor"


def test_no_cursor_starts_at_the_newest() -> None:
    assert decode_cursor(None) is None


def test_a_cursor_reads_back_whatever_the_length_of_its_request_id() -> None:
    """The cursor drops base64's padding: one run's sort key needs none, the next one "=" or "==".
    Request ids are 1 to 80 characters (sources.py's safe id)."""
    for length in range(1, 81):
        sort_key = f"RUN#2026-11-26T10:00:00.000Z#{'r' * length}"
        assert decode_cursor(encode_cursor(sort_key)) == sort_key


def test_the_history_reads_the_partition_the_other_functions_write() -> None:
    assert user_key("abc") == "USER#abc"
