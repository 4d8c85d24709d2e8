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
"""

from __future__ import annotations

import importlib.util
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from diffusers import AutoPipelineForText2Image, DiffusionPipeline
from diffusers.utils import logging as diffusers_logging
from transformers.utils import logging as transformers_logging

from jumpstart_contract import GenerationRequest, Limits, encode_answer, parse_request
from scheduler_choice import scheduler_class

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServingSettings:
    model_id: str | None
    scheduler: str | None
    limits: Limits

    @classmethod
    def from_env(cls) -> ServingSettings:
        return cls(
            model_id=os.environ.get("SD_MODEL_ID") or None,
            scheduler=os.environ.get("SD_SCHEDULER") or None,
            limits=Limits.from_env(),
        )


SETTINGS = ServingSettings.from_env()


@dataclass
class LoadedModel:
    pipeline: DiffusionPipeline
    device: str


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
    return LoadedModel(pipeline, device)


def input_fn(input_data: str | bytes, content_type: str, context: Any = None) -> GenerationRequest:
    return parse_request(input_data, content_type, SETTINGS.limits)


def predict_fn(request: GenerationRequest, model: LoadedModel, context: Any = None) -> Generated:
    """One batched call for all images. Each image gets its own CPU generator seeded with
    seed + i: the starting noise is then the same on any hardware, and image i of a batch
    starts from what a single call with seed + i would."""
    generators = [torch.Generator(device="cpu").manual_seed(seed) for seed in request.seeds]
    with torch.inference_mode():
        result = model.pipeline(
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
    return Generated(request.prompt, list(result.images))


def output_fn(prediction: Generated, accept: str, context: Any = None) -> bytes:
    return encode_answer(prediction.prompt, prediction.images, accept)
