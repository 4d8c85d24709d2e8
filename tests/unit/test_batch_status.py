"""The batch status function (functions/batch_status): the status document made from the lines'
manifests (batch_summary, pure), and the handler against S3 stubbed with botocore's Stubber (the
exact requests it must make, in order). Also what holds it to its neighbours: the submit's first
document and keys, Collect's manifest key, the batch workflow's Summarize tasks."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from typing import Any, NotRequired, cast, get_origin, get_type_hints

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

import batch_input
import batch_status
import collect_response
from batch_summary import NO_MANIFEST, LineEntry, MapError, StatusDocument, Summary, manifest_key, manifests_prefix, stale, summary_of, updated
from text2image import manifest as functions
from text2image.local.lambdas import LambdaContext
from text2image.paths import ROOT

BUCKET = "unit-bucket"  # tests/unit/conftest.py's BUCKET_NAME
BATCH = "batch-0123456789abcdef0123456789abcdef"
NOW = "2026-11-25T12:00:10+00:00"
URL = "https://d111.cloudfront.net/images"


def pending(line: int, **changes: Any) -> LineEntry:
    """Line ``line`` as the submit writes it, with ``changes``."""
    return cast("LineEntry", {"line": line, "request_id": f"{BATCH}-{line}", "status": "pending", "images": [], "errors": 0, **changes})


def document(*lines: LineEntry, **changes: Any) -> StatusDocument:
    base = {"batch_id": BATCH, "status": "running", "total": len(lines), "done": 0, "failed": 0, "images": 0, "lines": list(lines), "updated": "earlier"}
    return cast("StatusDocument", base | changes)


def manifest(line: int, status: str, made: list[int], lost: tuple[tuple[int, str, str], ...] = ()) -> dict[str, Any]:
    """A manifest as Collect writes it (images and errors in index order)."""
    request_id = f"{BATCH}-{line}"
    return {
        "request_id": request_id,
        "status": status,
        "images": [{"index": i, "url": f"{URL}/{request_id}/{i}.jpeg", "endpoint": "sd-1", "seed": i, "seconds": 1.0} for i in made],
        "errors": [{"index": i, "endpoint": endpoint, "error": error, "message": "..."} for i, endpoint, error in lost],
        "request": {"text": "a"},
    }


REFUSED = {"error": "QuotaExceeded", "message": "you have made 100 of your 100 images today", "status": "refused", "images": [], "errors": []}


# -- the document --------------------------------------------------------------------------


def test_only_manifests_not_read_in_their_current_version_are_read() -> None:
    read = pending(2, status="succeeded", manifest='"v1"')
    doc = document(pending(1), read, pending(3), pending(4, status="failed", reason=NO_MANIFEST))
    listed = {f"{BATCH}-1": '"a"', f"{BATCH}-2": '"v1"', f"{BATCH}-4": '"b"', f"{BATCH}-99": '"c"'}
    # line 2's manifest is read already; line 3 has none yet; -99 is no line of this batch; line 4
    # failed at a final look with no manifest, and now has one (a redrive ran it again).
    assert stale(doc, listed) == [f"{BATCH}-1", f"{BATCH}-4"]
    assert stale(doc, listed | {f"{BATCH}-2": '"v2"'}) == [f"{BATCH}-1", f"{BATCH}-2", f"{BATCH}-4"]


def test_while_running_each_line_ends_as_its_manifest_says_and_the_rest_wait() -> None:
    doc = document(pending(1), pending(2), pending(3), pending(4), pending(5))
    manifests = {
        f"{BATCH}-1": ('"m1"', manifest(1, "succeeded", [0, 1])),
        f"{BATCH}-2": ('"m2"', manifest(2, "partial", [0], ((1, "sd-2", "States.Timeout"),))),
        f"{BATCH}-3": ('"m3"', manifest(3, "failed", [], ((0, "sd-2", "ModelError"), (1, "sd-2", "ModelError"), (2, "sd-1", "EndpointBusy")))),
        f"{BATCH}-4": ('"m4"', REFUSED),
    }
    result = updated(doc, manifests, final=False, error=None, now=NOW)
    assert result == {
        "batch_id": BATCH,
        "status": "running",
        "total": 5,
        "done": 4,
        "failed": 2,
        "images": 3,
        "lines": [
            {**pending(1), "status": "succeeded", "images": [f"{URL}/{BATCH}-1/0.jpeg", f"{URL}/{BATCH}-1/1.jpeg"], "manifest": '"m1"'},
            {
                **pending(2),
                "status": "partial",
                "images": [f"{URL}/{BATCH}-2/0.jpeg"],
                "errors": 1,
                "manifest": '"m2"',
                "reason": "sd-2: States.Timeout (1 image lost)",
            },
            {
                **pending(3),
                "status": "failed",
                "errors": 3,
                "manifest": '"m3"',
                "reason": "sd-2: ModelError (2 images lost); sd-1: EndpointBusy (1 image lost)",
            },
            {**pending(4), "status": "refused", "manifest": '"m4"', "reason": REFUSED["message"]},
            pending(5),
        ],
        "updated": NOW,
    }
    assert summary_of(result) == {"batch_id": BATCH, "status": "running", "total": 5, "done": 4, "failed": 2, "images": 3, "ended": False}


def test_every_line_ended_is_still_running_until_the_final_look() -> None:
    result = updated(document(pending(1)), {f"{BATCH}-1": ('"m"', manifest(1, "succeeded", [0]))}, final=False, error=None, now=NOW)
    assert (result["status"], result["done"], summary_of(result)["ended"]) == ("running", 1, False)


@pytest.mark.parametrize(
    ("statuses", "batch"),
    [
        (["succeeded", "succeeded"], "succeeded"),
        (["succeeded", "partial"], "partial"),
        (["succeeded", "failed"], "partial"),
        (["partial", "partial"], "partial"),
        (["failed", "failed"], "failed"),  # no image at all
        (["refused", "failed"], "failed"),
    ],
)
def test_the_final_look_decides_the_batchs_status(statuses: list[str], batch: str) -> None:
    def made(status: str) -> list[int]:
        return [0] if status in ("succeeded", "partial") else []

    manifests = {f"{BATCH}-{n}": (f'"m{n}"', REFUSED if s == "refused" else manifest(n, s, made(s))) for n, s in enumerate(statuses, start=1)}
    result = updated(document(pending(1), pending(2)), manifests, final=True, error=None, now=NOW)
    assert (result["status"], summary_of(result)["ended"]) == (batch, True)


def test_at_the_final_look_a_line_with_no_manifest_failed_before_collect() -> None:
    result = updated(document(pending(1), pending(2)), {f"{BATCH}-1": ('"m"', manifest(1, "succeeded", [0, 1]))}, final=True, error=None, now=NOW)
    assert result["lines"][1] == {**pending(2), "status": "failed", "reason": "no manifest: the run failed before Collect"}
    assert (result["status"], result["done"], result["failed"], result["images"]) == ("partial", 2, 1, 2)


def test_when_the_map_failed_the_batch_failed_and_its_waiting_lines_say_why() -> None:
    error: MapError = {"Error": "States.ExceedToleratedFailureThreshold", "Cause": "The specified tolerated failure threshold was exceeded"}
    result = updated(document(pending(1), pending(2)), {f"{BATCH}-1": ('"m"', manifest(1, "succeeded", [0]))}, final=True, error=error, now=NOW)
    assert result["status"] == "failed"  # though line 1 made its image
    assert result["lines"][1]["reason"] == (
        "the batch's map failed: States.ExceedToleratedFailureThreshold: The specified tolerated failure threshold was exceeded"
    )
    assert (
        updated(document(pending(1)), {}, final=True, error={"Error": "States.Runtime"}, now=NOW)["lines"][0]["reason"]
        == "the batch's map failed: States.Runtime"
    )


def test_a_redriven_lines_new_manifest_replaces_what_the_last_final_look_said() -> None:
    ended = updated(document(pending(1)), {}, final=True, error=None, now=NOW)
    assert ended["status"] == "failed"
    again = updated(ended, {f"{BATCH}-1": ('"m"', manifest(1, "succeeded", [0]))}, final=True, error=None, now=NOW)
    assert (again["status"], again["lines"][0]["status"], "reason" in again["lines"][0]) == ("succeeded", "succeeded", False)


def test_a_manifest_of_an_unknown_status_fails_its_line_saying_so() -> None:
    result = updated(document(pending(1)), {f"{BATCH}-1": ('"m"', manifest(1, "exploded", []))}, final=False, error=None, now=NOW)
    assert (result["lines"][0]["status"], result["lines"][0]["reason"]) == ("failed", "the manifest's status is 'exploded'")


# -- held together with the neighbours --------------------------------------------------------


def test_the_submits_first_document_is_this_functions_document() -> None:
    limits = batch_input.Limits(max_lines=10, max_bytes=1000, default_num_images=4)
    batch = batch_input.parse_batch(b'{"text": "a"}\n', batch_input.JSONL, limits)
    first = cast("StatusDocument", batch_input.initial_status(batch, NOW))
    assert set(first) == set(get_type_hints(StatusDocument))
    required = {name for name, hint in get_type_hints(LineEntry, include_extras=True).items() if get_origin(hint) is not NotRequired}
    assert required == {"line", "request_id", "status", "images", "errors"}
    assert all(set(line) == required for line in first["lines"])
    assert batch_input.status_key(batch.batch_id) == batch_status.status_key(batch.batch_id) == f"batches/{batch.batch_id}/status.json"
    assert [line["request_id"] for line in first["lines"]] == [line["request_id"] for line in batch.lines]
    assert stale(first, {f"{batch.batch_id}-1": '"m"'}) == [f"{batch.batch_id}-1"]


def test_the_manifests_are_read_where_collect_writes_them() -> None:
    assert manifest_key(f"{BATCH}-7") == collect_response.manifest_key(f"{BATCH}-7")
    assert manifest_key(f"{BATCH}-7").startswith(manifests_prefix(BATCH)) and not manifest_key(f"{BATCH}7").startswith(manifests_prefix(BATCH))


def test_the_manifest_fills_the_batch_workflows_function_placeholder_and_not_the_request_workflows() -> None:
    arns = {function.name: f"arn:{function.name}" for function in functions.LAMBDAS}
    batch = functions.definition_substitutions(arns, "aws", functions.BATCH_WORKFLOW)
    assert batch == {"Partition": "aws", "BatchStatusFunctionArn": "arn:text2image-batch-status"}
    assert "BatchStatusFunctionArn" not in functions.definition_substitutions(arns, "aws")
    assert functions.BATCH_WORKFLOW_LAMBDAS == (functions.BATCH_STATUS,) and functions.BATCH_STATUS not in functions.WORKFLOW_LAMBDAS
    assert (functions.BATCH_STATUS.folder, functions.BATCH_STATUS.handler) == ("batch_status", "batch_status.handler")
    submit = {(f.folder, f.handler) for f in (functions.SUBMIT_BATCH, functions.BATCH_DROP)}
    assert submit == {("prepare", "batches.handler"), ("prepare", "batches.drop_handler")}


def states_of(node: Any) -> Iterator[dict[str, Any]]:
    """Every state of a workflow file, branches' and item processors' included."""
    if isinstance(node, dict):
        if "Type" in node:
            yield node
        for value in node.values():
            yield from states_of(value)
    elif isinstance(node, list):
        for value in node:
            yield from states_of(value)


def test_the_batch_workflow_calls_this_function_with_its_input_and_reads_its_output() -> None:
    text = (ROOT / "statemachine" / "text2image_batch.asl.json").read_text(encoding="utf-8")
    calls = [state for state in states_of(json.loads(text)) if state.get("Arguments", {}).get("FunctionName") == "${BatchStatusFunctionArn}"]
    assert len(calls) >= 2  # the looks while running and the final one
    for state in calls:
        assert set(state["Arguments"]["Payload"]) == set(get_type_hints(batch_status.BatchStatusInput))
    read = re.findall(r"\$states\.result\.Payload\.(\w+)", text)
    assert read and set(read) <= set(get_type_hints(Summary))


# -- the handler ---------------------------------------------------------------------------


@pytest.fixture
def s3(lambda_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Stubber]:
    client = boto3.client("s3", region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s")
    monkeypatch.setattr(batch_status, "s3_client", lambda: client)
    monkeypatch.setattr(batch_status, "now", lambda: NOW)
    monkeypatch.setattr(batch_status, "READERS", 1)  # the Stubber answers in order: one reader at a time
    with Stubber(client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def body(value: Any) -> StreamingBody:
    data = json.dumps(value).encode()
    return StreamingBody(io.BytesIO(data), len(data))


def expect_status(s3: Stubber, doc: StatusDocument, etag: str = '"s1"') -> None:
    s3.add_response("get_object", {"Body": body(doc), "ETag": etag}, {"Bucket": BUCKET, "Key": f"batches/{BATCH}/status.json"})


def expect_listing(s3: Stubber, *pages: dict[str, str]) -> None:
    for number, page in enumerate(pages):
        answer: dict[str, Any] = {"Contents": [{"Key": manifest_key(rid), "ETag": etag} for rid, etag in page.items()], "IsTruncated": number < len(pages) - 1}
        if number < len(pages) - 1:
            answer["NextContinuationToken"] = f"t{number + 1}"
        expected = {"Bucket": BUCKET, "Prefix": f"requests/{BATCH}-"} | ({"ContinuationToken": f"t{number}"} if number else {})
        s3.add_response("list_objects_v2", answer, expected)


def expect_manifest(s3: Stubber, line: int, value: dict[str, Any], etag: str) -> None:
    s3.add_response("get_object", {"Body": body(value), "ETag": etag}, {"Bucket": BUCKET, "Key": manifest_key(f"{BATCH}-{line}")})


def expect_write(s3: Stubber, doc: StatusDocument, replacing: str | None, *, conflict: bool = False) -> None:
    expected = {"Bucket": BUCKET, "Key": f"batches/{BATCH}/status.json", "Body": json.dumps(doc).encode(), "ContentType": "application/json"}
    expected |= {"CacheControl": "no-cache"} | ({"IfMatch": replacing} if replacing else {})
    if conflict:
        s3.add_client_error("put_object", service_error_code="PreconditionFailed", http_status_code=412, expected_params=expected)
    else:
        s3.add_response("put_object", {"ETag": '"s2"'}, expected)


def look(total: int, *, final: bool, error: MapError | None = None) -> Any:
    return batch_status.handler({"batch_id": BATCH, "total": total, "final": final, "error": error}, LambdaContext("text2image-batch-status"))


def test_a_look_while_running_reads_the_new_manifests_and_writes_over_the_version_it_read(s3: Stubber) -> None:
    done = pending(1, status="succeeded", images=[f"{URL}/{BATCH}-1/0.jpeg"], manifest='"m1"')
    doc = document(done, pending(2), pending(3))
    expect_status(s3, doc)
    expect_listing(s3, {f"{BATCH}-1": '"m1"'}, {f"{BATCH}-3": '"m3"'})  # two pages; line 1 is read already
    three = manifest(3, "succeeded", [0])
    expect_manifest(s3, 3, three, '"m3"')
    after = updated(doc, {f"{BATCH}-3": ('"m3"', three)}, final=False, error=None, now=NOW)
    expect_write(s3, after, replacing='"s1"')
    assert look(3, final=False) == {"batch_id": BATCH, "status": "running", "total": 3, "done": 2, "failed": 0, "images": 2, "ended": False}


def test_a_look_while_running_after_the_final_one_changes_nothing(s3: Stubber) -> None:
    ended = document(pending(1), status="failed", done=1, failed=1)
    expect_status(s3, ended)  # nothing listed, read or written: the Stubber expects nothing more
    assert look(1, final=False)["ended"] is True


def test_a_look_while_running_never_writes_over_the_final_document_written_meanwhile(s3: Stubber) -> None:
    doc = document(pending(1))
    expect_status(s3, doc)
    expect_listing(s3, {})
    expect_write(s3, updated(doc, {}, final=False, error=None, now=NOW), replacing='"s1"', conflict=True)
    final = document(pending(1), status="succeeded", done=1, images=1)
    expect_status(s3, final, etag='"s9"')
    assert look(1, final=False) == {"batch_id": BATCH, "status": "succeeded", "total": 1, "done": 1, "failed": 0, "images": 1, "ended": True}


def test_the_final_look_after_a_failed_map_writes_unconditionally(s3: Stubber) -> None:
    error: MapError = {"Error": "States.ExceedToleratedFailureThreshold", "Cause": "too many lines failed"}
    doc = document(pending(1), pending(2), status="failed")  # a redrive's final look recomputes an ended batch too
    expect_status(s3, doc)
    expect_listing(s3, {f"{BATCH}-1": '"m1"'})
    one = manifest(1, "failed", [], ((0, "sd-1", "ModelError"),))
    expect_manifest(s3, 1, one, '"m1"')
    after = updated(doc, {f"{BATCH}-1": ('"m1"', one)}, final=True, error=error, now=NOW)
    assert after["lines"][1]["reason"] == "the batch's map failed: States.ExceedToleratedFailureThreshold: too many lines failed"
    expect_write(s3, after, replacing=None)
    assert look(2, final=True, error=error) == {"batch_id": BATCH, "status": "failed", "total": 2, "done": 2, "failed": 2, "images": 0, "ended": True}


def test_a_manifest_gone_since_the_listing_leaves_its_line_waiting(s3: Stubber) -> None:
    doc = document(pending(1))
    expect_status(s3, doc)
    expect_listing(s3, {f"{BATCH}-1": '"m1"'})
    s3.add_client_error(
        "get_object", service_error_code="NoSuchKey", http_status_code=404, expected_params={"Bucket": BUCKET, "Key": manifest_key(f"{BATCH}-1")}
    )
    expect_write(s3, updated(doc, {}, final=False, error=None, now=NOW), replacing='"s1"')
    assert look(1, final=False)["done"] == 0


def test_a_document_of_another_line_count_than_the_execution_is_refused(s3: Stubber) -> None:
    expect_status(s3, document(pending(1)))
    with pytest.raises(ValueError, match="has 1 lines; the execution has 2"):
        look(2, final=False)
