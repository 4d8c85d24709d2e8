"""A small version of bench/load.py: under a burst bigger than the throttle allows, every
request ends in 200 with all its images or 429 with Retry-After, and nothing is lost."""

from __future__ import annotations

from support import invocations

from text2image.load import run_load
from text2image.local.gateway import Gateway, GatewayConfig
from text2image.local.stack import LocalStack, edge_validator


def test_a_burst_gets_200s_and_429s_only_and_loses_nothing(clean_stack: LocalStack) -> None:
    # A tight bucket (burst 4, 2/s) so a burst of 12 is partly refused, as the stage would.
    gateway = Gateway(clean_stack.aws, edge_validator(), GatewayConfig(throttle_rate=2, throttle_burst=4), port=0, hooks_url=clean_stack.endpoints.url).start()
    try:
        report = run_load(gateway.url, requests=12, concurrency=6, num_images=2)
    finally:
        gateway.stop()
    statuses = report.statuses
    assert set(statuses) <= {200, 429} and statuses[200] >= 4 and statuses[429] >= 1, statuses
    assert report.refusals_without_retry_after == 0
    assert report.lost_images == 0 and all(o.images == 2 for o in report.outcomes if o.status == 200)
    assert sum(invocations(clean_stack).values()) == 2 * statuses[200]  # refused requests cost no GPU time
