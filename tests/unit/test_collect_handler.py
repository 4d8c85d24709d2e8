"""Collect's handler with S3 and SSM replaced by fakes: what it writes (the manifest, before it
fails), what it answers, the metrics it emits (Powertools' EMF lines on stdout) and the line it
logs. Its response building is tests/unit/test_collect_response.py; against moto's S3 and SSM,
tests/integration/test_handlers_with_aws.py."""

from __future__ import annotations

import dataclasses
import io
import json
from datetime import UTC, datetime, tzinfo
from decimal import Decimal
from typing import Any

import pytest
from aws_lambda_powertools.utilities import parameters
from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import ClientError

import collect
from collect_response import Caller, CallResult, CaughtFailure, CollectInput, Plan, Reservation
from text2image.local.lambdas import LambdaContext

pytestmark = pytest.mark.usefixtures("lambda_env")

PARAMETER = "/text2image/unit/public-base-url"  # tests/unit/conftest.py's PUBLIC_BASE_URL_PARAMETER
STARTED = "2026-11-25T12:00:00Z"
NOW = datetime(2026, 11, 25, 12, 0, 2, 500000, tzinfo=UTC)  # 2.5 s after STARTED
REQUEST = {"text": "un café", "num_images": 3}
MADE: CallResult = {"images": [{"index": 0, "key": "images/col-1/0.jpeg", "seed": 5, "endpoint": "sd-1", "seconds": 1.5}]}
ALSO_MADE: CallResult = {"images": [{"index": 2, "key": "images/col-1/2.jpeg", "seed": 7, "endpoint": "sd-1", "seconds": 1.25}]}
LOST: CaughtFailure = {
    "endpoint": "sd-2",
    "images": [{"index": 1, "seed": 6, "key": "images/col-1/1.jpeg"}],
    "error": "States.Timeout",
    "cause": "Task timed out",
}


class FakeS3:
    def __init__(self) -> None:
        self.puts: list[dict[str, Any]] = []

    def put_object(self, **arguments: Any) -> None:
        self.puts.append(arguments)


class Clock(datetime):
    @classmethod
    def now(cls, tz: tzinfo | None = None) -> Clock:
        assert tz is UTC
        return cls.fromtimestamp(NOW.timestamp(), UTC)


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> FakeS3:
    fake = FakeS3()
    monkeypatch.setattr(collect, "s3_client", lambda: fake)
    monkeypatch.setattr(collect, "datetime", Clock)
    return fake


@pytest.fixture
def parameter_reads(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """The SSM parameter holds the CloudFront URL with a trailing slash."""
    reads: list[tuple[str, int]] = []

    def get_parameter(name: str, max_age: int) -> str:
        reads.append((name, max_age))
        return "https://d111.cloudfront.net/"

    monkeypatch.setattr(parameters, "get_parameter", get_parameter)
    return reads


@pytest.fixture
def log(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    """The JSON lines Powertools' logger writes (to the stdout it found at import)."""
    buffer = io.StringIO()
    monkeypatch.setattr(collect.logger.registered_handler, "stream", buffer)
    return buffer


def run(
    *lanes: list[Any],
    request_id: str = "col-1",
    caller: Caller | None = None,
    request: dict[str, Any] = REQUEST,
    reservation: Reservation | None = None,
    capacity_deadline: float = 1e10,  # a job's (the sync route's is 0)
) -> Any:
    plan: Plan = {"request_id": request_id, "request": request, "caller": caller, "reservation": reservation, "capacity_deadline": capacity_deadline}
    event: CollectInput = {"plan": plan, "results": list(lanes), "started": STARTED}
    return collect.handler(event, LambdaContext("collect"))


class FakeDynamoDB:
    def __init__(self) -> None:
        self.puts: list[dict[str, Any]] = []
        self.updates: list[dict[str, Any]] = []

    def put_item(self, **arguments: Any) -> None:
        self.puts.append(arguments)

    def update_item(self, **arguments: Any) -> None:
        self.updates.append(arguments)


@pytest.fixture
def dynamodb(monkeypatch: pytest.MonkeyPatch) -> FakeDynamoDB:
    fake = FakeDynamoDB()
    monkeypatch.setattr(collect, "dynamodb_client", lambda: fake)
    return fake


def test_a_signed_in_run_goes_to_its_users_history_after_the_manifest(
    s3: FakeS3, parameter_reads: list[tuple[str, int]], dynamodb: FakeDynamoDB, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("USAGE_TABLE", "usage")
    monkeypatch.setenv("HISTORY_DAYS", "7")
    collect.get_settings.cache_clear()
    response = run([ALSO_MADE, MADE], [LOST], caller={"sub": "user-1", "username": "ana"})
    (put,) = dynamodb.puts
    assert put["TableName"] == "usage"
    base = "https://d111.cloudfront.net"
    assert {name: TypeDeserializer().deserialize(value) for name, value in put["Item"].items()} == {
        "pk": "USER#user-1",
        "sk": f"RUN#{STARTED}#col-1",
        "request_id": "col-1",
        "request": REQUEST,
        "status": "partial",
        "started": STARTED,
        "seconds": Decimal("2.5"),
        "images": [image["url"] for image in response["images"]],
        "errors": 1,
        "manifest": f"{base}/requests/col-1.json",
        "expires_at": int(datetime(2026, 12, 2, 12, 0, tzinfo=UTC).timestamp()),  # 7 days after the start
    }


def test_a_stored_request_keeps_its_fractional_numbers_exactly(
    s3: FakeS3, parameter_reads: list[tuple[str, int]], dynamodb: FakeDynamoDB, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DynamoDB takes no float: a normalized request's guidance_scale goes in as the Decimal of what was written."""
    monkeypatch.setenv("USAGE_TABLE", "usage")
    collect.get_settings.cache_clear()
    request = {"text": "un café", "num_images": 3, "width": 768, "guidance_scale": 7.1, "seed": 42}
    run([MADE], caller={"sub": "u-1", "username": "ana"}, request=request)
    (put,) = dynamodb.puts
    assert put["Item"]["request"] == {
        "M": {"text": {"S": "un café"}, "num_images": {"N": "3"}, "width": {"N": "768"}, "guidance_scale": {"N": "7.1"}, "seed": {"N": "42"}}
    }


def test_a_run_without_a_signed_in_caller_has_no_history(
    s3: FakeS3, parameter_reads: list[tuple[str, int]], dynamodb: FakeDynamoDB, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("USAGE_TABLE", "usage")
    collect.get_settings.cache_clear()
    run([MADE])
    assert dynamodb.puts == [] and len(s3.puts) == 1


def metrics(stdout: str) -> dict[str, list[float]]:
    """Metric name -> value, from the EMF lines on stdout, each checked to be a count in our namespace."""
    found = {}
    for line in stdout.splitlines():
        emf = json.loads(line)
        (directive,) = emf["_aws"]["CloudWatchMetrics"]
        (metric,) = directive["Metrics"]
        assert directive["Namespace"] == "text2image" and metric["Unit"] == "Count"
        found[metric["Name"]] = emf[metric["Name"]]
    return found


def test_a_partial_run_writes_its_manifest_and_answers_with_the_images_and_errors(s3: FakeS3, parameter_reads: list[tuple[str, int]]) -> None:
    response = run([ALSO_MADE, MADE], [LOST])
    base = "https://d111.cloudfront.net"
    assert [image["url"] for image in response["images"]] == [f"{base}/images/col-1/0.jpeg", f"{base}/images/col-1/2.jpeg"]
    assert response["errors"] == [{"index": 1, "endpoint": "sd-2", "error": "States.Timeout", "message": "Task timed out"}]
    assert response["time"] == 2.5
    (put,) = s3.puts
    assert put == {
        "Bucket": "unit-bucket",
        "Key": "requests/col-1.json",
        "Body": json.dumps({**response, "status": "partial", "request": REQUEST}, ensure_ascii=False).encode(),
        "ContentType": "application/json",
        "CacheControl": "no-cache",
    }
    assert "un café".encode() in put["Body"]  # UTF-8, not \u escapes
    assert parameter_reads == [(PARAMETER, 300)]  # through Powertools' cache, 5 minutes per container


def test_a_run_with_every_image_is_succeeded(s3: FakeS3, parameter_reads: list[tuple[str, int]]) -> None:
    response = run([MADE, ALSO_MADE])
    assert response["errors"] == [] and len(response["images"]) == 2
    assert json.loads(s3.puts[0]["Body"])["status"] == "succeeded"


def test_a_run_with_no_image_records_the_failure_then_fails_with_the_502_body(s3: FakeS3, parameter_reads: list[tuple[str, int]]) -> None:
    with pytest.raises(collect.GenerationFailed) as raised:
        run([LOST], request_id="col-2")
    assert json.loads(str(raised.value)) == {
        "error": "GenerationFailed",
        "message": "no image could be made: all 1 failed",
        "request_id": "col-2",
        "errors": [{"index": 1, "endpoint": "sd-2", "error": "States.Timeout", "message": "Task timed out"}],
    }
    (put,) = s3.puts
    assert put["Key"] == "requests/col-2.json" and json.loads(put["Body"])["status"] == "failed"


def test_a_run_with_no_image_because_an_endpoint_was_cold_fails_with_the_503_body(
    s3: FakeS3, parameter_reads: list[tuple[str, int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sync route answers it 503 WarmingUp with Retry-After: the configured cold start."""
    monkeypatch.setenv("COLD_START_SECONDS", "240")
    collect.get_settings.cache_clear()
    refusal = "Inference Component has no capacity to process this request."
    cold = {**LOST, "error": "EndpointCold", "cause": json.dumps({"errorMessage": refusal})}
    with pytest.raises(collect.WarmingUp) as raised:
        run([cold], request_id="col-3")
    body = json.loads(str(raised.value))
    assert (body["error"], body["retry_after"], body["request_id"]) == ("WarmingUp", 240, "col-3")
    assert body["errors"] == [{"index": 1, "endpoint": "sd-2", "error": "EndpointCold", "message": refusal}]
    (put,) = s3.puts
    assert json.loads(put["Body"])["status"] == "failed"


COLD_CAUSE = json.dumps({"errorMessage": "Inference Component has no capacity to process this request."})


def test_images_a_cold_endpoint_refused_are_given_back_to_the_callers_quota(
    s3: FakeS3, parameter_reads: list[tuple[str, int]], dynamodb: FakeDynamoDB, monkeypatch: pytest.MonkeyPatch
) -> None:
    """They cost no GPU time: the day Prepare counted them on gets them back (the run sent again counts once)."""
    monkeypatch.setenv("USAGE_TABLE", "usage")
    collect.get_settings.cache_clear()
    cold = {**LOST, "images": [{"index": 1, "seed": 8, "key": "k1"}, {"index": 2, "seed": 9, "key": "k2"}], "error": "EndpointCold", "cause": COLD_CAUSE}
    run([MADE], [cold], caller={"sub": "u-9", "username": "ana"}, reservation={"sk": "QUOTA#2026-11-26", "images": 3})
    (update,) = dynamodb.updates
    assert update["Key"] == {"pk": {"S": "USER#u-9"}, "sk": {"S": "QUOTA#2026-11-26"}}
    assert update["UpdateExpression"] == "ADD images :refunded, given_back :run"
    assert update["ExpressionAttributeValues"] == {":refunded": {"N": "-2"}, ":run": {"SS": ["col-1"]}, ":request_id": {"S": "col-1"}}
    assert update["ConditionExpression"] == "attribute_exists(images) AND NOT contains(given_back, :request_id)"


@pytest.mark.parametrize("code", ["ConditionalCheckFailedException", "ProvisionedThroughputExceededException"])
def test_a_refused_give_back_leaves_the_run_as_it_is(
    s3: FakeS3, parameter_reads: list[tuple[str, int]], dynamodb: FakeDynamoDB, monkeypatch: pytest.MonkeyPatch, code: str
) -> None:
    """Given back already (a retried Collect), an expired day, or DynamoDB failing: the images and the manifest stand."""
    monkeypatch.setenv("USAGE_TABLE", "usage")
    collect.get_settings.cache_clear()

    def refuse(**arguments: Any) -> None:
        raise ClientError({"Error": {"Code": code, "Message": "no"}}, "UpdateItem")

    monkeypatch.setattr(dynamodb, "update_item", refuse)
    cold = {**LOST, "error": "EndpointCold", "cause": COLD_CAUSE}
    response = run([MADE], [cold], caller={"sub": "u-9", "username": "ana"}, reservation={"sk": "QUOTA#2026-11-26", "images": 2})
    assert len(response["images"]) == 1 and json.loads(s3.puts[0]["Body"])["status"] == "partial"


def test_nothing_is_given_back_for_images_lost_otherwise_or_without_a_reservation(
    s3: FakeS3, parameter_reads: list[tuple[str, int]], dynamodb: FakeDynamoDB, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("USAGE_TABLE", "usage")
    collect.get_settings.cache_clear()
    run([MADE], [LOST], caller={"sub": "u-9", "username": "ana"}, reservation={"sk": "QUOTA#2026-11-26", "images": 2})
    run([MADE], [{**LOST, "error": "EndpointCold", "cause": COLD_CAUSE}])  # not signed in: nothing was counted
    assert dynamodb.updates == []


def test_each_run_emits_the_delivered_and_failed_counts(s3: FakeS3, parameter_reads: list[tuple[str, int]], capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    run([MADE, ALSO_MADE], [LOST])
    assert metrics(capsys.readouterr().out) == {"ImagesDelivered": [2], "ImagesFailed": [1], "ImagesCold": [0]}
    with pytest.raises(collect.GenerationFailed):
        run([LOST])
    assert metrics(capsys.readouterr().out) == {"ImagesDelivered": [0], "ImagesFailed": [1], "ImagesCold": [0]}
    with pytest.raises(collect.WarmingUp):
        run([{**LOST, "error": "EndpointCold", "cause": COLD_CAUSE}])
    assert metrics(capsys.readouterr().out) == {"ImagesDelivered": [0], "ImagesFailed": [0], "ImagesCold": [1]}
    with pytest.raises(collect.WarmingUp):  # the sync route's: answered 503, counted for the API's 5xx alarm to leave out
        run([{**LOST, "error": "EndpointCold", "cause": COLD_CAUSE}], capacity_deadline=0)
    assert metrics(capsys.readouterr().out) == {"ImagesDelivered": [0], "ImagesFailed": [0], "ImagesCold": [1], "WarmingUpAnswers": [1]}


def test_each_run_logs_its_status_and_counts_under_the_request_id(s3: FakeS3, parameter_reads: list[tuple[str, int]], log: io.StringIO) -> None:
    run([MADE], [LOST])
    (line,) = [json.loads(text) for text in log.getvalue().splitlines() if json.loads(text)["message"] == "collected"]
    assert (line["level"], line["status"], line["images"], line["errors"], line["correlation_id"]) == ("INFO", "partial", 1, 1, "col-1")


@pytest.mark.parametrize("stored", ["d111.cloudfront.net", "ftp://d111.cloudfront.net", ""])
def test_a_parameter_that_is_no_http_url_is_refused_naming_it(stored: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parameters, "get_parameter", lambda name, max_age: stored)
    with pytest.raises(ValueError) as raised:
        collect.public_base_url()
    assert str(raised.value) == f"{PARAMETER} must hold an http(s) URL, not {stored!r}"


@pytest.mark.parametrize(("stored", "base"), [("http://localhost:4566//", "http://localhost:4566"), ("https://cdn.example", "https://cdn.example")])
def test_the_base_url_loses_its_trailing_slashes(stored: str, base: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parameters, "get_parameter", lambda name, max_age: stored)
    assert collect.public_base_url() == base


def test_the_s3_client_is_made_once_per_container(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    collect.s3_client.cache_clear()
    client = collect.s3_client()
    assert client.meta.service_model.service_name == "s3" and collect.s3_client() is client
    collect.s3_client.cache_clear()


def test_settings_cannot_change_after_the_cold_start() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        collect.get_settings().bucket = "other"  # type: ignore[misc]
