"""endpoint/code/inference.py on its own: loading, scheduler choice, limits before the GPU,
real conditioning on the prompt. The tiny pipeline goes through the real loading path."""

from __future__ import annotations

import base64
import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from text2image.local.containers import ContainerError, InferenceScriptContainer, endpoint_module

inference = endpoint_module("inference")
contract = endpoint_module("jumpstart_contract")
SMALL = {"prompt": "a cat", "width": 64, "height": 64, "num_inference_steps": 2, "seed": 9}


@pytest.fixture(scope="module")
def container(tiny_pipeline_dir: Path) -> InferenceScriptContainer:
    return InferenceScriptContainer(tiny_pipeline_dir)


def first_jpeg(container: InferenceScriptContainer, **request: Any) -> bytes:
    answer = json.loads(container.invoke(json.dumps({**SMALL, **request}).encode(), "application/json", "application/json;jpeg"))
    return base64.b64decode(answer["generated_images"][0])


def test_model_fn_loads_the_saved_pipeline_on_the_cpu_in_float32_with_sdpa_attention(container: InferenceScriptContainer) -> None:
    assert type(container.model.pipeline).__name__ == "StableDiffusionPipeline"
    assert container.model.device == "cpu" and str(container.model.pipeline.unet.dtype) == "torch.float32"
    # PyTorch's scaled_dot_product_attention in every attention layer of the UNet.
    assert {type(processor).__name__ for processor in container.model.pipeline.unet.attn_processors.values()} == {"AttnProcessor2_0"}


@pytest.mark.parametrize(("name", "chosen"), [("euler_a", "EulerAncestralDiscreteScheduler"), ("DPMSolverMultistepScheduler", "DPMSolverMultistepScheduler")])
def test_the_scheduler_is_chosen_by_name(tiny_pipeline_dir: Path, monkeypatch: pytest.MonkeyPatch, name: str, chosen: str) -> None:
    monkeypatch.setattr(inference, "SETTINGS", dataclasses.replace(inference.SETTINGS, scheduler=name))
    model = inference.model_fn(str(tiny_pipeline_dir))
    assert type(model.pipeline.scheduler).__name__ == chosen


def test_an_unknown_scheduler_is_refused_with_the_choices(tiny_pipeline_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(inference, "SETTINGS", dataclasses.replace(inference.SETTINGS, scheduler="fastest"))
    with pytest.raises(ValueError, match=r"unknown scheduler 'fastest'.*euler_a"):
        inference.model_fn(str(tiny_pipeline_dir))


def test_a_folder_without_a_model_is_refused_when_no_model_id_is_set(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"no model_index\.json.*SD_MODEL_ID"):
        inference.model_fn(str(tmp_path))


def test_a_bad_request_never_reaches_the_pipeline(container: InferenceScriptContainer, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Any] = []
    monkeypatch.setattr(inference, "predict_fn", lambda *args: calls.append(args))
    for bad in ({"width": 1000 * 8}, {"num_images_per_prompt": 17}, {"width": 2048, "height": 2048, "num_images_per_prompt": 2}):
        with pytest.raises(ContainerError) as caught:
            container.invoke(json.dumps({**SMALL, **bad}).encode(), "application/json", "application/json;jpeg")
        assert caught.value.status == 400
    assert calls == []


def test_limits_come_from_the_environment() -> None:
    limits = contract.Limits.from_env({"SD_MAX_IMAGES_PER_CALL": "2", "SD_MAX_PIXELS_PER_CALL": "100000"})
    assert (limits.max_images, limits.max_pixels, limits.max_side) == (2, 100000, 2048)
    with pytest.raises(contract.InvalidRequest, match=re.escape("num_images_per_prompt must be a whole number in 1..2")):
        contract.parse_request(json.dumps({**SMALL, "num_images_per_prompt": 3}), "application/json", limits)
    with pytest.raises(ValueError, match="SD_MAX_STEPS must be a positive whole number"):
        contract.Limits.from_env({"SD_MAX_STEPS": "many"})


def test_an_answer_over_sagemakers_6_mb_is_refused_with_what_to_ask_instead() -> None:
    big = Image.new("RGB", (768, 768), (250, 251, 252))  # as pixel rows: about 10 MB of JSON
    with pytest.raises(contract.InvalidRequest, match=r"over SageMaker's 6 MB per response: .*or Accept application/json;jpeg"):
        contract.encode_answer("big", [big], "application/json")
    assert len(contract.encode_answer("big", [big], "application/json;jpeg")) < contract.MAX_ANSWER_BYTES


def test_the_images_follow_the_prompt_and_the_negative_prompt(container: InferenceScriptContainer) -> None:
    cat = first_jpeg(container)
    assert first_jpeg(container, prompt="a flower") != cat
    assert first_jpeg(container, negative_prompt="blurry") != cat
    assert first_jpeg(container) == cat
