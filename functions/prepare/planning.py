"""Plan a request: which endpoint makes which image, in which call, with which seed, under which key.

Images are shared among endpoints by smooth weighted round-robin (equal weights give equal
shares). Each endpoint's share is cut into calls of up to K images, K being as many as one call
may carry (:class:`CallLimits`): a GPU makes a batch of k images in about C + k x T seconds
against k x (C + T) one by one (docs/design.md, "Images per call"). A call's images have
consecutive indices, so its seed is its first image's and image i keeps seed + i whatever the
batching. The calls are laid out in rounds (every endpoint's first call, then every second
call ...), so with one image per call the indices go round the endpoints as before: 0->A, 1->B,
2->A ... An endpoint serves its calls one after another: a GPU serves one request at a time.

A line of a batch is dealt as if the batch were one stream of images: ``deal_from`` (the images of
the lines before it) picks up the round-robin where the line before left it, so a batch of small
lines keeps every endpoint busy instead of starting each line at the first one.

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
    """One image of a call: which, with which seed, under which key."""

    index: int
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


class Call(TypedDict):
    """One endpoint call: images with consecutive indices, made in one batch."""

    images: list[PlannedImage]


class WorkItem(Call, Generation):
    """One call to make: InvokeEndpoint's input, a planned call plus where it goes and the
    generation, put together by the workflow's Lane map (its ItemSelector)."""

    request_id: str
    endpoint: str
    capacity_deadline: float  # the run's (Prepare's output): until then a cold endpoint is waited for


class Lane(TypedDict):
    """One endpoint's calls, made one after another."""

    endpoint: str
    calls: list[Call]


class Plan(TypedDict):
    request_id: str
    request: Request  # seed filled in
    generation: Generation
    lanes: list[Lane]


@dataclass(frozen=True)
class Endpoint:
    name: str
    weight: int = 1


@dataclass(frozen=True)
class CallLimits:
    """How many images one endpoint call may carry: ``images_per_call`` as configured (0: as
    many as the endpoint allows), within what the endpoints accept per call (they refuse more,
    before the GPU: endpoint/code/jumpstart_contract.py, SD_MAX_IMAGES_PER_CALL and
    SD_MAX_PIXELS_PER_CALL, which the stack sets to the same numbers)."""

    images_per_call: int
    max_images: int
    max_pixels: int

    def per_call(self, width: int, height: int) -> int:
        """The most images of ``width`` x ``height`` one call carries; ``ValueError`` when not even
        one fits the pixel budget."""
        fits = min(self.max_images, self.max_pixels // (width * height))
        if fits < 1:
            raise ValueError(f"{width}x{height} = {width * height} pixels is over the endpoints' {self.max_pixels} pixels per call")
        return min(fits, self.images_per_call) if self.images_per_call else fits


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


def assign(count: int, endpoints: tuple[Endpoint, ...], deal_from: int = 0) -> list[str]:
    """Endpoint name for each image index (smooth weighted round-robin), as if ``deal_from`` images
    had been dealt before. The deal repeats every sum(weights) picks (every endpoint is then back
    at 0), so only ``deal_from`` mod that many picks are skipped."""
    current = {e.name: 0 for e in endpoints}
    total = sum(e.weight for e in endpoints)
    order = []
    for _ in range(deal_from % total + count):
        for e in endpoints:
            current[e.name] += e.weight
        chosen = max(endpoints, key=lambda e: current[e.name])
        current[chosen.name] -= total
        order.append(chosen.name)
    return order[deal_from % total :]


def image_key(request_id: str, index: int) -> str:
    """Where image ``index`` of a request is written: the one place the image key layout is built."""
    return f"images/{request_id}/{index}.jpeg"


def split(count: int, per_call: int) -> list[int]:
    """``count`` images in as few calls of at most ``per_call`` as can be, as even as can be
    (5 by 4: 3 + 2, not 4 + 1: the same GPU time, less memory at once)."""
    calls = -(-count // per_call)
    return [count // calls + (1 if call < count % calls else 0) for call in range(calls)]


def call_sizes(num_images: int, endpoints: tuple[Endpoint, ...], per_call: int, deal_from: int = 0) -> dict[str, list[int]]:
    """Endpoint name -> the image count of each of its calls (endpoints without images left out),
    in the order of their first image."""
    shares: dict[str, int] = {}
    for name in assign(num_images, endpoints, deal_from):
        shares[name] = shares.get(name, 0) + 1
    return {name: split(share, per_call) for name, share in shares.items()}


def plan(request: Request, request_id: str, endpoints: tuple[Endpoint, ...], per_call: int, deal_from: int = 0) -> Plan:
    """The workflow's state after Prepare: the request (defaults and seed filled in) and lanes of
    calls of at most ``per_call`` images (:meth:`CallLimits.per_call`), dealt from ``deal_from``
    (:func:`assign`; a batch line's, 0 otherwise)."""
    seed = request.get("seed", default_seed(request_id))
    sizes = call_sizes(request["num_images"], endpoints, per_call, deal_from)
    lanes: dict[str, list[Call]] = {name: [] for name in sizes}
    index = 0
    for round_ in range(max((len(calls) for calls in sizes.values()), default=0)):
        for name, calls in sizes.items():
            if round_ < len(calls):
                indices = range(index, index + calls[round_])
                lanes[name].append({"images": [{"index": i, "seed": (seed + i) % SEED_SPACE, "key": image_key(request_id, i)} for i in indices]})
                index += calls[round_]
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
        "lanes": [{"endpoint": name, "calls": calls} for name, calls in lanes.items()],
    }
