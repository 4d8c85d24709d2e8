"""Prepare's sources.py on its own: which door a request came through, the request id each
door gets (a digest for events, so a redelivery maps to the same id), and each refusal by
field and message. The handler's use of it is in tests/unit/test_handlers.py."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

import pytest
from support import custom_event, s3_event

from request_validation import ValidationError
from sources import Source, normalize, request_id_for

UNREAD = "nothing is read for this door"


def never_read(bucket: str, key: str) -> bytes:
    raise AssertionError(UNREAD)


def files(content: dict[tuple[str, str], bytes]) -> Any:
    def read(bucket: str, key: str) -> bytes:
        return content[bucket, key]

    return read


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def refusal(execution_input: Any, read: Any = never_read, name: Any = "exec-1") -> tuple[str, str]:
    with pytest.raises(ValidationError) as raised:
        normalize(execution_input, name, read)
    return raised.value.field, raised.value.reason


def test_a_plain_request_keeps_the_execution_name_as_its_id() -> None:
    request = {"text": "a", "detail-type": "not an event without a detail"}
    assert normalize(request, "exec-1", never_read) == Source(request, "exec-1", "request")
    assert normalize({"detail": {"text": "a"}}, "exec-2", never_read) == Source({"detail": {"text": "a"}}, "exec-2", "request")
    assert normalize(["not", "a", "dict"], "exec-3", never_read).origin == "request"


@pytest.mark.parametrize("name", ["exec-1", "A_b-9", "x" * 80, "9c0ee6ef-2b7f-4a11-b5ad-6d0d1b4a8a51"])
def test_a_name_safe_in_keys_urls_and_execution_names_is_the_request_id(name: str) -> None:
    assert request_id_for(name) == name


@pytest.mark.parametrize("name", ["x" * 81, "a b", "../etc", "größe", "a.b", "name\n"])
def test_any_other_name_becomes_a_digest_so_no_user_text_reaches_a_key(name: str) -> None:
    assert request_id_for(name) == "name-" + sha(name)


@pytest.mark.parametrize(("name", "shown"), [(None, "None"), ("", "''"), (42, "42"), (["a"], "['a']")])
def test_a_missing_or_unusable_execution_name_is_refused(name: Any, shown: str) -> None:
    assert refusal({"text": "a"}, name=name) == ("execution_name", f"must be the execution's name, a non-empty string (got {shown})")


def test_a_prompt_file_is_read_and_its_id_digests_bucket_key_sequencer_and_etag() -> None:
    event = s3_event("in-bucket", "prompts/cat.json", sequencer="0062E9", etag="e1f2")
    read = files({("in-bucket", "prompts/cat.json"): b'{"text": "a cat"}'})
    source = normalize(event, "exec-ignored", read)
    assert source == Source({"text": "a cat"}, "s3-" + sha("in-bucket\nprompts/cat.json\n0062E9/e1f2"), "s3")


def test_a_new_upload_of_the_same_key_is_a_new_request_and_a_redelivery_the_same() -> None:
    read = files({("b", "prompts/p.json"): b'{"text": "a"}'})
    first = normalize(s3_event("b", "prompts/p.json", sequencer="01", etag="e"), "x", read).request_id
    assert normalize(s3_event("b", "prompts/p.json", sequencer="01", etag="e"), "y", read).request_id == first
    assert normalize(s3_event("b", "prompts/p.json", sequencer="02", etag="e"), "x", read).request_id != first


def test_a_file_outside_prompts_is_refused_unread() -> None:
    assert refusal(s3_event("b", "other/p.json")) == ("event", "prompt files must be under prompts/")
    assert refusal(s3_event("b", "x/prompts/p.json")) == ("event", "prompt files must be under prompts/")


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"{text", "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"),
        (b'{"text": "caf\xe9"}', "'utf-8' codec can't decode byte 0xe9 in position 13: invalid continuation byte"),  # Latin-1
    ],
)
def test_a_prompt_file_that_is_not_json_is_refused_as_the_body(content: bytes, why: str) -> None:
    read = files({("b", "prompts/p.json"): content})
    assert refusal(s3_event("b", "prompts/p.json"), read) == ("body", f"the prompt file is not JSON ({why})")


def test_a_custom_event_is_its_detail_with_an_id_digested_from_the_event_id() -> None:
    source = normalize(custom_event({"text": "a", "num_images": 2}, event_id="evt-42"), "exec-ignored", never_read)
    assert source == Source({"text": "a", "num_images": 2}, "event-" + sha("evt-42"), "event")


@pytest.mark.parametrize(
    ("source", "detail_type"),
    [("aws.s3", "Object Deleted"), ("text2image", "Object Created"), ("aws.ec2", "Text2Image Request"), ("text2image", "Text2Image request")],
)
def test_other_events_are_refused_naming_what_is_expected(source: str, detail_type: str) -> None:
    event = {**custom_event({"text": "a"}), "source": source, "detail-type": detail_type}
    assert refusal(event) == (
        "event",
        f"unsupported source/detail-type {source!r}/{detail_type!r}; expected aws.s3/Object Created or text2image/Text2Image Request",
    )


def test_a_malformed_event_is_refused_with_the_first_problem() -> None:
    event = s3_event("b", "prompts/p.json")
    del event["detail"]["bucket"]
    event["detail"]["object"]["key"] = 7
    assert refusal(event) == ("event", "is not a well-formed EventBridge event (Field required)")
    custom = custom_event({"text": "a"})
    del custom["id"]
    assert refusal(custom) == ("event", "is not a well-formed EventBridge event (Field required)")


def test_a_refusal_is_the_json_error_body_the_api_returns() -> None:
    with pytest.raises(ValidationError) as raised:
        normalize(s3_event("b", "other/p.json"), "x", never_read)
    assert json.loads(str(raised.value)) == {"error": "ValidationError", "message": "event: prompt files must be under prompts/", "field": "event"}


def test_a_source_cannot_change_once_normalized() -> None:
    source = normalize({"text": "a"}, "exec-1", never_read)
    with pytest.raises(dataclasses.FrozenInstanceError):
        source.request_id = "other"  # type: ignore[misc]


def test_a_signed_in_callers_request_is_unwrapped_with_the_caller() -> None:
    request = {"text": "mine", "num_images": 2}
    source = normalize({"request": request, "caller": {"sub": "u-1", "username": "ana"}}, "exec-9", never_read)
    assert source == Source(request, "exec-9", "request", {"sub": "u-1", "username": "ana"})


def test_a_plain_request_has_no_caller() -> None:
    assert normalize({"text": "open"}, "exec-8", never_read).caller is None


def test_a_null_caller_is_no_caller() -> None:
    """A batch line of a batch with no caller (sign-in off, a file dropped in the bucket) names it null."""
    assert normalize({"request": {"text": "x"}, "caller": None}, "exec-7", never_read).caller is None


@pytest.mark.parametrize("caller", ["u-1", {"sub": "", "username": "ana"}, {"sub": "u-1"}, {"sub": 7, "username": "ana"}])
def test_a_malformed_caller_is_refused_by_name(caller: Any) -> None:
    with pytest.raises(ValidationError) as raised:
        normalize({"request": {"text": "x"}, "caller": caller}, "exec-7", never_read)
    assert raised.value.field == "caller"


@pytest.mark.parametrize(
    ("execution_input", "caller"),
    [({"request": {"text": "now"}, "route": "sync"}, None), ({"request": {"text": "now"}, "caller": {"sub": "u-2", "username": "bo"}, "route": "sync"}, "u-2")],
)
def test_the_sync_routes_request_is_unwrapped_and_marked_sync(execution_input: dict[str, Any], caller: str | None) -> None:
    source = normalize(execution_input, "exec-s", never_read)
    assert source.request == {"text": "now"} and source.sync and (source.caller and source.caller["sub"]) == caller


def test_runs_not_started_by_the_sync_route_are_not_sync() -> None:
    assert not normalize({"text": "open"}, "exec-j", never_read).sync
    assert not normalize({"request": {"text": "x"}, "caller": {"sub": "u", "username": "n"}}, "exec-j", never_read).sync


@pytest.mark.parametrize("route", ["jobs", "", 1, {"sync": True}])
def test_a_route_other_than_sync_is_refused_by_name(route: Any) -> None:
    with pytest.raises(ValidationError) as raised:
        normalize({"request": {"text": "x"}, "route": route}, "exec-r", never_read)
    assert raised.value.field == "route"


def test_a_request_with_more_than_the_wrapping_keys_is_not_taken_for_a_wrapped_one() -> None:
    """{"request", "caller", "text"} is a plain request (with two unknown fields the schema refuses)."""
    odd = {"request": {"text": "x"}, "caller": {"sub": "u", "username": "n"}, "text": "y"}
    assert normalize(odd, "exec-6", never_read) == Source(odd, "exec-6", "request")
