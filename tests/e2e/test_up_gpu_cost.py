"""`text2image up --call-overhead C --latency T --images-per-call N --throttle-rate R` as a user
runs it: the banner states them, the overhead reaches the endpoints (a call it puts past the call
limit fails as SageMaker's would), the images per call reach the plan, the throttling the gateway."""

from __future__ import annotations

import json
import subprocess
import sys

from support import http, post_json

from text2image.deploy_settings import context_defaults
from text2image.local.process import LocalStackProcess
from text2image.throttling import stage_throttle


def test_the_banner_states_the_cost_and_a_call_past_the_limit_fails() -> None:
    with LocalStackProcess("--endpoints", "1", "--latency", "0.25", "--call-overhead", "1", "--invocation-limit", "0.5") as running:
        assert "sd-local-1; model preview, 1 s per call + 0.25 s per image; an endpoint's whole share per call" in running.banner
        status, answer = post_json(f"{running.url}/text2image", {"text": "a lighthouse", "num_images": 1, "width": 256, "height": 256})
    assert status == 502, answer
    assert [(e["endpoint"], e["error"]) for e in answer["errors"]] == [("sd-local-1", "ModelError")]
    assert "timed out" in answer["errors"][0]["message"] and "limit 0.5 s" in answer["errors"][0]["message"]


def test_a_negative_overhead_is_refused_before_anything_starts() -> None:
    out = subprocess.run([sys.executable, "-m", "text2image.cli", "up", "--port", "0", "--call-overhead", "-1"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and out.stderr == "text2image up: --call-overhead must be 0 or more seconds, not -1\n"


def test_images_per_call_reaches_the_plan() -> None:
    with LocalStackProcess("--endpoints", "2", "--images-per-call", "1") as running:
        assert "; up to 1 images per call (at most 16 images, 6291456 pixels)" in running.banner
        status, answer = post_json(f"{running.url}/text2image", {"text": "one by one", "num_images": 4, "width": 256, "height": 256})
        assert status == 200 and answer["errors"] == [], answer
        _, _, stats = http("GET", f"{running.url}/_local/stats", content_type=None)
    assert {name: endpoint["invocations"] for name, endpoint in json.loads(stats)["endpoints"].items()} == {"sd-local-1": 2, "sd-local-2": 2}


def test_a_negative_images_per_call_is_refused_before_anything_starts() -> None:
    out = subprocess.run([sys.executable, "-m", "text2image.cli", "up", "--port", "0", "--images-per-call", "-1"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert out.stderr == "text2image up: --images-per-call must be 0 (an endpoint's whole share in one call) or more, not -1\n"


def test_up_throttles_as_the_deployed_stage_unless_told_otherwise() -> None:
    deployed = stage_throttle(context_defaults())
    with LocalStackProcess("--endpoints", "1") as running:
        assert f"throttled at {deployed.rate:g}/s, burst {deployed.burst}, as the deployed stage" in running.banner
    with LocalStackProcess("--endpoints", "1", "--throttle-rate", "0.01", "--throttle-burst", "1") as running:
        request = {"text": "one only", "num_images": 1, "width": 256, "height": 256}
        assert post_json(f"{running.url}/text2image", request)[0] == 200
        status, answer = post_json(f"{running.url}/text2image", request)
    assert status == 429 and answer["error"] == "TooManyRequests"
