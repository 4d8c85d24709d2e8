"""The handlers called directly, with no AWS: what they decide before any call leaves the
function. Their calls to S3, SSM and SageMaker are tested in tests/integration."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

import pytest
from handler_events import CALL, call

from text2image.manifest import LAMBDAS

pytestmark = pytest.mark.usefixtures("lambda_env")


def test_prepare_plans_a_plain_request() -> None:
    import prepare

    plan = call(prepare, {"input": {"text": "a", "num_images": 3, "seed": 1}, "execution_name": "exec-1"})
    assert plan["request_id"] == "exec-1" and plan["origin"] == "request"
    # Each endpoint's whole share in one call (IMAGES_PER_CALL 0), consecutive indices per call.
    assert [[[i["index"] for i in c["images"]] for c in lane["calls"]] for lane in plan["lanes"]] == [[[0, 1]], [[2]]]


@pytest.mark.parametrize(("images_per_call", "calls"), [("1", [[[0], [2]], [[1]]]), ("2", [[[0, 1]], [[2]]])])
def test_prepare_deals_calls_of_the_configured_size(monkeypatch: pytest.MonkeyPatch, images_per_call: str, calls: list[Any]) -> None:
    import prepare

    monkeypatch.setenv("IMAGES_PER_CALL", images_per_call)
    plan = call(prepare, {"input": {"text": "a", "num_images": 3}, "execution_name": "exec-k"})
    assert [[[i["index"] for i in c["images"]] for c in lane["calls"]] for lane in plan["lanes"]] == calls


def test_prepare_fits_the_calls_to_the_endpoints_pixel_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    import prepare

    monkeypatch.setenv("MAX_PIXELS_PER_CALL", str(2 * 512 * 512))
    plan = call(prepare, {"input": {"text": "a", "num_images": 6, "width": 512, "height": 512}, "execution_name": "exec-p"})
    assert [[len(c["images"]) for c in lane["calls"]] for lane in plan["lanes"]] == [[2, 1], [2, 1]]


def test_prepare_refuses_an_image_larger_than_one_call_may_carry(monkeypatch: pytest.MonkeyPatch) -> None:
    import prepare
    from request_validation import ValidationError

    monkeypatch.setenv("MAX_PIXELS_PER_CALL", str(512 * 512))
    with pytest.raises(ValidationError) as raised:
        call(prepare, {"input": {"text": "a", "width": 768, "height": 512}, "execution_name": "exec-big"})
    assert json.loads(str(raised.value)) == {
        "error": "ValidationError",
        "message": "width: 768x512 = 393216 pixels is over the endpoints' 262144 pixels per call: ask for a smaller image",
        "field": "width",
    }


@pytest.mark.parametrize(
    ("variable", "value"), [("IMAGES_PER_CALL", "-1"), ("MAX_IMAGES_PER_CALL", "0"), ("MAX_PIXELS_PER_CALL", "lots"), ("MAX_IMAGES_PER_CALL", "²")]
)
def test_prepare_refuses_a_bad_call_setting_by_name(monkeypatch: pytest.MonkeyPatch, variable: str, value: str) -> None:
    import prepare

    monkeypatch.setenv(variable, value)
    with pytest.raises(ValueError, match=variable):
        prepare.Settings.from_env()


def test_prepare_refuses_with_the_field_in_the_message() -> None:
    import prepare
    from request_validation import ValidationError

    with pytest.raises(ValidationError) as raised:
        call(prepare, {"input": {"text": "a", "colour": "red"}, "execution_name": "exec-2"})
    assert json.loads(str(raised.value))["field"] == "colour"


@pytest.mark.parametrize("name", [None, "", 42, ["a"]], ids=["null", "empty", "number", "list"])
def test_prepare_refuses_an_unusable_execution_name_cleanly(name: Any) -> None:
    import prepare
    from request_validation import ValidationError

    with pytest.raises(ValidationError) as raised:
        call(prepare, {"input": {"text": "a"}, "execution_name": name})
    assert json.loads(str(raised.value))["field"] == "execution_name"
    with pytest.raises(ValidationError):
        call(prepare, {"input": {"text": "a"}})  # no name at all


def test_a_sync_run_does_not_wait_for_cold_endpoints_and_any_other_run_does(monkeypatch: pytest.MonkeyPatch) -> None:
    """The sync route's caller is answered at once (503 WarmingUp); a job waits COLD_WAIT_SECONDS."""
    import prepare

    sync = call(prepare, {"input": {"request": {"text": "a"}, "route": "sync"}, "execution_name": "exec-s"})
    assert sync["capacity_deadline"] == 0
    monkeypatch.setenv("COLD_WAIT_SECONDS", "90")
    prepare.get_settings.cache_clear()
    before = time.time()
    job = call(prepare, {"input": {"text": "a"}, "execution_name": "exec-j"})
    assert before + 90 <= job["capacity_deadline"] <= time.time() + 90


@pytest.mark.parametrize(
    ("images_per_call", "later_call", "calls", "wait"), [("0", "75", 1, 200), ("3", "75", 2, 125), ("1", "75", 4, 0), ("1", "6.5", 4, 180.5)]
)
def test_a_job_whose_lanes_make_several_calls_waits_less_for_cold_endpoints(
    monkeypatch: pytest.MonkeyPatch, images_per_call: str, later_call: str, calls: int, wait: float
) -> None:
    """Each call after the first in a lane may take 60 s plus a 15 s retry (LATER_CALL_SECONDS; a
    local stack's own): the run must still end within 300 s."""
    import prepare

    monkeypatch.setenv("IMAGES_PER_CALL", images_per_call)
    monkeypatch.setenv("LATER_CALL_SECONDS", later_call)
    before = time.time()
    job = call(prepare, {"input": {"text": "a", "num_images": 8}, "execution_name": "exec-w"})
    assert max(len(lane["calls"]) for lane in job["lanes"]) == calls
    assert before + wait <= job["capacity_deadline"] <= time.time() + wait


@pytest.mark.parametrize("value", ["-1", "soon", "nan", "inf"])
def test_prepare_refuses_a_bad_cold_wait(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    import prepare

    monkeypatch.setenv("COLD_WAIT_SECONDS", value)
    with pytest.raises(ValueError, match="COLD_WAIT_SECONDS must be 0 or more seconds"):
        prepare.Settings.from_env()


@pytest.mark.parametrize("value", ['["sd-1-model"]', '{"sd-1": ""}', '{"sd-1": 3}', "sd-1=sd-1-model"])
def test_invoke_endpoint_refuses_a_bad_component_list(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    import invoke_endpoint

    monkeypatch.setenv("INFERENCE_COMPONENTS", value)
    with pytest.raises(ValueError, match="INFERENCE_COMPONENTS must be a JSON object"):
        invoke_endpoint.Settings.from_env()


def test_the_endpoint_receives_the_jumpstart_contract_for_the_whole_call() -> None:
    """k images in one request, from the first image's seed: the endpoint makes image i with seed + i."""
    import invoke_endpoint

    assert invoke_endpoint.endpoint_payload(CALL) == {
        "prompt": 'a "quoted" flower',
        "negative_prompt": "",
        "width": 512,
        "height": 256,
        "num_inference_steps": 20,
        "guidance_scale": 7.5,
        "num_images_per_prompt": 2,
        "seed": 11,
    }


def test_error_messages_are_bounded() -> None:
    import collect_response

    assert len(collect_response.error_message("x" * 10_000)) == collect_response.MAX_ERROR_MESSAGE
    assert collect_response.error_message(None) == ""


def test_prepare_uses_the_configured_default_image_count(monkeypatch: pytest.MonkeyPatch) -> None:
    import prepare

    monkeypatch.setenv("DEFAULT_NUM_IMAGES", "2")
    plan = call(prepare, {"input": {"text": "a"}, "execution_name": "exec-3"})
    assert plan["request"]["num_images"] == 2
    plan = call(prepare, {"input": {"text": "a", "num_images": 5}, "execution_name": "exec-4"})
    assert plan["request"]["num_images"] == 5


def test_prepare_refuses_a_default_image_count_out_of_range(monkeypatch: pytest.MonkeyPatch) -> None:
    import prepare

    monkeypatch.setenv("DEFAULT_NUM_IMAGES", "17")
    with pytest.raises(ValueError, match="DEFAULT_NUM_IMAGES"):
        prepare.Settings.from_env()


@pytest.mark.parametrize("module", ["prepare", "invoke_endpoint", "collect"])
def test_settings_are_read_from_the_environment_at_the_first_use_and_kept(module: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Importing a handler needs no environment; its first use reads it, once per container."""
    handler = __import__(module)
    assert handler.get_settings().bucket == "unit-bucket"
    monkeypatch.setenv("BUCKET_NAME", "changed-after-the-cold-start")
    assert handler.get_settings().bucket == "unit-bucket"
    handler.get_settings.cache_clear()
    assert handler.get_settings().bucket == "changed-after-the-cold-start"


def test_a_handler_module_imports_with_no_configuration() -> None:
    """The Lambda folders import in a fresh interpreter with none of the functions' settings:
    tests and tools can load them without an environment (settings are read at first use)."""
    environment = {"PATH": "/usr/bin:/bin", "PYTHONPATH": ":".join(str(function.path) for function in LAMBDAS)}
    modules = ", ".join(function.handler.split(".")[0] for function in LAMBDAS)
    subprocess.run([sys.executable, "-c", f"import {modules}"], env=environment, check=True, timeout=120)
