"""The API stage's throttling sized to the GPUs (text2image/throttling.py)."""

from __future__ import annotations

from typing import Any

import pytest

from text2image.deploy_settings import context_defaults
from text2image.throttling import Throttle, sized_to_endpoints, stage_throttle


@pytest.mark.parametrize(
    ("endpoints", "instances", "images", "expected"),
    [
        (2, 2, 4, Throttle(1.0, 2)),  # cdk.json: 4 instances make ~4 images/s; a request keeps 2 busy
        (2, 1, 4, Throttle(0.5, 1)),
        (1, 1, 4, Throttle(0.25, 1)),  # below one request a second: API Gateway takes a fraction
        (4, 2, 2, Throttle(4.0, 4)),  # 2 images use 2 of the 4 endpoints: 4 requests at once
        (3, 3, 16, Throttle(9 / 16, 3)),
        (2, 10, 1, Throttle(20.0, 20)),
    ],
)
def test_rate_is_the_fleets_images_per_second_over_a_requests_and_burst_the_requests_it_runs_at_once(
    endpoints: int, instances: int, images: int, expected: Throttle
) -> None:
    assert sized_to_endpoints(endpoints, instances, images) == expected


def settings(**overrides: Any) -> dict[str, Any]:
    return context_defaults() | overrides


def test_cdk_jsons_defaults_are_sized_to_its_endpoints() -> None:
    defaults = context_defaults()
    assert (defaults["throttleRate"], defaults["throttleBurst"]) == (0, 0)
    assert stage_throttle(defaults) == Throttle(1.0, 2)


def test_an_override_replaces_either_number_and_arrives_as_text() -> None:
    assert stage_throttle(settings(throttleRate="5")) == Throttle(5.0, 2)
    assert stage_throttle(settings(throttleBurst=7)) == Throttle(1.0, 7)
    assert stage_throttle(settings(throttleRate=-1)).rate == -1  # passed on, for the configuration check to refuse


def test_the_endpoints_are_counted_from_the_weighted_list() -> None:
    assert stage_throttle(settings(endpoints="a:3, b ,c", endpointMaxInstances=1, defaultNumImages=3)) == Throttle(1.0, 1)
