"""The JumpStart Stable Diffusion contract: request parsing with limits, answer encoding.

Plain Python and Pillow, no torch: the same module checks every request before a GPU is
touched on SageMaker, and serves the local ``preview`` model, so both speak one contract.

Request (``application/json``)::

    {"prompt", "negative_prompt", "width", "height", "num_inference_steps",
     "guidance_scale", "num_images_per_prompt", "seed"}

``application/x-text`` takes the body as the prompt with every default. Image i of a call
uses seed + i (mod 2^32). Answers: ``Accept: application/json;jpeg`` gives
``{"generated_images": [<base64 JPEG>, ...], "prompt"}``; ``application/json`` gives the
images as rows of ``[r, g, b]`` pixels, as JumpStart does.
"""

from __future__ import annotations

import base64
import io
import json
import math
import os
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

JSON = "application/json"
JSON_JPEG = "application/json;jpeg"
TEXT = "application/x-text"
ACCEPTS = (JSON_JPEG, JSON)
CONTENT_TYPES = (JSON, TEXT)
JPEG_QUALITY = 90
SEED_SPACE = 2**32
MAX_ANSWER_BYTES = 6 * 1024 * 1024  # SageMaker's limit on an invocation's response body
FIELDS = ("prompt", "negative_prompt", "width", "height", "num_inference_steps", "guidance_scale", "num_images_per_prompt", "seed")


class InvalidRequest(ValueError):
    """The request cannot be served; the message names the field and why."""


@dataclass(frozen=True)
class Limits:
    """What one call may ask for. The pixel budget (width x height x images) is what decides
    whether a batch fits in GPU memory, so it is checked before generating anything."""

    min_side: int = 64
    max_side: int = 2048
    max_images: int = 16
    max_steps: int = 500
    max_pixels: int = 16 * 768 * 512

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Limits:
        defaults = cls()
        values = {}
        for name, variable in (
            ("max_side", "SD_MAX_SIDE"),
            ("max_images", "SD_MAX_IMAGES_PER_CALL"),
            ("max_steps", "SD_MAX_STEPS"),
            ("max_pixels", "SD_MAX_PIXELS_PER_CALL"),
        ):
            text = environ.get(variable, "")
            if not text:
                values[name] = getattr(defaults, name)
            elif text.isascii() and text.isdigit() and int(text) > 0:  # "²" is a digit to isdigit, not to int()
                values[name] = int(text)
            else:
                raise ValueError(f"{variable} must be a positive whole number, not {text!r}")
        return cls(min_side=defaults.min_side, **values)


@dataclass(frozen=True)
class GenerationRequest:
    prompt: str
    negative_prompt: str = ""
    width: int = 512
    height: int = 512
    num_inference_steps: int = 50
    guidance_scale: float = 7.5
    num_images_per_prompt: int = 1
    seed: int = field(default_factory=lambda: random.randrange(SEED_SPACE))

    @property
    def seeds(self) -> list[int]:
        """Image i uses seed + i, so a batch of k equals k calls with consecutive seeds."""
        return [(self.seed + offset) % SEED_SPACE for offset in range(self.num_images_per_prompt)]


def media_type(header: str | None) -> str:
    """``Application/JSON; charset=utf-8`` -> ``application/json`` (``;jpeg`` is kept: it is the format)."""
    parts = [part.strip().lower() for part in (header or "").split(";")]
    return ";".join(part for part in parts if part and not part.startswith("charset="))


def parse_request(body: str | bytes, content_type: str | None, limits: Limits) -> GenerationRequest:
    kind = media_type(content_type)
    if isinstance(body, bytes):
        try:
            body = body.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidRequest("the body is not UTF-8 text") from None
    if kind == TEXT:
        return _checked({"prompt": body}, limits)
    if kind != JSON:
        raise InvalidRequest(f"Content-Type must be one of {', '.join(CONTENT_TYPES)}, not {content_type!r}")
    try:
        data = json.loads(body)
    except json.JSONDecodeError as exc:
        raise InvalidRequest(f"the body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidRequest("the body must be a JSON object")
    return _checked(data, limits)


def _whole(data: dict[str, Any], name: str, low: int, high: int) -> None:
    value = data[name]
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise InvalidRequest(f"{name} must be a whole number in {low}..{high}, not {value!r}")


def _checked(data: dict[str, Any], limits: Limits) -> GenerationRequest:
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise InvalidRequest(f"unknown field {unknown[0]!r}: the fields are {', '.join(FIELDS)}")
    prompt = data.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise InvalidRequest("prompt is required: a non-empty string")
    data = {name: value for name, value in data.items() if value is not None}
    if not isinstance(data.get("negative_prompt", ""), str):
        raise InvalidRequest("negative_prompt must be a string")
    for side in ("width", "height"):
        if side in data:
            _whole(data, side, limits.min_side, limits.max_side)
            if data[side] % 8:
                raise InvalidRequest(f"{side} must be a multiple of 8, not {data[side]}")
    for name, high in (("num_inference_steps", limits.max_steps), ("num_images_per_prompt", limits.max_images), ("seed", SEED_SPACE - 1)):
        if name in data:
            _whole(data, name, 0 if name == "seed" else 1, high)
    guidance = data.get("guidance_scale", 0.0)
    if not isinstance(guidance, (int, float)) or isinstance(guidance, bool) or not math.isfinite(guidance) or guidance < 0:
        raise InvalidRequest(f"guidance_scale must be a number of 0 or more, not {guidance!r}")
    request = GenerationRequest(**data)
    pixels = request.width * request.height * request.num_images_per_prompt
    if pixels > limits.max_pixels:
        raise InvalidRequest(
            f"width x height x num_images_per_prompt = {pixels} pixels is over this endpoint's {limits.max_pixels} per call: ask for fewer or smaller images"
        )
    return request


def check_accept(accept: str | None) -> str:
    kind = media_type(accept)
    if kind not in ACCEPTS:
        raise InvalidRequest(f"Accept must be one of {', '.join(ACCEPTS)}, not {accept!r}")
    return kind


def encode_answer(prompt: str, images: Sequence[Image.Image], accept: str | None) -> bytes:
    kind = check_accept(accept)
    return answer_body(prompt, [encode_image(image, kind) for image in images], kind)


def encode_image(image: Image.Image, kind: str) -> str | list[list[list[int]]]:
    """One image as ``kind`` (a checked Accept type) answers it."""
    return _jpeg_base64(image) if kind == JSON_JPEG else _pixel_rows(image)


def answer_body(prompt: str, encoded: Sequence[str | list[list[list[int]]]], kind: str) -> bytes:
    answer = json.dumps({"generated_images": list(encoded), "prompt": prompt}).encode()
    if len(answer) > MAX_ANSWER_BYTES:
        hint = "ask for fewer or smaller images" + (f", or Accept {JSON_JPEG}" if kind != JSON_JPEG else "")
        raise InvalidRequest(f"the answer would be {len(answer) / 2**20:.1f} MB, over SageMaker's 6 MB per response: {hint}")
    return answer


def _jpeg_base64(image: Image.Image) -> str:
    out = io.BytesIO()
    image.convert("RGB").save(out, format="JPEG", quality=JPEG_QUALITY)
    return base64.b64encode(out.getvalue()).decode("ascii")


def _pixel_rows(image: Image.Image) -> list[list[list[int]]]:
    rgb = image.convert("RGB")
    data, stride = rgb.tobytes(), rgb.width * 3
    return [[list(data[at : at + 3]) for at in range(row * stride, (row + 1) * stride, 3)] for row in range(rgb.height)]
