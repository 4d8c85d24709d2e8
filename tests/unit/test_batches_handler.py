"""The batch submit function (functions/prepare/batches.py) against S3 and Step Functions stubbed
with botocore's Stubber (the exact requests it must make; any other request fails the test):
``POST /text2image/batches`` behind API Gateway's proxy event, and a file dropped under
``batches/inbox/`` as EventBridge delivers its S3 event. The file checks themselves are
tests/unit/test_batch_input.py."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters
from botocore.response import StreamingBody
from botocore.stub import Stubber
from support import s3_event

import batches
from batch_input import initial_status, parse_batch, refused_batch_id
from text2image.event_patterns import BATCH_INBOX_PREFIX
from text2image.local.lambdas import LambdaContext
from text2image.local.rest_proxy import proxy_answer, proxy_event
from text2image.routes import BATCHES_ROUTE

pytestmark = pytest.mark.usefixtures("lambda_env")

BUCKET = "unit-bucket"  # tests/unit/conftest.py's BUCKET_NAME
MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:text2image-batch"
NOW = "2026-11-25T12:00:00+00:00"
BASE_URL = "https://d111.cloudfront.net"
FILE = b'{"text": "a fox", "num_images": 2}\n{"text": "a hen"}\n'


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BATCH_STATE_MACHINE_ARN", MACHINE)
    monkeypatch.setenv("MAX_BATCH_LINES", "30")
    monkeypatch.setenv("MAX_BATCH_BYTES", "2048")
    monkeypatch.setenv("MAX_DROP_BYTES", "4096")  # S3 has no payload limit: a dropped file may be bigger
    monkeypatch.setattr(batches, "utc_now", lambda: datetime.fromisoformat(NOW))  # one clock: the documents' times and the quota's day
    # The SSM parameter holds the CloudFront URL with a trailing slash.
    monkeypatch.setattr(parameters, "get_parameter", lambda name, max_age: f"{BASE_URL}/")


def stubbed(service: str, monkeypatch: pytest.MonkeyPatch, getter: str) -> Iterator[Stubber]:
    client = boto3.client(service, region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s")  # type: ignore[call-overload]
    monkeypatch.setattr(batches, getter, lambda: client)
    with Stubber(client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stubber]:
    yield from stubbed("s3", monkeypatch, "s3_client")


@pytest.fixture
def sfn(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stubber]:
    yield from stubbed("stepfunctions", monkeypatch, "sfn_client")


def post(
    body: bytes, content_type: str | None = "application/x-ndjson", *, encoded: bool = True, claims: dict[str, str] | None = None
) -> tuple[int, dict[str, str], Any]:
    """The proxy event API Gateway sends: a binary media type's body base64-encoded; ``claims``:
    the ID token's, where the Cognito authorizer accepted one."""
    event = proxy_event("POST", batches.ROUTE, {}, {"Content-Type": content_type} if content_type else {}, claims)
    event |= {"body": base64.b64encode(body).decode() if encoded else body.decode(), "isBase64Encoded": encoded}
    status, headers, answer = proxy_answer(batches.handler(event, LambdaContext("text2image-submit-batch")))
    return status, headers, json.loads(answer)


def stored(content: bytes = FILE, media_type: str = "application/x-ndjson", owner: str | None = None) -> Any:
    return parse_batch(content, media_type, batches.get_settings().limits, owner)


def expect_put(s3: Stubber, key: str, body: bytes, content_type: str, *, exists: bool = False) -> None:
    expected = {"Bucket": BUCKET, "Key": key, "Body": body, "ContentType": content_type, "CacheControl": "no-cache", "IfNoneMatch": "*"}
    if exists:
        s3.add_client_error("put_object", service_error_code="PreconditionFailed", http_status_code=412, expected_params=expected)
    else:
        s3.add_response("put_object", {"ETag": '"e"'}, expected)


def expect_stored(s3: Stubber, batch: Any, *, exists: bool = False) -> None:
    expect_put(s3, f"batches/{batch.batch_id}/input.jsonl", batch.input_jsonl(), "application/x-ndjson", exists=exists)
    expect_put(s3, f"batches/{batch.batch_id}/status.json", json.dumps(initial_status(batch, NOW)).encode(), "application/json", exists=exists)


def expect_start(sfn: Stubber, batch: Any, *, closed: bool = False, caller: dict[str, str] | None = None, name: str | None = None) -> None:
    """StartExecution as Step Functions answers it: the execution (new, or the same one running: a
    Standard workflow's start is idempotent for the same name and input), or ExecutionAlreadyExists
    once an execution of that name has closed."""
    execution_input = {"batch_id": batch.batch_id, "bucket": BUCKET, "input_key": f"batches/{batch.batch_id}/input.jsonl", "total": batch.total}
    execution_input["caller"] = caller
    expected = {"stateMachineArn": MACHINE, "name": name or batch.batch_id, "input": json.dumps(execution_input)}
    if closed:
        sfn.add_client_error("start_execution", service_error_code="ExecutionAlreadyExists", http_status_code=400, expected_params=expected)
    else:
        sfn.add_response("start_execution", {"executionArn": f"{MACHINE}:{expected['name']}", "startDate": "2026-11-25T12:00:00Z"}, expected)


def expect_existing_status(s3: Stubber, batch: Any, status: str) -> None:
    """The batch's status document, as a first submit or the batch workflow left it."""
    existing = json.dumps({"batch_id": batch.batch_id, "status": status}).encode()
    s3.add_response("get_object", {"Body": object_body(existing)}, {"Bucket": BUCKET, "Key": f"batches/{batch.batch_id}/status.json"})


def object_body(data: bytes) -> StreamingBody:
    return StreamingBody(io.BytesIO(data), len(data))


def accepted(batch: Any) -> dict[str, Any]:
    return {"batch_id": batch.batch_id, "status_url": f"{BASE_URL}/batches/{batch.batch_id}/status.json", "lines": batch.total}


def test_a_good_file_is_stored_with_its_first_status_and_started(s3: Stubber, sfn: Stubber) -> None:
    batch = stored()
    expect_stored(s3, batch)
    expect_start(sfn, batch)
    status, headers, body = post(FILE)
    assert (status, body) == (202, accepted(batch))
    assert headers["Cache-Control"] == "no-store"
    assert body["lines"] == 2 and body["batch_id"].startswith("batch-")


USAGE_TABLE, DAILY_IMAGES = "unit-usage", 10
CALLER: Any = {"sub": "u-7", "username": "ana"}  # a sources.Caller
CLAIMS = {"sub": "u-7", "cognito:username": "ana", "token_use": "id"}


@pytest.fixture
def with_quota(monkeypatch: pytest.MonkeyPatch) -> None:
    """Sign-in on: the usage table and the daily quota, as infra/batches.py sets them."""
    monkeypatch.setenv("USAGE_TABLE", USAGE_TABLE)
    monkeypatch.setenv("DAILY_IMAGES_PER_USER", str(DAILY_IMAGES))


@pytest.fixture
def dynamodb(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stubber]:
    yield from stubbed("dynamodb", monkeypatch, "dynamodb_client")


def expect_new(s3: Stubber, batch: Any, *, submitted: bool = False) -> None:
    """The batch's status listed by its key as prefix (the role lists batches/ only): nothing for a
    batch never submitted. A key that only starts with it is another object."""
    key = f"batches/{batch.batch_id}/status.json"
    contents = [{"Key": key if submitted else key + ".old"}]  # S3 lists in key order: the exact key would come first
    s3.add_response("list_objects_v2", {"Contents": contents, "KeyCount": len(contents)}, {"Bucket": BUCKET, "Prefix": key, "MaxKeys": 1})


def expect_used_today(dynamodb: Stubber, used: int | None) -> None:
    """GetItem of the caller's count for today (no item before their first image of the day)."""
    expected = {"TableName": USAGE_TABLE, "Key": {"pk": {"S": "USER#u-7"}, "sk": {"S": "QUOTA#2026-11-25"}}, "ConsistentRead": True}  # NOW's UTC day
    dynamodb.add_response("get_item", {} if used is None else {"Item": {"images": {"N": str(used)}}}, expected)


@pytest.mark.usefixtures("with_quota")
@pytest.mark.parametrize("used", [None, 4])
def test_a_signed_in_callers_batch_is_theirs_and_runs_within_their_quota(s3: Stubber, sfn: Stubber, dynamodb: Stubber, used: int | None) -> None:
    """Its id includes who sent it (the same file from another user is another batch); its 6
    images fit what is left of the day; the batch workflow passes the caller to each line's run,
    whose Prepare counts it against the quota."""
    batch = stored(owner="u-7")
    assert batch.batch_id not in (stored().batch_id, stored(owner="u-8").batch_id) and batch.images == 6
    expect_new(s3, batch)
    expect_used_today(dynamodb, used)
    expect_stored(s3, batch)
    expect_start(sfn, batch, caller=CALLER)
    status, _, body = post(FILE, claims=CLAIMS)
    assert (status, body) == (202, accepted(batch))


def test_a_signed_in_batch_on_a_stack_without_a_usage_table_fails_loudly(s3: Stubber, sfn: Stubber, monkeypatch: pytest.MonkeyPatch) -> None:
    """Sign-in and the quota are deployed together: one without the other is the stack's fault, not the caller's."""
    monkeypatch.delenv("USAGE_TABLE", raising=False)
    with pytest.raises(ValueError, match="USAGE_TABLE is not set"):
        batches.admit(stored(owner="u-7"), CALLER)


@pytest.mark.usefixtures("with_quota")
def test_a_batch_over_what_is_left_of_the_callers_day_is_refused_whole_with_retry_after(s3: Stubber, sfn: Stubber, dynamodb: Stubber) -> None:
    batch = stored(owner="u-7")
    expect_new(s3, batch)
    expect_used_today(dynamodb, 5)  # 5 + 6 > 10; the Stubbers fail the test on any write or start
    status, headers, body = post(FILE, claims=CLAIMS)
    assert (status, body["error"]) == (429, "QuotaExceeded")
    assert body["message"] == f"daily quota of {DAILY_IMAGES} images: 5 used, 6 asked; resets at {body['resets_at']}"
    assert (body["resets_at"], body["retry_after"], headers["Retry-After"]) == ("2026-11-26T00:00:00Z", 43_200, "43200")  # from NOW, noon


@pytest.mark.usefixtures("with_quota")
def test_a_batch_larger_than_a_whole_days_quota_is_invalid_whatever_is_used(s3: Stubber, sfn: Stubber, dynamodb: Stubber) -> None:
    content = b'{"text": "a fox", "num_images": 8}\n{"text": "a hen", "num_images": 3}\n'
    status, headers, body = post(content, claims=CLAIMS)
    assert status == 400 and "Retry-After" not in headers
    assert body == {
        "error": "ValidationError",
        "message": f"body: asks for 11 images in all; a user's daily quota is {DAILY_IMAGES}: send files of at most {DAILY_IMAGES} images",
        "field": "body",
        "lines": [],
    }


@pytest.mark.usefixtures("with_quota")
def test_the_same_file_again_is_its_batch_whatever_its_lines_have_used(s3: Stubber, sfn: Stubber, dynamodb: Stubber) -> None:
    """Its lines counted as they ran: the quota is not asked again (the DynamoDB Stubber has no answer)."""
    batch = stored(owner="u-7")
    expect_new(s3, batch, submitted=True)
    expect_stored(s3, batch, exists=True)
    expect_existing_status(s3, batch, "succeeded")
    assert post(FILE, claims=CLAIMS)[::2] == (202, accepted(batch))


def test_a_plain_csv_body_with_a_charset_is_taken_too(s3: Stubber, sfn: Stubber) -> None:
    content = "text,num_images\nun café,2\n".encode()
    batch = stored(content, "text/csv")
    assert batch.lines[0]["request"] == {"text": "un café", "num_images": 2}
    expect_stored(s3, batch)
    expect_start(sfn, batch)
    assert post(content, "text/csv; charset=utf-8", encoded=False)[:3:2] == (202, accepted(batch))


def test_the_base64_body_is_read_as_its_exact_bytes(s3: Stubber, sfn: Stubber) -> None:
    """A body API Gateway base64-encoded (a binary media type) is decoded, never read as text: a
    byte that is not UTF-8 is the file's, and named by its line."""
    status, _, body = post(b'{"text": "a"}\n{"text": "caf\xe9"}\n')
    assert status == 400
    assert body["lines"] == [{"line": 2, "field": "body", "message": "body: is not UTF-8 text (byte 0xe9)"}]


def test_bad_lines_are_all_named_and_nothing_is_written_or_started(s3: Stubber, sfn: Stubber) -> None:
    lines = [json.dumps({"text": f"line {n}"}) for n in range(1, 21)]
    lines[2], lines[16] = '{"text": ""}', '{"text": "x", "steps": 20}'
    status, headers, body = post("\n".join(lines).encode())
    assert status == 400 and "Cache-Control" not in headers
    assert body["error"] == "ValidationError" and body["field"] == "body"
    assert [(line["line"], line["field"]) for line in body["lines"]] == [(3, "text"), (17, "steps")]
    assert body["message"].startswith("2 of 20 lines are invalid: line 3: text: must not be empty; line 17: steps: unknown field")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "body: has no request line (an empty file)"),
        (b'{"text": "a"}\n' * 31, "body: has 31 request lines; the limit is 30"),  # MAX_BATCH_LINES
        (b'{"text": "' + b"a" * 2040 + b'"}', "body: is 2052 bytes; the limit is 2048"),  # MAX_BATCH_BYTES
    ],
)
def test_a_file_over_a_limit_or_empty_is_refused_naming_it(s3: Stubber, sfn: Stubber, content: bytes, message: str) -> None:
    assert post(content)[::2] == (400, {"error": "ValidationError", "message": message, "field": "body", "lines": []})


@pytest.mark.parametrize("content_type", ["application/json", "text/plain", None])
def test_any_other_content_type_is_unsupported(s3: Stubber, sfn: Stubber, content_type: str | None) -> None:
    status, _, body = post(FILE, content_type)
    assert (status, body) == (415, {"error": "ValidationError", "message": "Content-Type: must be application/x-ndjson or text/csv"})


def test_the_same_file_while_its_batch_runs_is_the_same_batch(s3: Stubber, sfn: Stubber) -> None:
    """Nothing is rewritten; the execution is asked for again (a first submit may have stopped
    before starting it) and Step Functions answers with the running one (the Stubber fails the
    test on any second start)."""
    batch = stored()
    expect_stored(s3, batch, exists=True)
    expect_existing_status(s3, batch, "running")
    expect_start(sfn, batch)
    assert post(FILE)[::2] == (202, accepted(batch))


def test_a_batch_whose_execution_closed_while_it_says_running_runs_again_under_the_next_name(s3: Stubber, sfn: Stubber) -> None:
    """The file again after the batch's objects expired (Step Functions keeps execution names 90
    days, the bucket the batch 30): a fresh status says running, the old name is taken by a
    closed execution; without a new name the status would say running for ever."""
    batch = stored()
    expect_stored(s3, batch)
    expect_start(sfn, batch, closed=True)
    expect_start(sfn, batch, closed=True, name=f"{batch.batch_id}-2")
    expect_start(sfn, batch, name=f"{batch.batch_id}-3")
    assert post(FILE)[::2] == (202, accepted(batch))


def test_a_first_submit_that_stopped_before_starting_is_started_by_the_second(s3: Stubber, sfn: Stubber) -> None:
    batch = stored()
    expect_stored(s3, batch, exists=True)
    expect_existing_status(s3, batch, "running")
    expect_start(sfn, batch)
    assert post(FILE)[::2] == (202, accepted(batch))


@pytest.mark.parametrize("ended", ["succeeded", "partial", "failed"])
def test_the_same_file_after_its_batch_ended_restarts_nothing(s3: Stubber, sfn: Stubber, ended: str) -> None:
    """The Stubber of Step Functions expects no request: a StartExecution would fail the test."""
    batch = stored()
    expect_stored(s3, batch, exists=True)
    expect_existing_status(s3, batch, ended)
    assert post(FILE)[::2] == (202, accepted(batch))


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("MAX_BATCH_LINES", "0"),
        ("MAX_BATCH_LINES", "ten"),
        ("MAX_BATCH_BYTES", "-1"),
        ("MAX_BATCH_BYTES", "4 MiB"),
        ("MAX_DROP_BYTES", "0"),
        ("DEFAULT_NUM_IMAGES", "17"),
    ],
)
def test_a_bad_setting_fails_loudly_by_name(monkeypatch: pytest.MonkeyPatch, variable: str, value: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValueError, match=variable):
        batches.Settings.from_env()


def test_the_settings_and_their_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MAX_BATCH_LINES")
    monkeypatch.setenv("DEFAULT_NUM_IMAGES", "2")
    settings = batches.Settings.from_env()
    assert (settings.bucket, settings.state_machine_arn, settings.public_base_url_parameter) == (BUCKET, MACHINE, "/text2image/unit/public-base-url")
    assert (settings.limits.max_lines, settings.limits.max_bytes, settings.limits.default_num_images) == (10_000, 2048, 2)
    assert settings.drop_max_bytes == 4096
    for required in ("MAX_BATCH_BYTES", "MAX_DROP_BYTES", "BATCH_STATE_MACHINE_ARN"):  # the stack always sets them
        with monkeypatch.context() as without:
            without.delenv(required)
            with pytest.raises(KeyError, match=required):
                batches.Settings.from_env()


# -- the S3 drop ---------------------------------------------------------------------------


def drop(key: str, bucket: str = BUCKET, etag: str = "e1f2") -> Any:
    return batches.drop_handler(s3_event(bucket, key, etag=etag), LambdaContext("text2image-batch-drop"))


def expect_read(s3: Stubber, key: str, content: bytes, length: int | None = None) -> None:
    s3.add_response("get_object", {"Body": object_body(content), "ContentLength": len(content) if length is None else length}, {"Bucket": BUCKET, "Key": key})


def expect_invalid(s3: Stubber, batch_id: str, message: str, lines: list[dict[str, Any]]) -> dict[str, Any]:
    status = {"batch_id": batch_id, "status": "invalid", "total": 0, "done": 0, "failed": 0, "images": 0}
    status |= {"error": "ValidationError", "message": message, "field": "body", "lines": lines, "updated": NOW}
    expected = {"Bucket": BUCKET, "Key": f"batches/{batch_id}/status.json", "Body": json.dumps(status).encode()}
    s3.add_response("put_object", {"ETag": '"e"'}, expected | {"ContentType": "application/json", "CacheControl": "no-cache"})
    return status


def test_a_dropped_file_is_submitted_like_a_posted_one(s3: Stubber, sfn: Stubber) -> None:
    content = b"text,num_images\na fox,2\na hen,\n"
    batch = stored(content, "text/csv")
    expect_read(s3, "batches/inbox/animals.CSV", content)
    expect_stored(s3, batch)
    expect_start(sfn, batch)
    assert drop("batches/inbox/animals.CSV") == accepted(batch)


def test_a_bad_dropped_file_gets_an_invalid_status_named_by_its_content(s3: Stubber, sfn: Stubber) -> None:
    content = b'{"text": "a"}\n{"text": "b", "txt": "c"}\n'
    expect_read(s3, "batches/inbox/bad.jsonl", content)
    batch_id = refused_batch_id(content)
    why = "txt: unknown field; allowed: text, negative_prompt, width, height, num_images, num_inference_steps, guidance_scale, seed"
    status = expect_invalid(s3, batch_id, f"1 of 2 lines are invalid: line 2: {why}", [{"line": 2, "field": "txt", "message": why}])
    assert drop("batches/inbox/bad.jsonl") == status
    assert batch_id.startswith("batch-") and batch_id != stored(b'{"text": "a"}\n').batch_id


def test_a_dropped_file_too_big_for_the_route_is_taken_up_to_the_drops_own_limit(s3: Stubber, sfn: Stubber) -> None:
    content = b"".join(json.dumps({"text": f"{n} ".ljust(290, "x")}).encode() + b"\n" for n in range(10))
    assert 2048 < len(content) <= 4096
    batch = parse_batch(content, "application/x-ndjson", replace(batches.get_settings().limits, max_bytes=4096))
    expect_read(s3, "batches/inbox/long.jsonl", content)
    expect_stored(s3, batch)
    expect_start(sfn, batch)
    assert drop("batches/inbox/long.jsonl") == accepted(batch)


def test_a_dropped_file_over_the_drops_byte_limit_is_refused_unread(s3: Stubber, sfn: Stubber) -> None:
    expect_read(s3, "batches/inbox/big.jsonl", b"", length=5000)
    batch_id = refused_batch_id(b"batches/inbox/big.jsonl\nbig-etag")
    status = expect_invalid(s3, batch_id, "body: is 5000 bytes; the limit is 4096", [])
    assert drop("batches/inbox/big.jsonl", etag="big-etag") == status


def test_a_dropped_file_of_another_type_is_refused_unread(s3: Stubber, sfn: Stubber) -> None:
    batch_id = refused_batch_id(b"batches/inbox/prompts.txt\ne1f2")
    status = expect_invalid(s3, batch_id, "body: a batch file's name must end in .jsonl or .csv, not 'prompts.txt'", [])
    assert drop("batches/inbox/prompts.txt") == status


def test_the_function_answers_the_declared_route_and_reads_the_inbox_the_rule_watches() -> None:
    assert ("POST", batches.ROUTE) == BATCHES_ROUTE
    assert batches.INBOX_PREFIX == BATCH_INBOX_PREFIX


@pytest.mark.parametrize(("bucket", "key"), [(BUCKET, "batches/x.jsonl"), (BUCKET, "prompts/inbox/x.jsonl"), ("other-bucket", "batches/inbox/x.jsonl")])
def test_a_file_outside_the_inbox_is_neither_read_nor_answered(s3: Stubber, sfn: Stubber, bucket: str, key: str) -> None:
    with pytest.raises(ValueError, match="batches/inbox/"):
        drop(key, bucket)
