"""The JumpStart contract through the endpoint server, for every model it serves: the
preview renderer and the real diffusers handler (endpoint/code/inference.py) on a tiny
random-weight pipeline. Both must pass the same tests."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
from PIL import Image, ImageChops, ImageStat
from support import sagemaker_runtime

from text2image.local.containers import InferenceScriptContainer, endpoint_module
from text2image.local.endpoints import EndpointServer
from text2image.local.stack import container_factory

SMALL = {"prompt": "a cat", "width": 64, "height": 64, "num_inference_steps": 2}


@pytest.fixture(scope="module", params=["preview", "diffusers"])
def server(request: pytest.FixtureRequest) -> Iterator[EndpointServer]:
    model = "preview" if request.param == "preview" else f"diffusers:{request.getfixturevalue('tiny_pipeline_dir')}"
    running = EndpointServer(["sd-a"], container_factory(model, 0.0)).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def runtime(server: EndpointServer) -> Any:
    return sagemaker_runtime(server.url)


def invoke(runtime: Any, payload: dict[str, Any], accept: str | None = "application/json;jpeg", content_type: str = "application/json") -> dict[str, Any]:
    extra = {"Accept": accept} if accept else {}
    body = json.dumps(payload).encode() if content_type == "application/json" else str(payload["prompt"]).encode()
    answer = runtime.invoke_endpoint(EndpointName="sd-a", ContentType=content_type, Body=body, **extra)
    decoded: dict[str, Any] = json.loads(answer["Body"].read())
    return decoded


def images(answer: dict[str, Any]) -> list[Image.Image]:
    decoded = []
    for item in answer["generated_images"]:
        image = Image.open(io.BytesIO(base64.b64decode(item, validate=True)))
        assert image.format == "JPEG"
        decoded.append(image.convert("RGB"))
    return decoded


def mean_difference(a: Image.Image, b: Image.Image) -> float:
    """Mean absolute difference per channel, 0..255."""
    return sum(ImageStat.Stat(ImageChops.difference(a, b)).mean) / 3


def test_a_batch_answers_k_distinct_jpegs_of_the_asked_size(runtime: Any) -> None:
    answer = invoke(runtime, {**SMALL, "width": 128, "num_images_per_prompt": 3, "seed": 11})
    assert answer["prompt"] == "a cat"
    made = images(answer)
    assert [image.size for image in made] == [(128, 64)] * 3
    assert len({image.tobytes() for image in made}) == 3


def test_the_same_request_gives_the_same_bytes(runtime: Any) -> None:
    request = {**SMALL, "num_images_per_prompt": 2, "seed": 42}
    assert invoke(runtime, request) == invoke(runtime, request)


def test_image_i_of_a_batch_is_the_image_of_seed_plus_i(runtime: Any) -> None:
    batch = images(invoke(runtime, {**SMALL, "num_images_per_prompt": 3, "seed": 4294967294}))
    alone = [images(invoke(runtime, {**SMALL, "seed": seed}))[0] for seed in (4294967294, 4294967295, 0)]  # wraps mod 2^32
    for index in range(3):
        assert mean_difference(batch[index], alone[index]) < 1.0
    assert mean_difference(batch[0], batch[1]) > 1.0 and mean_difference(alone[1], alone[2]) > 1.0


def test_application_json_answers_rgb_pixel_rows_and_is_the_default(runtime: Any) -> None:
    request = {**SMALL, "seed": 3}
    rows = invoke(runtime, request, accept="application/json")["generated_images"]
    assert invoke(runtime, request, accept=None)["generated_images"] == rows  # no Accept: the container's host picks application/json
    pixels = rows[0]
    assert len(pixels) == 64 and len(pixels[0]) == 64 and all(len(p) == 3 and all(0 <= v <= 255 for v in p) for p in pixels[0])
    # The same image as the JPEG answer: those pixels, JPEG-encoded by the contract, are its bytes.
    decoded = Image.frombytes("RGB", (64, 64), bytes(v for row in pixels for p in row for v in p))
    reencoded = json.loads(endpoint_module("jumpstart_contract").encode_answer("a cat", [decoded], "application/json;jpeg"))
    assert reencoded["generated_images"] == invoke(runtime, request)["generated_images"]


@pytest.mark.parametrize(
    ("payload", "content_type", "accept", "says"),
    [
        ({**SMALL, "width": 65}, "application/json", None, "width must be a multiple of 8"),
        ({**SMALL, "height": 32}, "application/json", None, "height must be a whole number in 64..2048"),
        ({**SMALL, "width": "64"}, "application/json", None, "width must be a whole number"),
        ({**SMALL, "num_images_per_prompt": 0}, "application/json", None, "num_images_per_prompt must be a whole number in 1..16"),
        ({**SMALL, "num_inference_steps": 501}, "application/json", None, "num_inference_steps must be a whole number in 1..500"),
        ({**SMALL, "seed": -1}, "application/json", None, "seed must be a whole number in 0..4294967295"),
        ({**SMALL, "guidance_scale": -1}, "application/json", None, "guidance_scale must be a number of 0 or more"),
        ({**SMALL, "width": 2048, "height": 2048, "num_images_per_prompt": 2}, "application/json", None, "pixels is over this endpoint's"),
        ({**SMALL, "style": "oil"}, "application/json", None, "unknown field 'style'"),
        ({**SMALL, "prompt": " "}, "application/json", None, "prompt is required"),
        (SMALL, "text/csv", None, "Content-Type must be one of application/json, application/x-text"),
        (SMALL, "application/json", "image/png", "Accept must be one of application/json;jpeg, application/json"),
    ],
)
def test_bad_requests_get_the_containers_400_as_model_error(runtime: Any, payload: dict[str, Any], content_type: str, accept: str | None, says: str) -> None:
    extra = {"Accept": accept} if accept else {}
    with pytest.raises(runtime.exceptions.ModelError) as caught:
        runtime.invoke_endpoint(EndpointName="sd-a", ContentType=content_type, Body=json.dumps(payload).encode(), **extra)
    error = caught.value.response
    assert error["OriginalStatusCode"] == 400
    assert says in json.loads(error["OriginalMessage"])["message"]
    assert says in error["Error"]["Message"] and "Received client error (400) from primary" in error["Error"]["Message"]


def test_a_body_that_is_not_json_is_refused(runtime: Any) -> None:
    with pytest.raises(runtime.exceptions.ModelError, match="the body is not JSON"):
        runtime.invoke_endpoint(EndpointName="sd-a", ContentType="application/json", Body=b"{prompt")


def test_a_plain_text_body_is_the_prompt(server: EndpointServer, runtime: Any) -> None:
    if isinstance(server.containers["sd-a"], InferenceScriptContainer):
        # Every default (512 x 512, 50 steps) on the CPU would only slow the suite down: the
        # handler's own input_fn shows it reads the body as the prompt with those defaults.
        request = endpoint_module("inference").input_fn(b"a lighthouse at dusk", "application/x-text")
        assert (request.prompt, request.width, request.height, request.num_inference_steps) == ("a lighthouse at dusk", 512, 512, 50)
        return
    answer = invoke(runtime, {"prompt": "a lighthouse at dusk"}, content_type="application/x-text")
    assert answer["prompt"] == "a lighthouse at dusk" and [image.size for image in images(answer)] == [(512, 512)]
