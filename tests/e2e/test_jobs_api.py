"""POST /text2image/jobs: 202 at once, planned URLs that answer as their images are written,
the manifest at status_url once the run ends."""

from __future__ import annotations

import json
from typing import Any

import pytest
from support import CORPUS, http, invocations, jpeg_dimensions, post_json, wait_until

from text2image.local.stack import LocalStack


def status(url: str, method: str = "GET") -> int:
    return http(method, url, content_type=None)[0]


def test_a_job_answers_202_with_planned_urls_that_fill_in_as_images_are_written(clean_stack: LocalStack) -> None:
    lane_one = clean_stack.endpoints.endpoints["sd-local-1"].lock
    lane_one.acquire()  # hold endpoint sd-local-1 busy: its call (images 0, 1) cannot be made yet
    try:
        code, job = post_json(f"{clean_stack.gateway.url}/text2image/jobs", {"text": "a job", "seed": 3})
        assert code == 202
        base = clean_stack.gateway.url
        assert job["status_url"] == f"{base}/requests/{job['request_id']}.json"
        assert job["images"] == [f"{base}/images/{job['request_id']}/{i}.jpeg" for i in range(4)]
        wait_until(lambda: all(status(job["images"][i], "HEAD") == 200 for i in (2, 3)), "sd-local-2's images")
        assert [status(job["images"][i], "HEAD") for i in (0, 1)] == [404, 404]
        assert status(job["status_url"]) == 404
    finally:
        lane_one.release()
    wait_until(lambda: status(job["status_url"]) == 200, "the manifest")
    _, _, body = http("GET", job["status_url"], content_type=None)
    manifest = json.loads(body)
    assert manifest["status"] == "succeeded" and [i["url"] for i in manifest["images"]] == job["images"]
    for url in job["images"]:
        _, _, data = http("GET", url, content_type=None)
        assert jpeg_dimensions(data) == (768, 512)


def test_an_image_tells_its_endpoint_seed_and_seconds_in_its_headers(clean_stack: LocalStack) -> None:
    _, job = post_json(f"{clean_stack.gateway.url}/text2image/jobs", {"text": "meta", "num_images": 2, "seed": 40})
    wait_until(lambda: status(job["status_url"]) == 200, "the manifest")
    code, headers, body = http("HEAD", job["images"][1], content_type=None)
    assert code == 200 and body == b""
    meta = {k.lower(): v for k, v in headers.items()}
    assert meta["x-amz-meta-endpoint"] == "sd-local-2" and meta["x-amz-meta-seed"] == "41" and meta["x-amz-meta-index"] == "1"
    assert float(meta["x-amz-meta-seconds"]) >= 0 and meta["content-type"] == "image/jpeg"


def test_the_job_plans_the_default_number_of_images(clean_stack: LocalStack) -> None:
    _, job = post_json(f"{clean_stack.gateway.url}/text2image/jobs", {"text": "default count"})
    assert len(job["images"]) == clean_stack.gateway.config.default_num_images == 4
    wait_until(lambda: status(job["status_url"]) == 200, "the manifest")


@pytest.mark.parametrize("case", CORPUS["invalid"][:12], ids=[c["name"] for c in CORPUS["invalid"][:12]])
def test_the_jobs_route_refuses_what_the_sync_route_refuses(clean_stack: LocalStack, case: dict[str, Any]) -> None:
    sync = post_json(f"{clean_stack.gateway.url}/text2image", case["request"])
    job = post_json(f"{clean_stack.gateway.url}/text2image/jobs", case["request"])
    assert sync == job and job[0] == 400 and job[1]["field"] == case["field"]
    assert invocations(clean_stack) == {"sd-local-1": 0, "sd-local-2": 0}


def test_a_failed_job_records_why_in_its_manifest(clean_stack: LocalStack) -> None:
    for name in ("sd-local-1", "sd-local-2"):
        clean_stack.endpoints.set_fault(name, "error")
    _, job = post_json(f"{clean_stack.gateway.url}/text2image/jobs", {"text": "doomed", "num_images": 2})
    wait_until(lambda: status(job["status_url"]) == 200, "the manifest")
    manifest = json.loads(http("GET", job["status_url"], content_type=None)[2])
    assert manifest["status"] == "failed" and [e["error"] for e in manifest["errors"]] == ["ModelError", "ModelError"]
    assert [status(url, "HEAD") for url in job["images"]] == [404, 404]
