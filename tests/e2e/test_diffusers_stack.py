"""`text2image up --model diffusers:DIR`: real diffusers output through the whole workflow."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import http, jpeg_dimensions, post_json

from text2image.local.containers import InferenceScriptContainer
from text2image.local.process import LocalStackProcess


@pytest.fixture(scope="module")
def up(tiny_pipeline_dir: Path) -> Iterator[LocalStackProcess]:
    with LocalStackProcess("--endpoints", "2", "--model", f"diffusers:{tiny_pipeline_dir}", "--retry-time-scale", "0.01") as running:
        yield running


def test_the_banner_names_the_model(up: LocalStackProcess, tiny_pipeline_dir: Path) -> None:
    assert f"model diffusers:{tiny_pipeline_dir}" in up.banner


def test_each_image_is_what_the_handler_makes_for_its_seed(up: LocalStackProcess, tiny_pipeline_dir: Path) -> None:
    request = {"text": "a cat", "width": 256, "height": 256, "num_inference_steps": 2, "num_images": 4, "seed": 7}
    status, answer = post_json(f"{up.url}/text2image", request)
    assert status == 200, answer
    assert {image["endpoint"] for image in answer["images"]} == {"sd-local-1", "sd-local-2"} and answer["errors"] == []
    handler = InferenceScriptContainer(tiny_pipeline_dir)
    for image, url in zip(answer["images"], json.loads(answer["body"]), strict=True):
        code, headers, data = http("GET", url, content_type=None)
        assert code == 200 and headers["Content-Type"] == "image/jpeg" and jpeg_dimensions(data) == (256, 256)
        direct = {"prompt": "a cat", "negative_prompt": "", "width": 256, "height": 256, "num_inference_steps": 2, "guidance_scale": 7.5, "seed": image["seed"]}
        expected = json.loads(handler.invoke(json.dumps(direct).encode(), "application/json", "application/json;jpeg"))["generated_images"][0]
        assert data == base64.b64decode(expected)
    assert [image["seed"] for image in answer["images"]] == [7, 8, 9, 10]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--model", "diffusers:/nonexistent/model"], "is not a diffusers model folder"),
        (["--model", "stable-diffusion"], "unknown model 'stable-diffusion'"),
        (["--model", "diffusers:.", "--latency", "1"], "--latency applies to the preview model only"),
    ],
)
def test_bad_model_options_are_refused_with_a_message(args: list[str], says: str) -> None:
    out = subprocess.run([sys.executable, "-m", "text2image.cli", "up", "--port", "0", *args], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and says in out.stderr
