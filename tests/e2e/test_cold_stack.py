"""`text2image up --scale-to-zero 2 --cold-start 3` (issue 15's acceptance), in its own process:
endpoints that drop to zero copies when idle answer SageMaker's no-capacity error; the sync route
says 503 WarmingUp at once with Retry-After and loses nothing; a job started while cold completes
once the endpoints are back; POST /text2image/warm brings them back ahead of use."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import UNTHROTTLED, endpoint_stats, http, jpeg_dimensions, post_json, run_cli, wait_for_endpoints, wait_until

from text2image.local.process import LocalStackProcess

IDLE, COLD_START = 2, 3
SMALL = {"text": "a cold start", "width": 256, "height": 256}


@pytest.fixture(scope="module")
def cold_stack() -> Iterator[LocalStackProcess]:
    # As the acceptance writes it (no --retry-time-scale): up fits the Retry intervals to the idle
    # window, so a job calls a warming endpoint every 1 s and waits up to 13 s.
    with LocalStackProcess("--scale-to-zero", str(IDLE), "--cold-start", str(COLD_START), *UNTHROTTLED) as process:
        yield process


def wait_for_state(url: str, state: str) -> None:
    """Every endpoint in ``state``: cold after IDLE s without a call, warm COLD_START s after it was asked."""
    wait_for_endpoints(url, state, timeout=IDLE + COLD_START + 30)


def get(url: str) -> tuple[int, bytes]:
    status, _, body = http("GET", url, content_type=None)
    return status, body


def test_the_banner_says_the_endpoints_scale_to_zero(cold_stack: LocalStackProcess) -> None:
    assert f"scale to zero after {IDLE:g} s idle; a cold start takes {COLD_START:g} s; a job calls a warming endpoint every 1 s" in cold_stack.banner


def test_a_sync_request_to_cold_endpoints_answers_503_warming_up_at_once_and_loses_nothing(cold_stack: LocalStackProcess) -> None:
    url = cold_stack.url
    wait_for_state(url, "cold")
    refused_before = sum(e["cold_refusals"] for e in endpoint_stats(url).values())
    status, headers, body = http("POST", f"{url}/text2image", json.dumps(SMALL).encode())
    answer = json.loads(body)
    assert (status, answer["error"], headers["Retry-After"], answer["retry_after"]) == (503, "WarmingUp", str(COLD_START), COLD_START)
    assert sorted(e["index"] for e in answer["errors"]) == [0, 1, 2, 3] and {e["error"] for e in answer["errors"]} == {"EndpointCold"}
    assert "Inference Component has no capacity" in answer["errors"][0]["message"]
    # Nothing half-written: no image under the planned keys, the manifest says failed and why.
    request_id = answer["request_id"]
    assert all(get(f"{url}/images/{request_id}/{i}.jpeg")[0] == 404 for i in range(4))
    status, manifest = get(f"{url}/requests/{request_id}.json")
    assert status == 200 and json.loads(manifest)["status"] == "failed"
    # The refused calls started the endpoints (the NoCapacityInvocationFailures alarm on AWS).
    stats = endpoint_stats(url)
    assert sum(e["cold_refusals"] for e in stats.values()) == refused_before + 2 and {e["state"] for e in stats.values()} == {"warming"}
    wait_for_state(url, "warm")
    status, images = post_json(f"{url}/text2image", SMALL)
    assert status == 200 and len(images["images"]) == 4 and images["errors"] == []


def test_a_job_started_while_cold_completes_once_the_endpoints_are_back(cold_stack: LocalStackProcess) -> None:
    url = cold_stack.url
    wait_for_state(url, "cold")
    status, job = post_json(f"{url}/text2image/jobs", {**SMALL, "num_images": 3})
    assert status == 202
    wait_until(lambda: get(job["status_url"])[0] == 200, "the job's manifest", timeout=COLD_START + 30)
    manifest = json.loads(get(job["status_url"])[1])
    assert manifest["status"] == "succeeded" and [i["url"] for i in manifest["images"]] == job["images"]
    for image in job["images"]:
        status, data = get(image)
        assert status == 200 and jpeg_dimensions(data) == (256, 256)
    assert all(e["cold_refusals"] >= 1 for e in endpoint_stats(url).values())


def test_warming_brings_cold_endpoints_back_ahead_of_use(cold_stack: LocalStackProcess) -> None:
    url = cold_stack.url
    wait_for_state(url, "cold")
    refused = sum(e["cold_refusals"] for e in endpoint_stats(url).values())
    status, headers, body = http("POST", f"{url}/text2image/warm", b"{}")
    answer = json.loads(body)
    assert (status, headers["Retry-After"], answer["retry_after"]) == (202, str(COLD_START), COLD_START)
    assert [(e["endpoint"], e["component"], e["state"]) for e in answer["endpoints"]] == [
        ("sd-local-1", "sd-local-1-model", "warming"),
        ("sd-local-2", "sd-local-2-model", "warming"),
    ]
    # Asked again while warming: nothing changes; once warm, it says so.
    assert json.loads(http("POST", f"{url}/text2image/warm", b"{}")[2])["endpoints"][0]["state"] == "warming"
    wait_until(lambda: json.loads(http("POST", f"{url}/text2image/warm", b"{}")[2])["retry_after"] == 0, "warm", timeout=COLD_START + 30)
    status, images = post_json(f"{url}/text2image", SMALL)
    assert status == 200 and len(images["images"]) == 4
    assert sum(e["cold_refusals"] for e in endpoint_stats(url).values()) == refused  # warmed without a refused call
    _, config = get(f"{url}/config.json")
    assert json.loads(config)["warm"] == {"coldStartSeconds": COLD_START}


def test_text2image_warm_wait_sees_the_endpoints_warm_though_they_idle_in_2_s(cold_stack: LocalStackProcess, tmp_path: Path) -> None:
    """The CLI asks again every third of the cold start here (1 s), not every 5 s: a copy that comes
    is seen before it goes idle again."""
    url = cold_stack.url
    wait_for_state(url, "cold")
    out = run_cli(url, tmp_path, "warm", "--wait", "--max-wait", "30")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[-1] == "all endpoints are warm"
    assert "sd-local-1  warm  (1 copy of sd-local-1-model)" in out.stdout
