"""What synth needs of the endpoint's own code (endpoint/code): the reading of SD_COMPILE_SHAPES
(compile_shapes.py) and the request contract that says which calls an endpoint serves
(jumpstart_contract.py). Both import nothing of their folder; each is loaded from its file
under a name of its own, so synth refuses what would stop every endpoint start, by the same code."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

from text2image.paths import ENDPOINT_CODE


def _load(name: str) -> ModuleType:
    path = ENDPOINT_CODE / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"text2image_endpoint_{name}", path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve the module's annotations through sys.modules
    spec.loader.exec_module(module)
    return module


compile_shapes = _load("compile_shapes")
_contract = _load("jumpstart_contract")


def compile_shape_problems(text: str, max_images: int, max_pixels: int) -> list[str]:
    """Why ``text`` (endpointCompileShapes) would stop an endpoint with these per-call limits
    at start: inference.py reads it with the same parser and checks each shape as the request
    it stands for, with the same contract."""
    try:
        shapes = compile_shapes.parse_call_shapes(text, "endpointCompileShapes")
    except ValueError as exc:
        return [str(exc)]
    limits = _contract.Limits(max_images=max_images, max_pixels=max_pixels)
    problems = []
    for shape in shapes:
        try:
            _contract.parse_request(shape.warm_up_body(), _contract.JSON, limits)
        except _contract.InvalidRequest as exc:
            problems.append(f"endpointCompileShapes: {shape} is not a call the endpoints serve (maxImagesPerCall, maxPixelsPerCall): {exc}")
    return problems
