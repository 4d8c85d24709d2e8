"""`text2image up --model diffusers:DIR`: real diffusers output through the whole workflow."""

from __future__ import annotations

import base64
import io
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageStat
from support import http, jpeg_dimensions, post_json

from text2image.local.containers import InferenceScriptContainer
from text2image.local.process import LocalStackProcess


@pytest.fixture(scope="module")
def up(tiny_pipeline_dir: Path) -> Iterator[LocalStackProcess]:
    with LocalStackProcess("--endpoints", "2", "--model", f"diffusers:{tiny_pipeline_dir}", "--retry-time-scale", "0.01") as running:
        yield running


def test_the_banner_names_the_model(up: LocalStackProcess, tiny_pipeline_dir: Path) -> None:
    assert f"model diffusers:{tiny_pipeline_dir}" in up.banner


def made_directly(handler: InferenceScriptContainer, seed: int, count: int) -> list[bytes]:
    """What the inference handler answers for one call of ``count`` images from ``seed``."""
    body = {"prompt": "a cat", "negative_prompt": "", "width": 256, "height": 256, "num_inference_steps": 2, "guidance_scale": 7.5}
    body |= {"seed": seed, "num_images_per_prompt": count}
    answer = json.loads(handler.invoke(json.dumps(body).encode(), "application/json", "application/json;jpeg"))
    return [base64.b64decode(image) for image in answer["generated_images"]]


def mean_pixel_difference(first: bytes, second: bytes) -> float:
    a, b = (Image.open(io.BytesIO(data)).convert("RGB") for data in (first, second))
    return sum(ImageStat.Stat(ImageChops.difference(a, b)).mean) / 3


def test_each_call_is_what_the_handler_makes_for_its_seeds(up: LocalStackProcess, tiny_pipeline_dir: Path) -> None:
    """One call per endpoint, of consecutive seeds: each image is byte for byte what the handler
    makes for that call, and what a call of that image alone makes up to float rounding (a batched
    matrix product sums in another order: measured 0.01-0.03 of 255 mean difference)."""
    request = {"text": "a cat", "width": 256, "height": 256, "num_inference_steps": 2, "num_images": 4, "seed": 7}
    status, answer = post_json(f"{up.url}/text2image", request)
    assert status == 200, answer
    assert [(image["endpoint"], image["seed"]) for image in answer["images"]] == [("sd-local-1", 7), ("sd-local-1", 8), ("sd-local-2", 9), ("sd-local-2", 10)]
    assert answer["errors"] == []
    stored = []
    for url in json.loads(answer["body"]):
        code, headers, data = http("GET", url, content_type=None)
        assert code == 200 and headers["Content-Type"] == "image/jpeg" and jpeg_dimensions(data) == (256, 256)
        stored.append(data)
    handler = InferenceScriptContainer(tiny_pipeline_dir)
    assert stored == made_directly(handler, 7, 2) + made_directly(handler, 9, 2)
    for seed, data in zip((7, 8, 9, 10), stored, strict=True):
        assert mean_pixel_difference(data, made_directly(handler, seed, 1)[0]) < 0.5


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
