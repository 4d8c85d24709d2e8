"""The API stage's throttling, sized to the GPUs behind it: read by infra/config.py for the
deployed stage and by the local gateway, which throttles the same.

Each endpoint instance runs one call at a time and a request's images are spread over the
endpoints, so what the fleet can take is bounded by its instances, not by API Gateway:

- capacity = endpoints × endpointMaxInstances (GPU instances at full scale-out);
- ``rate`` = capacity / (defaultNumImages × SECONDS_PER_IMAGE): default requests per second
  the fleet finishes when every instance is busy;
- ``burst`` = capacity // min(endpoints, defaultNumImages), at least 1: default requests the
  fleet runs at once (each keeps one instance busy on each endpoint it uses).

With cdk.json's defaults (2 endpoints, 2 instances each, 4 images) that is 1 request/s, burst 2,
where a fixed 10/s burst 20 let through up to 160 images a second to GPUs that make about 4.
``text2image:throttleRate`` / ``throttleBurst`` other than 0 replace either number (a faster
model than SECONDS_PER_IMAGE assumes, a fleet that scales further).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# About one 512² Stable Diffusion image per second per instance: a 50-step SD 1.5 image takes
# ~2.5 s on an A10G (g5), ~1 s on an A100, ~0.4 s per image in calls of 8 on an H100; distilled
# models (SD-Turbo) far less. README "Endpoints" has the measured figures.
SECONDS_PER_IMAGE = 1.0


@dataclass(frozen=True)
class Throttle:
    rate: float  # requests per second, sustained
    burst: int  # requests at once


def sized_to_endpoints(endpoints: int, instances: int, default_num_images: int) -> Throttle:
    """The stage throttling the module's docstring derives from the fleet and the default request."""
    capacity = endpoints * instances
    return Throttle(rate=capacity / (default_num_images * SECONDS_PER_IMAGE), burst=max(1, capacity // min(endpoints, default_num_images)))


def stage_throttle(settings: Mapping[str, Any]) -> Throttle:
    """The stage's throttling from the ``text2image:*`` settings (keys without the prefix):
    ``throttleRate`` and ``throttleBurst`` where not 0, each sized to the endpoints where 0."""
    endpoints = len([item for item in str(settings["endpoints"]).split(",") if item.strip()])
    sized = sized_to_endpoints(max(1, endpoints), int(settings["endpointMaxInstances"]), int(settings["defaultNumImages"]))
    rate, burst = float(settings["throttleRate"]), int(settings["throttleBurst"])
    return Throttle(rate=rate if rate != 0 else sized.rate, burst=burst if burst != 0 else sized.burst)
