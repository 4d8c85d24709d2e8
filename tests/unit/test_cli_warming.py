"""`text2image generate --sync` while the GPUs are starting (503 WarmingUp: it says so, waits as
long as the API asked and tries again, up to a limit; Ctrl-C stops it) and `text2image warm`
(each endpoint's state; --wait asks again until all are warm), against a stand-in API on a real
socket, with a fake clock: no test sleeps."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from stand_in_api import Answer, FakeClock, StandIn, serving

from text2image.cli import INTERRUPTED, main
from text2image.client import Waiting, warm_poll
from text2image.token_store import Session, TokenStore

JPEG = b"\xff\xd8\xff\xd9"
ENDPOINTS = ("sd-1", "sd-2")


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[StandIn]:
    yield from serving(StandIn(), monkeypatch, tmp_path)


def warming_up(retry_after: int, header: bool = True) -> Answer:
    body = {
        "error": "WarmingUp",
        "message": f"the GPUs are starting: try again in about {retry_after} s",
        "retry_after": retry_after,
        "request_id": "r-cold",
        "errors": [{"index": 0, "endpoint": "sd-1", "error": "EndpointCold", "message": "Inference Component has no capacity to process this request."}],
    }
    return Answer(503, body, {"Retry-After": str(retry_after)} if header else {})


def images(api: StandIn) -> Answer:
    api.script[("GET", "/images/r-1/0.jpeg")] = [Answer(200, JPEG, {"Content-Type": "image/jpeg"})]
    image = {"index": 0, "url": f"{api.url}/images/r-1/0.jpeg", "endpoint": "sd-1", "seed": 7, "seconds": 0.5}
    return Answer(200, {"statusCode": 200, "body": json.dumps([image["url"]]), "time": 1.5, "request_id": "r-1", "images": [image], "errors": []})


def generate(api: StandIn, clock: FakeClock, tmp_path: Path, *args: str) -> int:
    return main(["generate", "a cat", "-n", "1", "--sync", "--api", api.url, "--out", str(tmp_path / "out"), *args], waiting=clock.waiting())


@pytest.mark.parametrize("header", [True, False], ids=["retry-after", "body-only"])
def test_generate_says_the_gpus_are_starting_waits_as_asked_and_saves_the_images(
    api: StandIn, tmp_path: Path, capsys: pytest.CaptureFixture[str], header: bool
) -> None:
    api.script[("POST", "/text2image")] = [warming_up(30, header), warming_up(20, header), images(api)]
    clock = FakeClock()
    assert generate(api, clock, tmp_path) == 0
    assert clock.sleeps == [30, 20]
    assert len(api.posts("/text2image")) == 3
    assert (tmp_path / "out" / "r-1" / "0.jpeg").read_bytes() == JPEG
    err = capsys.readouterr().err
    assert "the GPUs are starting (about 30 s); trying again in 30 s, Ctrl-C stops" in err
    assert "the GPUs are starting (about 20 s); trying again in 20 s" in err


@pytest.mark.parametrize(
    ("retry_after", "options", "sleeps"),
    [
        (400, [], [400, 400, 400]),  # 3 x the estimate: 1200 s
        (100, [], [100] * 9),  # at least 15 minutes
        (30, ["--max-wait", "100"], [30, 30, 30, 10]),  # the option's limit, the last wait cut to it
    ],
    ids=["3x-estimate", "15-minutes", "max-wait"],
)
def test_generate_gives_up_after_the_limit_and_says_how_to_warm(
    api: StandIn, tmp_path: Path, capsys: pytest.CaptureFixture[str], retry_after: int, options: list[str], sleeps: list[float]
) -> None:
    api.script[("POST", "/text2image")] = [warming_up(retry_after)]
    clock = FakeClock()
    assert generate(api, clock, tmp_path, *options) == 1
    assert clock.sleeps == sleeps
    assert len(api.posts("/text2image")) == len(sleeps) + 1  # a last try at the limit
    err = capsys.readouterr().err
    assert "503 WarmingUp: the GPUs are starting" in err
    assert "image 0 on sd-1: EndpointCold" in err
    assert f"the GPUs are still starting: text2image warm --api {api.url} --wait, then try again" in err


@pytest.mark.parametrize(
    "failure",
    [
        Answer(502, {"error": "GenerationFailed", "message": "no image could be made", "errors": []}),
        Answer(503, {"message": "Service Unavailable"}, {"Retry-After": "5"}),  # a 503 that is not WarmingUp
    ],
    ids=["502", "other-503"],
)
def test_generate_tries_again_only_while_warming(api: StandIn, tmp_path: Path, failure: Answer) -> None:
    api.script[("POST", "/text2image")] = [failure, images(api)]
    clock = FakeClock()
    assert generate(api, clock, tmp_path) == 1
    assert clock.sleeps == []
    assert len(api.posts("/text2image")) == 1


def test_ctrl_c_while_waiting_stops_cleanly(api: StandIn, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    api.script[("POST", "/text2image")] = [warming_up(30), images(api)]
    clock = FakeClock()

    def interrupted(seconds: float) -> None:
        raise KeyboardInterrupt

    waiting = Waiting(sleep=interrupted, clock=lambda: clock.now)
    code = main(["generate", "a cat", "--sync", "--api", api.url, "--out", str(tmp_path / "out")], waiting=waiting)
    assert code == INTERRUPTED
    assert len(api.posts("/text2image")) == 1
    err = capsys.readouterr().err
    assert "stopped; nothing more is asked of the API" in err
    assert "Traceback" not in err


def job(api: StandIn, request_id: str, manifest: dict[str, Any]) -> Answer:
    """A 202 for a one-image job whose manifest is already written (the run has ended)."""
    api.script[("GET", f"/requests/{request_id}.json")] = [Answer(200, manifest)]
    return Answer(202, {"request_id": request_id, "status_url": f"{api.url}/requests/{request_id}.json", "images": [f"{api.url}/images/{request_id}/0.jpeg"]})


def test_a_job_that_found_the_gpus_cold_is_sent_again_once_they_should_be_warm(api: StandIn, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """On AWS a cold start outlasts the workflow's own wait: the job ends with every image EndpointCold."""
    cold_error = {"index": 0, "endpoint": "sd-1", "error": "EndpointCold", "message": "Inference Component has no capacity to process this request."}
    cold = {"request_id": "r-cold", "status": "failed", "images": [], "errors": [cold_error], "time": 200.0}
    made = {"index": 0, "url": f"{api.url}/images/r-1/0.jpeg", "endpoint": "sd-1", "seed": 7, "seconds": 0.5}
    done = {"request_id": "r-1", "status": "succeeded", "images": [made], "errors": [], "time": 2.0}
    api.script[("POST", "/text2image/jobs")] = [job(api, "r-cold", cold), job(api, "r-1", done)]
    api.script[("GET", "/config.json")] = [Answer(200, {"auth": None, "warm": {"coldStartSeconds": 420}})]
    clock = FakeClock()
    assert main(["generate", "a cat", "-n", "1", "--api", api.url, "--out", str(tmp_path / "out")], waiting=clock.waiting()) == 0
    assert clock.sleeps == [420] and len(api.posts("/text2image/jobs")) == 2
    err = capsys.readouterr().err
    assert "the GPUs are starting (about 420 s); trying again in 420 s, Ctrl-C stops" in err
    assert f"1 image(s) in 2.0 s, saved in {tmp_path / 'out' / 'r-1'}" in err


def test_a_job_lost_for_another_reason_is_not_sent_again(api: StandIn, tmp_path: Path) -> None:
    failed = {"request_id": "r-bad", "status": "failed", "images": [], "errors": [{"index": 0, "endpoint": "sd-1", "error": "ModelError", "message": "x"}]}
    api.script[("POST", "/text2image/jobs")] = [job(api, "r-bad", failed)]
    clock = FakeClock()
    assert main(["generate", "a cat", "-n", "1", "--api", api.url, "--out", str(tmp_path / "out")], waiting=clock.waiting()) == 1
    assert clock.sleeps == [] and len(api.posts("/text2image/jobs")) == 1


def warm_answer(*states: str, retry_after: int = 0) -> Answer:
    endpoints = [
        {"endpoint": name, "component": f"{name}-model", "state": state, "copies": 1 if state == "warm" else 0}
        for name, state in zip(ENDPOINTS, states, strict=True)
    ]
    return Answer(202, {"endpoints": endpoints, "retry_after": retry_after})


def warm(api: StandIn, clock: FakeClock, *args: str) -> int:
    return main(["warm", "--api", api.url, *args], waiting=clock.waiting())


def test_warm_prints_each_endpoints_state_once(api: StandIn, capsys: pytest.CaptureFixture[str]) -> None:
    api.script[("POST", "/text2image/warm")] = [warm_answer("warming", "warm", retry_after=420)]
    clock = FakeClock()
    assert warm(api, clock) == 0
    assert clock.sleeps == [] and len(api.posts("/text2image/warm")) == 1
    out, err = capsys.readouterr()
    assert out.splitlines() == [
        "sd-1  warming  (0 copies of sd-1-model)",
        "sd-2  warm  (1 copy of sd-2-model)",
        "about 420 s until the GPUs are warm",
    ]
    assert f"text2image warm --api {api.url} --wait" in err


def test_warm_wait_asks_again_until_every_endpoint_is_warm(api: StandIn, capsys: pytest.CaptureFixture[str]) -> None:
    api.script[("POST", "/text2image/warm")] = [
        warm_answer("warming", "warming", retry_after=12),
        warm_answer("warm", "warming", retry_after=7),
        warm_answer("warm", "warm"),
    ]
    clock = FakeClock()
    assert warm(api, clock, "--wait") == 0
    assert clock.sleeps == [4, pytest.approx(7 / 3)] and len(api.posts("/text2image/warm")) == 3  # a third of the time still needed
    out = capsys.readouterr().out
    assert "about 7 s until the GPUs are warm" in out
    assert out.splitlines()[-3:] == ["sd-1  warm  (1 copy of sd-1-model)", "sd-2  warm  (1 copy of sd-2-model)", "all endpoints are warm"]


@pytest.mark.parametrize(("retry_after", "poll"), [(420, 5.0), (12, 4.0), (3, 1.0), (1, 0.5), (0, 0.5)])
def test_warm_wait_asks_every_5_s_or_a_third_of_the_time_still_needed_when_shorter(retry_after: int, poll: float) -> None:
    """A local stack's copy may go idle seconds after it comes: it must be seen warm before."""
    assert warm_poll(retry_after) == pytest.approx(poll)


def test_warm_wait_gives_up_after_max_wait(api: StandIn, capsys: pytest.CaptureFixture[str]) -> None:
    api.script[("POST", "/text2image/warm")] = [warm_answer("warming", "warming", retry_after=420)]
    clock = FakeClock()
    assert warm(api, clock, "--wait", "--max-wait", "12") == 1
    assert clock.sleeps == [5, 5, 2]
    assert "the endpoints are not all warm yet" in capsys.readouterr().err


def test_warm_where_nothing_scales_to_zero_says_so(api: StandIn, capsys: pytest.CaptureFixture[str]) -> None:
    assert warm(api, FakeClock()) == 0  # the stand-in has no warm route: 404 NotFound, as such a stack answers
    assert capsys.readouterr().out == f"{api.url}: this stack's endpoints do not scale to zero: nothing to warm\n"


def test_warm_refused_for_want_of_sign_in_says_how_to_sign_in(api: StandIn, capsys: pytest.CaptureFixture[str]) -> None:
    api.script[("POST", "/text2image/warm")] = [Answer(401, {"error": "Unauthorized", "message": "sign in first"})]
    assert warm(api, FakeClock()) == 1
    assert f"sign in first: text2image login --api {api.url}" in capsys.readouterr().err


def test_warm_sends_the_stored_id_token(api: StandIn) -> None:
    TokenStore().put(api.url, Session("demo", "id-token-of-demo", "refresh", 2**40, "client", "http://127.0.0.1:9/"))
    api.script[("POST", "/text2image/warm")] = [warm_answer("warm", "warm")]
    assert warm(api, FakeClock()) == 0
    assert [seen.authorization for seen in api.posts("/text2image/warm")] == ["id-token-of-demo"]
