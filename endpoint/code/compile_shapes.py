"""``SD_COMPILE_SHAPES``: the endpoint calls whose UNet is compiled and warmed at start.

``"512x512x4,768x512x2"`` = width x height x images per call, comma-separated. The one reading
and writing of that text: inference.py parses it at start, and the stack's synth (infra) loads
this file to check ``text2image:endpointCompileShapes`` and to write the default, so what synth
accepts is what a start accepts. Plain Python, importing nothing of its folder. Whether a shape
fits the endpoint's limits is the request contract's to say (jumpstart_contract.py): each
shape is checked as its warm-up request.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass

VARIABLE = "SD_COMPILE_SHAPES"
# Each shape is one more compiled version of the UNet's forward: TorchDynamo keeps at most 8 per
# function by default (torch._dynamo.config.recompile_limit) and runs any further one eagerly,
# and each costs about a minute of start-up (53-82 s measured on an H100).
MAX_SHAPES = 8
# Denoising steps of each warm-up call: its first UNet call compiles (and is CUDA Graph Trees'
# warm-up run), the second records the CUDA graph, the third replays it (torch/_inductor/cudagraph_trees.py).
WARM_STEPS = 3
_SHAPE = re.compile(r"([0-9]+)x([0-9]+)x([0-9]+)", re.ASCII)


@dataclass(frozen=True, order=True)
class CallShape:
    width: int
    height: int
    images: int

    def __str__(self) -> str:
        return f"{self.width}x{self.height}x{self.images}"

    def warm_up_body(self) -> str:
        """The endpoint request (JSON) that compiles and warms this shape. Default guidance, as
        the workflow's default request has: classifier-free guidance doubles the UNet batch, so
        the UNet inputs warmed are those of the calls the workflow makes."""
        fields = {"prompt": "warm-up", "width": self.width, "height": self.height, "num_images_per_prompt": self.images}
        return json.dumps({**fields, "num_inference_steps": WARM_STEPS, "seed": 0})


def parse_call_shapes(text: str, variable: str = VARIABLE) -> tuple[CallShape, ...]:
    """``"512x512x4, 768x512x2"`` -> shapes, in order; errors name ``variable``."""
    shapes: list[CallShape] = []
    for item in (part.strip() for part in text.split(",")):
        match = _SHAPE.fullmatch(item)
        if not match or 0 in (numbers := tuple(int(number) for number in match.groups())):
            raise ValueError(f"{variable}: {item!r} is not WIDTHxHEIGHTxIMAGES with positive whole numbers, as in '512x512x4,768x512x2'")
        shape = CallShape(*numbers)
        if shape in shapes:
            raise ValueError(f"{variable}: {shape} is named twice")
        shapes.append(shape)
    if len(shapes) > MAX_SHAPES:
        raise ValueError(f"{variable}: {len(shapes)} shapes, at most {MAX_SHAPES} (each is compiled at start, about a minute each)")
    return tuple(shapes)


def format_call_shapes(shapes: Iterable[CallShape]) -> str:
    return ",".join(str(shape) for shape in shapes)
