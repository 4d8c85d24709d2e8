from __future__ import annotations

import dataclasses
import hashlib
import re

import pytest

from planning import CallLimits, Endpoint, Plan, Request, assign, call_sizes, default_seed, parse_endpoints, plan, split

REQUEST: Request = {
    "text": "a flower",
    "negative_prompt": "",
    "width": 768,
    "height": 512,
    "num_images": 4,
    "num_inference_steps": 50,
    "guidance_scale": 7.5,
}


def test_round_robin_over_equal_endpoints() -> None:
    endpoints = parse_endpoints("sd-1,sd-2")
    assert assign(5, endpoints) == ["sd-1", "sd-2", "sd-1", "sd-2", "sd-1"]


def test_weights_share_images_in_proportion_and_interleave() -> None:
    order = assign(6, parse_endpoints("big:2,small:1"))
    assert order.count("big") == 4 and order.count("small") == 2
    assert order[:3] != ["big", "big", "big"]


def test_smooth_weighted_round_robin_deals_in_nginx_order() -> None:
    """The smooth weighted round-robin sequence (nginx's): for weights 5, 1, 1 it is
    a a b a c a a, the heavy endpoint's turns spread out rather than bunched."""
    assert assign(7, parse_endpoints("a:5,b,c")) == ["a", "a", "b", "a", "c", "a", "a"]
    assert assign(6, parse_endpoints("big:2,small")) == ["big", "small", "big", "big", "small", "big"]
    assert assign(0, parse_endpoints("a,b")) == []


def indices(result: Plan) -> list[list[list[int]]]:
    """Each lane's calls as the image indices they make."""
    return [[[image["index"] for image in call["images"]] for call in lane["calls"]] for lane in result["lanes"]]


def test_one_image_per_call_goes_round_the_endpoints_with_seeds_and_keys() -> None:
    result = plan({**REQUEST, "seed": 10}, "req-1", parse_endpoints("sd-1,sd-2"), per_call=1)
    assert result["request_id"] == "req-1"
    assert [lane["endpoint"] for lane in result["lanes"]] == ["sd-1", "sd-2"]
    assert indices(result) == [[[0], [2]], [[1], [3]]]
    first = [call["images"][0] for call in result["lanes"][0]["calls"]]
    assert [image["seed"] for image in first] == [10, 12]
    assert [image["key"] for image in first] == ["images/req-1/0.jpeg", "images/req-1/2.jpeg"]
    assert set(first[0]) == {"index", "seed", "key"}  # the generation is planned once
    assert result["generation"] == {
        "prompt": "a flower",
        "negative_prompt": REQUEST["negative_prompt"],
        "width": 768,
        "height": REQUEST["height"],
        "num_inference_steps": REQUEST["num_inference_steps"],
        "guidance_scale": REQUEST["guidance_scale"],
    }


def test_each_endpoints_share_in_one_call_of_consecutive_images_when_it_fits() -> None:
    result = plan({**REQUEST, "num_images": 8, "seed": 10}, "r", parse_endpoints("sd-1,sd-2"), per_call=16)
    assert indices(result) == [[[0, 1, 2, 3]], [[4, 5, 6, 7]]]
    second = result["lanes"][1]["calls"][0]["images"]
    assert [image["seed"] for image in second] == [14, 15, 16, 17]  # image i keeps seed + i, batched or not


@pytest.mark.parametrize("per_call", [1, 2, 3, 4, 16])
@pytest.mark.parametrize("spec", ["a", "a,b", "a:3,b", "a,b,c,d"])
def test_whatever_the_batching_every_image_is_planned_once_with_seed_plus_index(per_call: int, spec: str) -> None:
    result = plan({**REQUEST, "num_images": 11, "seed": 100}, "r", parse_endpoints(spec), per_call)
    images = [image for lane in result["lanes"] for call in lane["calls"] for image in call["images"]]
    assert sorted(image["index"] for image in images) == list(range(11))
    assert all(image["seed"] == 100 + image["index"] and image["key"] == f"images/r/{image['index']}.jpeg" for image in images)
    for lane in result["lanes"]:
        for call in lane["calls"]:
            first = call["images"][0]["index"]
            assert [image["index"] for image in call["images"]] == list(range(first, first + len(call["images"])))
            assert 1 <= len(call["images"]) <= per_call
    shares = {lane["endpoint"]: sum(len(call["images"]) for call in lane["calls"]) for lane in result["lanes"]}
    assert shares == {name: assign(11, parse_endpoints(spec)).count(name) for name in shares}  # batching keeps the shares


def test_a_share_larger_than_a_call_is_cut_into_even_calls_laid_out_in_rounds() -> None:
    result = plan({**REQUEST, "num_images": 10}, "r", parse_endpoints("a,b"), per_call=4)
    assert indices(result) == [[[0, 1, 2], [6, 7]], [[3, 4, 5], [8, 9]]]


def test_call_sizes_are_as_few_and_as_even_as_can_be() -> None:
    assert split(5, 4) == [3, 2]
    assert split(8, 4) == [4, 4]
    assert split(1, 16) == [1]
    assert split(7, 1) == [1] * 7
    assert call_sizes(16, parse_endpoints("a,b"), 16) == {"a": [8], "b": [8]}
    assert call_sizes(6, parse_endpoints("big:2,small"), 3) == {"big": [2, 2], "small": [2]}
    assert call_sizes(1, parse_endpoints("a,b"), 4) == {"a": [1]}


@pytest.mark.parametrize(
    ("limits", "width", "height", "per_call"),
    [
        (CallLimits(images_per_call=0, max_images=16, max_pixels=16 * 768 * 512), 512, 512, 16),  # the count decides
        (CallLimits(images_per_call=0, max_images=16, max_pixels=16 * 768 * 512), 1024, 1024, 6),  # the pixels decide
        (CallLimits(images_per_call=4, max_images=16, max_pixels=16 * 768 * 512), 512, 512, 4),  # configured
        (CallLimits(images_per_call=40, max_images=16, max_pixels=16 * 768 * 512), 512, 512, 16),  # never past the limits
        (CallLimits(images_per_call=1, max_images=16, max_pixels=512 * 512), 512, 512, 1),
    ],
)
def test_images_per_call_fits_the_endpoints_limits(limits: CallLimits, width: int, height: int, per_call: int) -> None:
    assert limits.per_call(width, height) == per_call


def test_call_limits_cannot_be_changed_after_the_cold_start() -> None:
    limits = CallLimits(images_per_call=0, max_images=16, max_pixels=512 * 512)
    with pytest.raises(dataclasses.FrozenInstanceError):
        limits.max_images = 64  # type: ignore[misc]
    assert limits.max_images == 16


def test_an_image_larger_than_a_call_may_carry_is_refused() -> None:
    with pytest.raises(ValueError, match=re.escape("768x512 = 393216 pixels is over the endpoints' 262144 pixels per call")):
        CallLimits(images_per_call=0, max_images=16, max_pixels=512 * 512).per_call(768, 512)


def test_fewer_images_than_endpoints_leaves_idle_endpoints_out() -> None:
    result = plan({**REQUEST, "num_images": 1}, "r", parse_endpoints("a,b,c"), per_call=16)
    assert [lane["endpoint"] for lane in result["lanes"]] == ["a"]


def test_seeds_wrap_modulo_2_to_the_32() -> None:
    result = plan({**REQUEST, "num_images": 3, "seed": 4294967294}, "r", parse_endpoints("a"), per_call=16)
    assert [image["seed"] for image in result["lanes"][0]["calls"][0]["images"]] == [4294967294, 4294967295, 0]
    assert result["request"]["seed"] == 4294967294


def test_default_seed_comes_from_the_request_id() -> None:
    first = plan(REQUEST, "event-abc", parse_endpoints("a"), per_call=16)
    again = plan(REQUEST, "event-abc", parse_endpoints("a"), per_call=16)
    other = plan(REQUEST, "event-abd", parse_endpoints("a"), per_call=16)
    assert first["request"]["seed"] == again["request"]["seed"] == default_seed("event-abc")
    assert other["request"]["seed"] != first["request"]["seed"]


def test_the_default_seed_is_the_first_32_bits_of_the_request_ids_sha256() -> None:
    for request_id in ("event-abc", "s3-0123", "a" * 80):
        assert default_seed(request_id) == int(hashlib.sha256(request_id.encode()).hexdigest()[:8], 16)


def test_a_given_seed_of_0_is_kept_not_replaced_by_the_default() -> None:
    result = plan({**REQUEST, "num_images": 1, "seed": 0}, "event-abc", parse_endpoints("a"), per_call=16)
    assert result["request"]["seed"] == 0 and result["lanes"][0]["calls"][0]["images"][0]["seed"] == 0


@pytest.mark.parametrize(
    ("spec", "complaint"),
    [
        ("", "no endpoint configured"),
        (" , ", "no endpoint configured"),
        ("sd-1:0", "weight must be a positive whole number: 'sd-1:0'"),
        ("sd-1:x", "weight must be a positive whole number: 'sd-1:x'"),
        ("sd-1:-2", "weight must be a positive whole number"),
        ("sd-1:", "weight must be a positive whole number"),
        ("sd-1:²", "weight must be a positive whole number"),  # a digit to str.isdigit, not to int()
        ("sd-1,sd-1", "endpoint 'sd-1' named twice"),
        ("sd-1,SD-1", "endpoint 'SD-1' named twice"),  # SageMaker endpoint names ignore case
        ("bad name!", "not a SageMaker endpoint name"),
        ("sd_1", "not a SageMaker endpoint name"),
        ("-sd", "not a SageMaker endpoint name"),
        ("sd-", "not a SageMaker endpoint name"),
        ("a" * 64, "not a SageMaker endpoint name"),
        (":2", "not a SageMaker endpoint name"),
    ],
)
def test_bad_endpoint_configuration_is_refused_saying_why(spec: str, complaint: str) -> None:
    with pytest.raises(ValueError, match=re.escape(complaint)):
        parse_endpoints(spec)


def test_endpoint_spec_parsing() -> None:
    assert parse_endpoints(" sd-1 , sd-2:3 ") == (Endpoint("sd-1", 1), Endpoint("sd-2", 3))
    assert Endpoint("sd-1") == Endpoint("sd-1", weight=1)
    assert parse_endpoints("a" * 63 + ",b--c:10") == (Endpoint("a" * 63), Endpoint("b--c", 10))


def test_parsed_endpoints_cannot_be_changed_and_can_be_set_members() -> None:
    endpoint = parse_endpoints("sd-1:2")[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        endpoint.weight = 5  # type: ignore[misc]
    assert {endpoint, Endpoint("sd-1", 2)} == {endpoint}


def test_the_plan_keeps_the_request_with_its_seed_and_lists_each_lanes_calls() -> None:
    request: Request = {**REQUEST, "num_images": 3, "seed": 7}
    result = plan(request, "req-9", parse_endpoints("sd-1,sd-2"), per_call=16)
    assert result["request"] == request
    assert result["lanes"][1] == {"endpoint": "sd-2", "calls": [{"images": [{"index": 2, "seed": 9, "key": "images/req-9/2.jpeg"}]}]}
