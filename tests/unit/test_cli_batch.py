"""`text2image batch FILE [--wait] [--out DIR]` against a stand-in API on a real socket, with a fake
clock (no test sleeps): the file is sent as it is with the type its name says, a refused file
prints each bad line and exits 2, --wait follows status.json with back-off (asking only for a newer
version) until the batch ends (0 succeeded, 1 partial or failed), --out saves every image as
DIR/<line>/<index>.jpeg keeping those already there, Ctrl-C stops cleanly."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from stand_in_api import Answer, FakeClock, StandIn, serving

from text2image.cli import BAD_INPUT, INTERRUPTED, main
from text2image.client import BATCH_STATUS_GRACE, Waiting
from text2image.routes import BATCH_MAX_BYTES, Origin, behavior_for
from text2image.token_store import Session, TokenStore

BATCH = "batch-0123456789abcdef0123456789abcdef"
STATUS_PATH = f"/batches/{BATCH}/status.json"
JSONL = b'{"text": "a cat", "num_images": 2}\n\n{"text": "a dog", "num_images": 2}\n{"text": "a cow", "num_images": 2}\n'


class BatchApi(StandIn):
    """The stand-in API with the batch route's answers and status documents."""

    def accepts(self, lines: int = 3) -> None:
        """POST /text2image/batches answers 202 for a batch of ``lines`` lines."""
        submitted = {"batch_id": BATCH, "status_url": self.url + STATUS_PATH, "lines": lines}
        self.script[("POST", "/text2image/batches")] = [Answer(202, submitted)]

    def image_url(self, line: int, index: int) -> str:
        return f"{self.url}/images/{BATCH}-{line}/{index}.jpeg"

    def entry(self, line: int, status: str = "pending", made: tuple[int, ...] = (), lost: int = 0, reason: str = "") -> dict[str, Any]:
        """A line of status.json; ``made`` the indexes of its images (each served as a JPEG)."""
        for index in made:
            self.script[("GET", f"/images/{BATCH}-{line}/{index}.jpeg")] = [Answer(200, jpeg(line, index), {"Content-Type": "image/jpeg"})]
        entry = {"line": line, "request_id": f"{BATCH}-{line}", "status": status, "images": [self.image_url(line, i) for i in made], "errors": lost}
        return entry | ({"reason": reason} if reason else {})


def jpeg(line: int, index: int) -> bytes:
    return b"\xff\xd8" + f"line {line} image {index}".encode() + b"\xff\xd9"


def document(lines: list[dict[str, Any]], status: str = "running") -> dict[str, Any]:
    return {
        "batch_id": BATCH,
        "status": status,
        "total": len(lines),
        "done": sum(line["status"] != "pending" for line in lines),
        "failed": sum(line["status"] in ("failed", "refused") for line in lines),
        "images": sum(len(line["images"]) for line in lines),
        "lines": lines,
        "updated": "2025-01-01T00:00:00+00:00",
    }


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[BatchApi]:
    yield from serving(BatchApi(), monkeypatch, tmp_path)


def batch_file(tmp_path: Path, name: str = "prompts.jsonl", content: bytes = JSONL) -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


def batch(api: BatchApi, clock: FakeClock, file: Path, *args: str) -> int:
    return main(["batch", str(file), "--api", api.url, *args], waiting=clock.waiting())


@pytest.mark.parametrize(
    ("name", "media_type"),
    [("prompts.jsonl", "application/x-ndjson"), ("prompts.ndjson", "application/x-ndjson"), ("Prompts.CSV", "text/csv")],
)
def test_the_file_is_sent_as_it_is_with_the_type_its_name_says(
    api: BatchApi, tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, media_type: str
) -> None:
    api.accepts()
    content = JSONL if media_type != "text/csv" else b"text,num_images\na cat,2\n"
    assert batch(api, FakeClock(), batch_file(tmp_path, name, content)) == 0
    [posted] = api.requests("POST", "/text2image/batches")
    assert posted.body == content and posted.headers["content-type"] == media_type
    assert capsys.readouterr().out.splitlines() == [
        f"batch   {BATCH}",
        "lines   3",
        f"status  {api.url}{STATUS_PATH}",
        f"page    {api.url}/batch.html?id={BATCH}",
    ]
    assert api.requests("GET", STATUS_PATH) == []  # without --wait it only submits


@pytest.mark.parametrize(("name", "why"), [("prompts.txt", "a batch file is JSONL (.jsonl, .ndjson) or CSV (.csv)"), ("missing.jsonl", "No such file")])
def test_a_file_that_cannot_be_sent_is_refused_before_any_request(
    api: BatchApi, tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, why: str
) -> None:
    file = batch_file(tmp_path, name) if name != "missing.jsonl" else tmp_path / name
    assert batch(api, FakeClock(), file) == BAD_INPUT
    assert why in capsys.readouterr().err
    assert api.seen == []


def test_a_file_larger_than_the_api_takes_is_refused_before_any_request_saying_what_to_do(
    api: BatchApi, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = batch_file(tmp_path, content=b'{"text": "a"}\n'.ljust(BATCH_MAX_BYTES + 1, b" "))
    assert batch(api, FakeClock(), file) == BAD_INPUT
    assert capsys.readouterr().err == (
        f"text2image batch: {file} is {BATCH_MAX_BYTES + 1} bytes; the API takes files of up to {BATCH_MAX_BYTES} (4 MiB): "
        "split it, or put it under batches/inbox/ in the stack's bucket\n"
    )
    assert api.seen == []


def test_a_refused_file_prints_each_bad_line_and_exits_2(api: BatchApi, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    refusal = {
        "error": "ValidationError",
        "message": "2 of 20 lines are invalid: line 3: text: must not be empty; line 17: body: is not a JSON object on one line",
        "field": "body",
        "lines": [
            {"line": 3, "field": "text", "message": "text: must not be empty"},
            {"line": 17, "field": "body", "message": "body: is not a JSON object on one line (Expecting value)"},
        ],
    }
    api.script[("POST", "/text2image/batches")] = [Answer(400, refusal)]
    file = batch_file(tmp_path)
    assert batch(api, FakeClock(), file, "--wait") == BAD_INPUT
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [
        f"text2image batch: {file} refused (400): {refusal['message']}",
        "line 3: text: must not be empty",
        "line 17: body: is not a JSON object on one line (Expecting value)",
    ]
    assert api.requests("GET", STATUS_PATH) == []


def test_a_type_the_api_does_not_take_exits_2(api: BatchApi, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    message = "Content-Type: must be application/x-ndjson or text/csv"
    api.script[("POST", "/text2image/batches")] = [Answer(415, {"error": "ValidationError", "message": message})]
    assert batch(api, FakeClock(), batch_file(tmp_path)) == BAD_INPUT
    assert message in capsys.readouterr().err


def test_refused_for_want_of_sign_in_says_how_to_sign_in(api: BatchApi, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    api.script[("POST", "/text2image/batches")] = [Answer(401, {"error": "Unauthorized", "message": "sign in first"})]
    assert batch(api, FakeClock(), batch_file(tmp_path)) == 1
    assert f"sign in first: text2image login --api {api.url}" in capsys.readouterr().err


def test_the_stored_id_token_is_sent(api: BatchApi, tmp_path: Path) -> None:
    TokenStore().put(api.url, Session("demo", "id-token-of-demo", "refresh", 2**40, "client", "http://127.0.0.1:9/"))
    api.accepts()
    assert batch(api, FakeClock(), batch_file(tmp_path)) == 0
    assert [seen.headers.get("authorization") for seen in api.requests("POST", "/text2image/batches")] == ["id-token-of-demo"]


def test_wait_follows_status_json_with_back_off_until_the_batch_ends(api: BatchApi, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    api.accepts()
    pending = [api.entry(1), api.entry(3), api.entry(4)]
    halfway = [api.entry(1, "succeeded", (0, 1)), api.entry(3), api.entry(4)]
    ended = [api.entry(1, "succeeded", (0, 1)), api.entry(3, "succeeded", (0, 1)), api.entry(4, "succeeded", (0, 1))]
    versions = [document(pending), document(halfway), document(halfway), document(ended, "succeeded")]
    api.script[("GET", STATUS_PATH)] = [Answer(200, version) for version in versions]
    clock = FakeClock()
    assert batch(api, clock, batch_file(tmp_path), "--wait") == 0
    assert clock.sleeps == [1.0, 1.5, 2.25]
    out, err = capsys.readouterr()
    assert out.splitlines()[-1] == "batch succeeded: 3/3 lines, 0 failed, 6 images"
    # Not a terminal: the lines as they end, and the overall bar when it changes.
    assert err.splitlines() == [
        "[------------------------] 0/3 lines, 0 images  running",
        "succeeded: line 1",
        "[########----------------] 1/3 lines, 2 images  running",
        "succeeded: lines 3-4",
        "[########################] 3/3 lines, 6 images  succeeded",
    ]


def test_the_looks_back_off_up_to_every_5_seconds(api: BatchApi, tmp_path: Path) -> None:
    api.accepts()
    running = Answer(200, document([api.entry(1), api.entry(2), api.entry(3)]))
    ended = Answer(200, document([api.entry(n, "succeeded", (0,)) for n in (1, 2, 3)], "succeeded"))
    api.script[("GET", STATUS_PATH)] = [running] * 8 + [ended]
    clock = FakeClock()
    assert batch(api, clock, batch_file(tmp_path), "--wait") == 0
    assert clock.sleeps == [1.0, 1.5, 2.25, 3.375, 5.0, 5.0, 5.0, 5.0]


def test_each_look_asks_only_for_a_newer_version(api: BatchApi, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    api.accepts()
    lines = [api.entry(1), api.entry(2), api.entry(3)]
    api.script[("GET", STATUS_PATH)] = [
        Answer(200, document(lines), {"ETag": '"v1"'}),
        Answer(304, b""),
        Answer(200, document([api.entry(n, "succeeded", (0,)) for n in (1, 2, 3)], "succeeded"), {"ETag": '"v2"'}),
    ]
    assert batch(api, FakeClock(), batch_file(tmp_path), "--wait") == 0
    assert [seen.headers.get("if-none-match") for seen in api.requests("GET", STATUS_PATH)] == [None, '"v1"', '"v1"']
    assert capsys.readouterr().err.count("0/3 lines") == 1  # an unchanged version shows nothing new


@pytest.mark.parametrize("ending", ["partial", "failed"])
def test_a_batch_that_lost_images_exits_1_and_says_why(api: BatchApi, tmp_path: Path, capsys: pytest.CaptureFixture[str], ending: str) -> None:
    api.accepts()
    lost = "sd-1: EndpointError (1 image lost)"
    if ending == "partial":
        lines = [api.entry(1, "succeeded", (0, 1)), api.entry(3, "partial", (1,), 1, lost), api.entry(4, "refused", reason="QuotaExceeded")]
    else:
        lines = [api.entry(n, "failed", (), 2, "sd-1: EndpointError (2 images lost)") for n in (1, 3, 4)]
    api.script[("GET", STATUS_PATH)] = [Answer(200, document(lines, ending))]
    assert batch(api, FakeClock(), batch_file(tmp_path), "--wait") == 1
    out, err = capsys.readouterr()
    if ending == "partial":
        assert f"partial: line 3 ({lost})" in err and "refused: line 4 (QuotaExceeded)" in err
        assert out.splitlines()[-1] == "batch partial: 3/3 lines, 1 failed, 3 images"
    else:
        assert "failed: lines 1, 3-4 (sd-1: EndpointError (2 images lost))" in err
        assert out.splitlines()[-1] == "batch failed: 3/3 lines, 3 failed, 0 images"


def test_out_saves_every_image_as_line_and_index_keeping_those_already_there(api: BatchApi, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    api.accepts()
    out = tmp_path / "out"
    (out / "1").mkdir(parents=True)
    (out / "1" / "0.jpeg").write_bytes(b"kept")
    halfway = [api.entry(1, "succeeded", (0, 1)), api.entry(3), api.entry(4)]
    ended = [api.entry(1, "succeeded", (0, 1)), api.entry(3, "partial", (1,), 1, "sd-1: EndpointError (1 image lost)"), api.entry(4, "succeeded", (0, 1))]
    api.script[("GET", STATUS_PATH)] = [Answer(200, document(halfway)), Answer(200, document(ended, "partial"))]
    assert batch(api, FakeClock(), batch_file(tmp_path), "--wait", "--out", str(out)) == 1
    saved = {path.relative_to(out).as_posix(): path.read_bytes() for path in out.rglob("*") if path.is_file()}
    assert saved == {"1/0.jpeg": b"kept", "1/1.jpeg": jpeg(1, 1), "3/1.jpeg": jpeg(3, 1), "4/0.jpeg": jpeg(4, 0), "4/1.jpeg": jpeg(4, 1)}
    assert api.requests("GET", f"/images/{BATCH}-1/0.jpeg") == []
    assert len(api.requests("GET", f"/images/{BATCH}-1/1.jpeg")) == 1  # saved as line 1 ended, not again at the end
    assert capsys.readouterr().out.splitlines()[-1] == f"5 images in {out}/<line>/<index>.jpeg (1 already there)"


def test_out_without_wait_saves_what_has_ended_and_says_how_to_get_the_rest(api: BatchApi, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    api.accepts()
    out = tmp_path / "out"
    api.script[("GET", STATUS_PATH)] = [Answer(200, document([api.entry(1, "succeeded", (0, 1)), api.entry(3), api.entry(4)]))]
    file = batch_file(tmp_path)
    assert batch(api, FakeClock(), file, "--out", str(out)) == 0
    assert sorted(path.relative_to(out).as_posix() for path in out.rglob("*.jpeg")) == ["1/0.jpeg", "1/1.jpeg"]
    captured = capsys.readouterr()
    assert f"2 images in {out}/<line>/<index>.jpeg (0 already there)" in captured.out
    assert f"1 of 3 lines have ended; the rest: text2image batch {file} --api {api.url} --wait --out {out}" in captured.err


def test_ctrl_c_while_following_stops_cleanly_and_the_batch_goes_on(api: BatchApi, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    api.accepts()
    api.script[("GET", STATUS_PATH)] = [Answer(200, document([api.entry(1), api.entry(3), api.entry(4)]))]

    def interrupted(seconds: float) -> None:
        raise KeyboardInterrupt

    file = batch_file(tmp_path)
    assert main(["batch", str(file), "--api", api.url, "--wait"], waiting=Waiting(sleep=interrupted)) == INTERRUPTED
    err = capsys.readouterr().err
    assert f"stopped; a batch the API took goes on. Follow it with: text2image batch {file} --api {api.url} --wait" in err
    assert "Traceback" not in err
    assert len(api.requests("GET", STATUS_PATH)) == 1


def test_a_status_that_never_appears_ends_the_wait(api: BatchApi, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    api.accepts()  # and no status.json: the stand-in answers 404
    clock = FakeClock()
    assert batch(api, clock, batch_file(tmp_path), "--wait") == 1
    assert sum(clock.sleeps[:-1]) < BATCH_STATUS_GRACE <= sum(clock.sleeps)
    assert f"404 StatusUnreadable: {api.url}{STATUS_PATH} answered 404" in capsys.readouterr().err


def test_a_failed_look_is_tried_again(api: BatchApi, tmp_path: Path) -> None:
    api.accepts()
    ended = Answer(200, document([api.entry(n, "succeeded", (0,)) for n in (1, 3, 4)], "succeeded"))
    api.script[("GET", STATUS_PATH)] = [Answer(200, document([api.entry(1), api.entry(3), api.entry(4)])), Answer(503, b"busy"), ended]
    clock = FakeClock()
    assert batch(api, clock, batch_file(tmp_path), "--wait") == 0
    assert len(clock.sleeps) == 2


def test_the_status_url_is_served_from_the_bucket_uncached_and_nothing_else_of_the_batch_is() -> None:
    status = behavior_for(STATUS_PATH)
    assert (status.origin, status.cached) == (Origin.OBJECTS, False)
    assert behavior_for(f"/batches/{BATCH}/input.jsonl").origin is Origin.SITE  # the default: a site file, which it is not
