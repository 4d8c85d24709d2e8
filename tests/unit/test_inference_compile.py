"""SD_COMPILE: the UNet compiled and warmed in model_fn for the configured call shapes, so no
request pays for compiling. Inductor on a CPU takes minutes even for the tiny UNet, so these
tests compile with TorchDynamo and a recording backend that runs the captured graph as is:
what is compiled, when, and which calls run the compiled graph are the real ones."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from text2image.local.containers import endpoint_module
from text2image.paths import REQUEST_SCHEMA

inference = endpoint_module("inference")
contract = endpoint_module("jumpstart_contract")
shapes = endpoint_module("compile_shapes")
SHAPES = "64x64x1,72x64x2"


class RecordingCompiler:
    """torch.compile with a backend that counts the graphs it compiles and the calls that run them."""

    def __init__(self) -> None:
        self.compiled = 0
        self.calls = 0

    def backend(self, graph: torch.fx.GraphModule, example_inputs: list[Any]) -> Callable[..., Any]:
        self.compiled += 1

        def run(*args: Any) -> Any:
            self.calls += 1
            return graph.forward(*args)

        return run

    def __call__(self, unet: Any) -> Any:
        return torch.compile(unet, backend=self.backend, dynamic=False)

    def counts(self) -> tuple[int, int]:
        return self.compiled, self.calls


def settings(**environ: str) -> Any:
    return inference.ServingSettings.from_env(environ)


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture(scope="module")
def compiled(tiny_pipeline_dir: Path) -> Iterator[tuple[Any, RecordingCompiler, list[str]]]:
    """The tiny pipeline loaded with SD_COMPILE=1 for SHAPES, its compiler, and what model_fn logged."""
    compiler, logged, level = RecordingCompiler(), Lines(), inference.logger.level
    inference.logger.addHandler(logged)
    inference.logger.setLevel(logging.INFO)
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(inference, "compile_unet", compiler)
            patch.setattr(inference, "SETTINGS", settings(SD_COMPILE="1", SD_COMPILE_SHAPES=SHAPES))
            model = inference.model_fn(str(tiny_pipeline_dir))
    finally:
        inference.logger.removeHandler(logged)
        inference.logger.setLevel(level)
    yield model, compiler, logged.lines
    torch._dynamo.reset()  # compiled code is cached on the UNet's forward, shared by every UNet


@pytest.fixture(scope="module")
def eager(tiny_pipeline_dir: Path) -> Any:
    return inference.model_fn(str(tiny_pipeline_dir))


def request(**fields: Any) -> Any:
    return contract.GenerationRequest(**{"prompt": "a cat", "width": 64, "height": 64, "num_inference_steps": 2, "seed": 9, **fields})


def jpegs(model: Any, call: Any) -> bytes:
    answer: bytes = inference.output_fn(inference.predict_fn(call, model), "application/json;jpeg")
    return answer


def test_compiling_is_off_by_default(tiny_pipeline_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert settings().warm_up == () and settings(SD_COMPILE="0", SD_COMPILE_SHAPES=SHAPES).warm_up == ()
    assert inference.SETTINGS.warm_up == ()  # this process's environment sets nothing

    def refuse(unet: Any) -> Any:
        raise AssertionError("compiled with SD_COMPILE unset")

    monkeypatch.setattr(inference, "compile_unet", refuse)
    model = inference.model_fn(str(tiny_pipeline_dir))
    assert not model.compiled and type(model.pipeline.unet).__name__ == "UNet2DConditionModel"


def test_every_shape_is_compiled_and_warmed_in_model_fn(compiled: tuple[Any, RecordingCompiler, list[str]]) -> None:
    model, compiler, logged = compiled
    assert model.compiled and isinstance(model.pipeline.unet, torch._dynamo.eval_frame.OptimizedModule)
    # One graph per shape, each run for every warm-up step (compile, record a CUDA graph, replay).
    assert compiler.counts() == (2, 2 * shapes.WARM_STEPS)
    assert [line.split(" calls in ")[0] for line in logged if line.startswith("compiled")] == [
        "compiled and warmed the UNet for 64x64x1",
        "compiled and warmed the UNet for 72x64x2",
    ]


@pytest.mark.parametrize("call", [request(), request(width=72, num_images_per_prompt=2, seed=4)], ids=["64x64x1", "72x64x2"])
def test_a_warmed_shape_runs_the_compiled_unet_without_compiling(compiled: tuple[Any, RecordingCompiler, list[str]], call: Any) -> None:
    model, compiler, _ = compiled
    graphs, calls = compiler.counts()
    inference.predict_fn(call, model)
    assert compiler.counts() == (graphs, calls + call.num_inference_steps)


@pytest.mark.parametrize(
    "call",
    [request(width=80), request(num_images_per_prompt=3), request(guidance_scale=1.0)],
    ids=["another size", "more images", "no classifier-free guidance (half the UNet batch)"],
)
def test_any_other_call_runs_the_unet_eagerly_without_compiling(compiled: tuple[Any, RecordingCompiler, list[str]], call: Any) -> None:
    model, compiler, _ = compiled
    before = compiler.counts()
    assert len(inference.predict_fn(call, model).images) == call.num_images_per_prompt
    assert compiler.counts() == before


@pytest.mark.parametrize("call", [request(width=72, num_images_per_prompt=2, seed=4), request(width=80)], ids=["warmed", "not warmed"])
def test_the_images_are_those_of_the_eager_unet(compiled: tuple[Any, RecordingCompiler, list[str]], eager: Any, call: Any) -> None:
    assert jpegs(compiled[0], call) == jpegs(eager, call)


@pytest.mark.parametrize(
    ("environ", "complaint"),
    [
        ({"SD_COMPILE": "yes"}, "SD_COMPILE must be 1 .* not 'yes'"),
        ({"SD_COMPILE": "1"}, "SD_COMPILE=1 needs SD_COMPILE_SHAPES"),
        ({"SD_COMPILE": "1", "SD_COMPILE_SHAPES": " "}, "SD_COMPILE=1 needs SD_COMPILE_SHAPES"),
        ({"SD_COMPILE": "1", "SD_COMPILE_SHAPES": "512x512"}, r"SD_COMPILE_SHAPES: '512x512' is not WIDTHxHEIGHTxIMAGES"),
        ({"SD_COMPILE": "1", "SD_COMPILE_SHAPES": "512x512x4,"}, r"SD_COMPILE_SHAPES: '' is not WIDTHxHEIGHTxIMAGES"),
        ({"SD_COMPILE": "1", "SD_COMPILE_SHAPES": "512x512x0"}, r"SD_COMPILE_SHAPES: '512x512x0' is not .* positive whole numbers"),
        ({"SD_COMPILE": "1", "SD_COMPILE_SHAPES": "512X512X4"}, r"SD_COMPILE_SHAPES: '512X512X4' is not"),
        ({"SD_COMPILE": "1", "SD_COMPILE_SHAPES": "512x512x4, 512x512x4"}, "SD_COMPILE_SHAPES: 512x512x4 is named twice"),
        ({"SD_COMPILE": "1", "SD_COMPILE_SHAPES": ",".join(f"512x512x{k}" for k in range(1, 10))}, "SD_COMPILE_SHAPES: 9 shapes, at most 8"),
        (
            {"SD_COMPILE": "1", "SD_COMPILE_SHAPES": "4096x512x1"},
            r"SD_COMPILE_SHAPES: 4096x512x1 is not a call this endpoint serves: width must be .* 64\.\.2048",
        ),
        ({"SD_COMPILE": "1", "SD_COMPILE_SHAPES": "512x500x1"}, "SD_COMPILE_SHAPES: 512x500x1 .* height must be a multiple of 8"),
        (
            {"SD_COMPILE": "1", "SD_COMPILE_SHAPES": "512x512x4", "SD_MAX_PIXELS_PER_CALL": "1000000"},
            "SD_COMPILE_SHAPES: 512x512x4 .* over this endpoint's 1000000 per call",
        ),
        (
            {"SD_COMPILE": "1", "SD_COMPILE_SHAPES": "512x512x4", "SD_MAX_IMAGES_PER_CALL": "2"},
            r"SD_COMPILE_SHAPES: 512x512x4 .* num_images_per_prompt .* 1\.\.2",
        ),
    ],
)
def test_a_bad_compile_setting_is_refused_by_name(environ: dict[str, str], complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        settings(**environ)


def test_the_shapes_are_warmed_as_the_requests_they_stand_for() -> None:
    (small, wide) = settings(SD_COMPILE="1", SD_COMPILE_SHAPES="512x512x4, 768x512x2").warm_up
    assert (small.width, small.height, small.num_images_per_prompt, wide.width, wide.num_images_per_prompt) == (512, 512, 4, 768, 2)
    # The default request's guidance (classifier-free guidance on): the UNet batch of the calls the workflow makes.
    assert small.guidance_scale == json.loads(REQUEST_SCHEMA.read_text(encoding="utf-8"))["properties"]["guidance_scale"]["default"] > 1
    assert small.num_inference_steps == shapes.WARM_STEPS
