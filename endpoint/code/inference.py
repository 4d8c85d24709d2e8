"""Stable Diffusion for the SageMaker Hugging Face PyTorch inference container.

The container's inference toolkit imports this module from ``code/`` of the model
artifact and calls ``model_fn`` once at start, then ``input_fn`` -> ``predict_fn`` ->
``output_fn`` for every request. An exception raised by any of them becomes the
container's 400 answer, which SageMaker Runtime hands to the caller as ``ModelError``
(424) with the message. ``text2image up --model diffusers:DIR`` runs this same module
the same way (text2image/local/containers.py).

Configuration (environment, read once):
- ``SD_MODEL_ID``: load this Hub model instead of the artifact's own files (not the
  toolkit's ``HF_MODEL_ID``: with that set, the toolkit fetches the model itself and never
  imports this module)
- ``SD_SCHEDULER``: scheduler by name (scheduler_choice.py); unset keeps the model's own
- ``SD_MAX_SIDE``, ``SD_MAX_IMAGES_PER_CALL``, ``SD_MAX_STEPS``, ``SD_MAX_PIXELS_PER_CALL``:
  limits checked before the GPU is touched (jumpstart_contract.py)
- ``SD_COMPILE=1`` with ``SD_COMPILE_SHAPES`` (``"512x512x4,768x512x2"``: width x height x
  images per call, compile_shapes.py): compile the UNet with torch.compile and warm each shape
  in ``model_fn``, so no request pays for compiling; off by default
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from diffusers import AutoPipelineForText2Image, DiffusionPipeline
from diffusers.utils import logging as diffusers_logging
from transformers.utils import logging as transformers_logging

from compile_shapes import VARIABLE as SHAPES_VARIABLE
from compile_shapes import parse_call_shapes
from jumpstart_contract import JSON, GenerationRequest, InvalidRequest, Limits, encode_answer, parse_request
from scheduler_choice import scheduler_class

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServingSettings:
    model_id: str | None
    scheduler: str | None
    limits: Limits
    warm_up: tuple[GenerationRequest, ...] = ()  # SD_COMPILE=1: one call per shape compiled at start

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> ServingSettings:
        limits = Limits.from_env(environ)
        return cls(
            model_id=environ.get("SD_MODEL_ID") or None,
            scheduler=environ.get("SD_SCHEDULER") or None,
            limits=limits,
            warm_up=warm_up_requests(environ, limits),
        )


def warm_up_requests(environ: Mapping[str, str], limits: Limits) -> tuple[GenerationRequest, ...]:
    """SD_COMPILE=1: the warm-up request of each SD_COMPILE_SHAPES shape, checked as any request
    is (a shape past the limits could never be asked for)."""
    switch = environ.get("SD_COMPILE", "")
    if switch not in ("", "0", "1"):
        raise ValueError(f"SD_COMPILE must be 1 (compile the UNet at start) or 0, not {switch!r}")
    if switch != "1":
        return ()
    text = environ.get(SHAPES_VARIABLE, "")
    if not text.strip():
        raise ValueError(f"SD_COMPILE=1 needs {SHAPES_VARIABLE}: the calls to compile at start, as in '512x512x4,768x512x2'")
    requests = []
    for shape in parse_call_shapes(text):
        try:
            requests.append(parse_request(shape.warm_up_body(), JSON, limits))
        except InvalidRequest as exc:
            raise ValueError(f"{SHAPES_VARIABLE}: {shape} is not a call this endpoint serves: {exc}") from None
    return tuple(requests)


SETTINGS = ServingSettings.from_env()


@dataclass
class LoadedModel:
    pipeline: DiffusionPipeline
    device: str
    compiled: bool = False  # the pipeline's UNet is compiled for SETTINGS.warm_up's shapes


@dataclass(frozen=True)
class Generated:
    prompt: str
    images: list[Any]  # PIL images, in seed order


def model_fn(model_dir: str, context: Any = None) -> LoadedModel:
    """The pipeline from the artifact (or SD_MODEL_ID): fp16 on a GPU, fp32 on CPU.
    diffusers uses PyTorch's scaled_dot_product_attention (SDPA) by default on torch 2."""
    source = SETTINGS.model_id or model_dir
    if not SETTINGS.model_id and not (Path(model_dir) / "model_index.json").is_file():
        raise ValueError(f"no diffusers model in {model_dir} (no model_index.json): pack one into the artifact or set SD_MODEL_ID")
    cuda = torch.cuda.is_available()
    diffusers_logging.disable_progress_bar()
    transformers_logging.disable_progress_bar()
    pipeline = AutoPipelineForText2Image.from_pretrained(
        source,
        torch_dtype=torch.float16 if cuda else torch.float32,
        # accelerate (requirements.txt) loads weights straight into place; without it, say so
        # instead of letting diffusers warn on every load.
        low_cpu_mem_usage=importlib.util.find_spec("accelerate") is not None,
    )
    if SETTINGS.scheduler:
        pipeline.scheduler = scheduler_class(SETTINGS.scheduler).from_config(pipeline.scheduler.config)
    pipeline.set_progress_bar_config(disable=True)
    device = "cuda" if cuda else "cpu"
    if cuda:
        torch.backends.cuda.matmul.allow_tf32 = True
    pipeline.to(device)
    logger.info("loaded %s from %s on %s with %s", type(pipeline).__name__, source, device, type(pipeline.scheduler).__name__)
    if SETTINGS.warm_up:
        compile_and_warm(pipeline, SETTINGS.warm_up)
    return LoadedModel(pipeline, device, compiled=bool(SETTINGS.warm_up))


def compile_unet(unet: Any) -> Any:
    """The UNet as compiled for the README's H100 figures: channels_last, inductor's kernels
    replayed as CUDA graphs (mode reduce-overhead), one static graph per call shape (CUDA graphs
    are per shape anyway). The compiled module wraps this UNet: its weights are not copied.
    Tests replace this function: inductor takes minutes on even a tiny UNet on a CPU."""
    return torch.compile(unet.to(memory_format=torch.channels_last), mode="reduce-overhead", dynamic=False)


def compile_and_warm(pipeline: DiffusionPipeline, warm_up: tuple[GenerationRequest, ...]) -> None:
    """Compile the UNet and run each warm-up call through it, so that every shape is compiled
    and its CUDA graph recorded before the first request."""
    pipeline.unet = compile_unet(pipeline.unet)
    for request in warm_up:
        started = time.perf_counter()
        generate(pipeline, request)
        shape = f"{request.width}x{request.height}x{request.num_images_per_prompt}"
        logger.info("compiled and warmed the UNet for %s calls in %.1f s", shape, time.perf_counter() - started)


def input_fn(input_data: str | bytes, content_type: str, context: Any = None) -> GenerationRequest:
    return parse_request(input_data, content_type, SETTINGS.limits)


def predict_fn(request: GenerationRequest, model: LoadedModel, context: Any = None) -> Generated:
    """One batched call for all images. With a compiled UNet, a call whose UNet inputs were
    warmed at start runs the compiled code; any other (another shape, or guidance_scale <= 1,
    which leaves classifier-free guidance's half of the UNet batch out) runs the same UNet
    eagerly: TorchDynamo's guards choose, and compiling here would take about a minute, past
    SageMaker's 60 s per invocation."""
    compiled_only = torch.compiler.set_stance("eager_on_recompile") if model.compiled else contextlib.nullcontext()
    with compiled_only:
        return Generated(request.prompt, generate(model.pipeline, request))


def generate(pipeline: DiffusionPipeline, request: GenerationRequest) -> list[Any]:
    """The request's images (PIL, in seed order). Each image gets its own CPU generator seeded
    with seed + i: the starting noise is then the same on any hardware, and image i of a batch
    starts from what a single call with seed + i would."""
    generators = [torch.Generator(device="cpu").manual_seed(seed) for seed in request.seeds]
    with torch.inference_mode():
        result = pipeline(
            prompt=request.prompt,
            negative_prompt=request.negative_prompt or None,
            width=request.width,
            height=request.height,
            num_inference_steps=request.num_inference_steps,
            guidance_scale=request.guidance_scale,
            num_images_per_prompt=request.num_images_per_prompt,
            generator=generators,
            output_type="pil",
        )
    return list(result.images)


def output_fn(prediction: Generated, accept: str, context: Any = None) -> bytes:
    return encode_answer(prediction.prompt, prediction.images, accept)
