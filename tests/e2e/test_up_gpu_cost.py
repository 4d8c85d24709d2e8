"""`text2image up --call-overhead C --latency T` as a user runs it: the banner states both, and
the overhead reaches the endpoints (a call it puts past the call limit fails as SageMaker's would)."""

from __future__ import annotations

from support import post_json

from text2image.local.process import LocalStackProcess


def test_the_banner_states_the_cost_and_a_call_past_the_limit_fails() -> None:
    with LocalStackProcess("--endpoints", "1", "--latency", "0.25", "--call-overhead", "1", "--invocation-limit", "0.5") as running:
        assert "sd-local-1; model preview, 1 s per call + 0.25 s per image\n" in running.banner
        status, answer = post_json(f"{running.url}/text2image", {"text": "a lighthouse", "num_images": 1, "width": 256, "height": 256})
    assert status == 502, answer
    assert [(e["endpoint"], e["error"]) for e in answer["errors"]] == [("sd-local-1", "ModelError")]
    assert "timed out" in answer["errors"][0]["message"] and "limit 0.5 s" in answer["errors"][0]["message"]
