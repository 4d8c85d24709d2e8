"""Plan a request: which endpoint makes which image, with which seed, under which key.

Images are dealt to endpoints by smooth weighted round-robin (equal weights give plain
round-robin: 0->A, 1->B, 2->A ...), then grouped into one lane per endpoint. A lane is
served one image at a time because a GPU endpoint serves one request at a time.

The plan is the workflow's state from here on (docs/design.md, "What travels in the state");
its shapes are declared here and, where another Lambda folder reads them, there too
(tests/unit/test_workflow_state.py holds the copies together).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import NotRequired, TypedDict

SEED_SPACE = 2**32
# SageMaker's EndpointName pattern (1 to 63 characters).
ENDPOINT_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
WEIGHT = re.compile(r"[1-9][0-9]*")


class Request(TypedDict):
    """A request that passed request.schema.json, its defaults filled in (tests/unit/test_workflow_state.py
    holds the two together); ``seed`` is absent until :func:`plan` derives it."""

    text: str
    negative_prompt: str
    width: int
    height: int
    num_images: int
    num_inference_steps: int
    guidance_scale: float
    seed: NotRequired[int]


class PlannedImage(TypedDict):
    """One image of a lane: which, where, with which seed, under which key."""

    request_id: str
    index: int
    endpoint: str
    seed: int
    key: str


class Generation(TypedDict):
    """What every image of a request is made with. Planned once, not once per image: a state
    may hold 256 KiB, and 16 copies of two 2000-character prompts would not fit."""

    prompt: str
    negative_prompt: str
    width: int
    height: int
    num_inference_steps: int
    guidance_scale: float


class WorkItem(PlannedImage, Generation):
    """One image to make: InvokeEndpoint's input, a planned image plus the generation, put
    together by the workflow's Lane map (its ItemSelector)."""


class Lane(TypedDict):
    """One endpoint's images, made one after another."""

    endpoint: str
    images: list[PlannedImage]


class Plan(TypedDict):
    request_id: str
    request: Request  # seed filled in
    generation: Generation
    lanes: list[Lane]


@dataclass(frozen=True)
class Endpoint:
    name: str
    weight: int = 1


def parse_endpoints(spec: str) -> tuple[Endpoint, ...]:
    """``"sd-1,sd-2:3"`` -> endpoints; a weight is a positive whole number (default 1).

    The one reading of the ENDPOINT_NAMES setting: the stack's configuration check
    (infra/config.py) loads this file, so what synth accepts is what a cold start accepts."""
    endpoints = []
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, colon, weight = (part.strip() for part in item.partition(":"))
        if not ENDPOINT_NAME.fullmatch(name):
            raise ValueError(f"not a SageMaker endpoint name (1-63 letters, digits and inner hyphens): {name!r} in {item!r}")
        if colon and not WEIGHT.fullmatch(weight):
            raise ValueError(f"endpoint weight must be a positive whole number: {item!r}")
        endpoints.append(Endpoint(name, int(weight) if colon else 1))
    if not endpoints:
        raise ValueError("no endpoint configured")
    # SageMaker endpoint names are unique regardless of case: SD-1 and sd-1 are one endpoint.
    seen: set[str] = set()
    for endpoint in endpoints:
        if endpoint.name.lower() in seen:
            raise ValueError(f"endpoint {endpoint.name!r} named twice in {spec!r}")
        seen.add(endpoint.name.lower())
    return tuple(endpoints)


def default_seed(request_id: str) -> int:
    """A seed derived from the request id: random for API runs (the id is random) and the
    same on a redelivered event (the id is derived from the event), so a replay makes the
    same images."""
    return int.from_bytes(hashlib.sha256(request_id.encode()).digest()[:4], "big")


def assign(count: int, endpoints: tuple[Endpoint, ...]) -> list[str]:
    """Endpoint name for each image index (smooth weighted round-robin)."""
    current = {e.name: 0 for e in endpoints}
    total = sum(e.weight for e in endpoints)
    order = []
    for _ in range(count):
        for e in endpoints:
            current[e.name] += e.weight
        chosen = max(endpoints, key=lambda e: current[e.name])
        current[chosen.name] -= total
        order.append(chosen.name)
    return order


def image_key(request_id: str, index: int) -> str:
    """Where image ``index`` of a request is written: the one place the image key layout is built."""
    return f"images/{request_id}/{index}.jpeg"


def plan(request: Request, request_id: str, endpoints: tuple[Endpoint, ...]) -> Plan:
    """The workflow's state after Prepare: the request (defaults and seed filled in) and lanes."""
    seed = request.get("seed", default_seed(request_id))
    lanes: dict[str, list[PlannedImage]] = {}
    for index, endpoint in enumerate(assign(request["num_images"], endpoints)):
        lanes.setdefault(endpoint, []).append(
            {"request_id": request_id, "index": index, "endpoint": endpoint, "seed": (seed + index) % SEED_SPACE, "key": image_key(request_id, index)}
        )
    return {
        "request_id": request_id,
        "request": {**request, "seed": seed},
        "generation": {
            "prompt": request["text"],
            "negative_prompt": request["negative_prompt"],
            "width": request["width"],
            "height": request["height"],
            "num_inference_steps": request["num_inference_steps"],
            "guidance_scale": request["guidance_scale"],
        },
        "lanes": [{"endpoint": name, "images": images} for name, images in lanes.items()],
    }
