"""endpoint/code/jumpstart_contract.py on its own: every limit at its edge and one past it,
every refusal by its exact message, both answer encodings read back pixel by pixel. The
same contract through the endpoint server is tests/unit/test_endpoint_contract.py."""

from __future__ import annotations

import base64
import dataclasses
import io
import json
import math
from typing import Any

import pytest
from PIL import Image

from text2image.local.containers import endpoint_module

contract = endpoint_module("jumpstart_contract")
JSON, JSON_JPEG, TEXT = "application/json", "application/json;jpeg", "application/x-text"
FIELD_LIST = "prompt, negative_prompt, width, height, num_inference_steps, guidance_scale, num_images_per_prompt, seed"
SIX_MIB = 6 * 2**20  # SageMaker's limit on an invocation's response body


def parse(limits: Any = None, **fields: Any) -> Any:
    return contract.parse_request(json.dumps({"prompt": "a cat", **fields}), JSON, limits or contract.Limits())


def refused(message: str, limits: Any = None, **fields: Any) -> None:
    with pytest.raises(contract.InvalidRequest) as raised:
        parse(limits, **fields)
    assert str(raised.value) == message


def shade(x: int, y: int, width: int, height: int) -> tuple[int, int, int]:
    return x * 255 // width, y * 255 // height, (x + y) % 256


def gradient(width: int, height: int) -> Image.Image:
    """A non-square image whose every pixel differs, so a swapped axis or channel shows."""
    image = Image.new("RGB", (width, height))
    image.putdata([shade(x, y, width, height) for y in range(height) for x in range(width)])
    return image


def test_the_default_limits_are_the_documented_ones() -> None:
    assert contract.Limits() == contract.Limits(min_side=64, max_side=2048, max_images=16, max_steps=500, max_pixels=16 * 768 * 512)
    assert contract.Limits().max_pixels == 6_291_456


def test_limits_come_from_the_environment_and_default_when_unset_or_empty() -> None:
    environ = {"SD_MAX_SIDE": "1024", "SD_MAX_IMAGES_PER_CALL": "4", "SD_MAX_STEPS": "100", "SD_MAX_PIXELS_PER_CALL": "1"}
    assert contract.Limits.from_env(environ) == contract.Limits(min_side=64, max_side=1024, max_images=4, max_steps=100, max_pixels=1)
    assert contract.Limits.from_env({}) == contract.Limits()
    assert contract.Limits.from_env({"SD_MAX_SIDE": "", "SD_MAX_STEPS": "7"}) == contract.Limits(max_steps=7)


@pytest.mark.parametrize("text", ["0", "-1", "1.5", "abc", " 8", "²"])
def test_a_limit_that_is_not_a_positive_whole_number_is_refused_by_name(text: str) -> None:
    with pytest.raises(ValueError) as raised:
        contract.Limits.from_env({"SD_MAX_STEPS": "9", "SD_MAX_IMAGES_PER_CALL": text})
    assert str(raised.value) == f"SD_MAX_IMAGES_PER_CALL must be a positive whole number, not {text!r}"


@pytest.mark.parametrize(
    ("header", "kind"),
    [
        ("Application/JSON; charset=utf-8", JSON),
        ("application/json;charset=UTF-8", JSON),
        ("application/json; jpeg", JSON_JPEG),
        ("APPLICATION/JSON;JPEG", JSON_JPEG),
        (" application/x-text ", TEXT),
        (None, ""),
    ],
)
def test_media_type_drops_parameters_but_charset_keeps_jpeg_and_ignores_case(header: str | None, kind: str) -> None:
    assert contract.media_type(header) == kind


def test_a_json_request_gets_every_default_but_the_seed() -> None:
    request = parse()
    assert (request.prompt, request.negative_prompt, request.width, request.height) == ("a cat", "", 512, 512)
    assert (request.num_inference_steps, request.guidance_scale, request.num_images_per_prompt) == (50, 7.5, 1)
    assert 0 <= request.seed < 2**32


def test_every_field_is_taken_as_given() -> None:
    body = {
        "prompt": "p",
        "negative_prompt": "n",
        "width": 72,
        "height": 64,
        "num_inference_steps": 3,
        "guidance_scale": 2,
        "num_images_per_prompt": 2,
        "seed": 5,
    }
    request = contract.parse_request(json.dumps(body).encode(), "application/json; charset=utf-8", contract.Limits())
    assert request == contract.GenerationRequest(**body)


def test_null_fields_take_their_defaults() -> None:
    request = parse(negative_prompt=None, width=None, seed=None, guidance_scale=None)
    assert (request.negative_prompt, request.width, request.guidance_scale) == ("", 512, 7.5)


def test_a_default_seed_is_drawn_from_the_whole_seed_space(monkeypatch: pytest.MonkeyPatch) -> None:
    drawn_from: list[int] = []

    def highest(stop: int) -> int:
        drawn_from.append(stop)
        return stop - 1

    monkeypatch.setattr(contract.random, "randrange", highest)
    assert parse().seed == 2**32 - 1
    assert drawn_from == [2**32]


def test_a_text_body_is_the_prompt_with_every_default() -> None:
    request = contract.parse_request(b"a lighthouse", "application/x-text; charset=utf-8", contract.Limits(max_pixels=512 * 512))
    assert (request.prompt, request.width, request.height, request.num_images_per_prompt) == ("a lighthouse", 512, 512, 1)
    with pytest.raises(contract.InvalidRequest, match=r"^prompt is required: a non-empty string$"):
        contract.parse_request(b" \n", TEXT, contract.Limits())


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (b"\xff\xfe", JSON, "the body is not UTF-8 text"),
        ("{}", "text/csv", "Content-Type must be one of application/json, application/x-text, not 'text/csv'"),
        ("{}", None, "Content-Type must be one of application/json, application/x-text, not None"),
        ("{}", JSON_JPEG, "Content-Type must be one of application/json, application/x-text, not 'application/json;jpeg'"),
        ('["a cat"]', JSON, "the body must be a JSON object"),
        ('"a cat"', JSON, "the body must be a JSON object"),
        ("{}", JSON, "prompt is required: a non-empty string"),
        ('{"prompt": 7}', JSON, "prompt is required: a non-empty string"),
        ('{"prompt": "  "}', JSON, "prompt is required: a non-empty string"),
    ],
)
def test_bodies_that_cannot_be_read_are_refused_saying_why(body: str | bytes, content_type: str | None, message: str) -> None:
    with pytest.raises(contract.InvalidRequest) as raised:
        contract.parse_request(body, content_type, contract.Limits())
    assert str(raised.value) == message


def test_a_body_that_is_not_json_says_where_it_broke() -> None:
    with pytest.raises(contract.InvalidRequest) as raised:
        contract.parse_request("{prompt", JSON, contract.Limits())
    assert str(raised.value) == "the body is not JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"


def test_the_first_unknown_field_in_order_is_named_with_the_fields_there_are() -> None:
    refused(f"unknown field 'colour': the fields are {FIELD_LIST}", zeta=1, colour="red")


def test_negative_prompt_must_be_a_string() -> None:
    refused("negative_prompt must be a string", negative_prompt=["no"])


@pytest.mark.parametrize("side", ["width", "height"])
def test_sides_are_multiples_of_8_from_64_to_max_side(side: str) -> None:
    limits = contract.Limits(max_side=1024, max_pixels=10**9)
    assert getattr(parse(limits, **{side: 64}), side) == 64
    assert getattr(parse(limits, **{side: 1024}), side) == 1024
    refused(f"{side} must be a whole number in 64..1024, not 56", limits, **{side: 56})
    refused(f"{side} must be a whole number in 64..1024, not 1032", limits, **{side: 1032})
    refused(f"{side} must be a multiple of 8, not 100", limits, **{side: 100})
    refused(f"{side} must be a whole number in 64..1024, not 64.0", limits, **{side: 64.0})
    refused(f"{side} must be a whole number in 64..1024, not True", limits, **{side: True})
    refused(f"{side} must be a whole number in 64..1024, not '64'", limits, **{side: "64"})


def test_the_default_side_limit_is_2048() -> None:
    limits = contract.Limits(max_pixels=10**9)
    assert parse(limits, width=2048).width == 2048
    refused("width must be a whole number in 64..2048, not 2056", limits, width=2056)


@pytest.mark.parametrize(("name", "low", "high"), [("num_inference_steps", 1, 500), ("num_images_per_prompt", 1, 16), ("seed", 0, 4294967295)])
def test_counts_and_the_seed_are_whole_numbers_in_their_range(name: str, low: int, high: int) -> None:
    limits = contract.Limits(min_side=8, max_pixels=10**9)
    small = {"width": 8, "height": 8}
    assert getattr(parse(limits, **small, **{name: low}), name) == low
    assert getattr(parse(limits, **small, **{name: high}), name) == high
    refused(f"{name} must be a whole number in {low}..{high}, not {low - 1}", limits, **small, **{name: low - 1})
    refused(f"{name} must be a whole number in {low}..{high}, not {high + 1}", limits, **small, **{name: high + 1})
    refused(f"{name} must be a whole number in {low}..{high}, not False", limits, **small, **{name: False})
    refused(f"{name} must be a whole number in {low}..{high}, not 1.0", limits, **small, **{name: 1.0})


def test_count_limits_follow_the_configured_limits() -> None:
    limits = contract.Limits(max_images=3, max_steps=20)
    assert parse(limits, width=64, height=64, num_images_per_prompt=3, num_inference_steps=20).num_images_per_prompt == 3
    refused("num_images_per_prompt must be a whole number in 1..3, not 4", limits, num_images_per_prompt=4)
    refused("num_inference_steps must be a whole number in 1..20, not 21", limits, num_inference_steps=21)


@pytest.mark.parametrize("value", [0, 0.0, 3, 7.5, 1e6])
def test_guidance_scale_takes_any_finite_number_of_0_or_more(value: float) -> None:
    assert parse(guidance_scale=value).guidance_scale == value


@pytest.mark.parametrize("value", [-0.5, -1, True, "7.5", [7.5]])
def test_guidance_scale_refuses_negative_numbers_and_non_numbers(value: Any) -> None:
    refused(f"guidance_scale must be a number of 0 or more, not {value!r}", guidance_scale=value)


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan])
def test_guidance_scale_refuses_what_is_not_finite(value: float) -> None:
    with pytest.raises(contract.InvalidRequest, match=r"^guidance_scale must be a number of 0 or more, not "):
        contract._checked({"prompt": "a", "guidance_scale": value}, contract.Limits())


def test_the_pixel_budget_is_width_times_height_times_images_and_holds_at_its_edge() -> None:
    budget = 72 * 64 * 3
    limits = contract.Limits(max_pixels=budget)
    request = parse(limits, width=72, height=64, num_images_per_prompt=3)
    assert (request.width, request.height, request.num_images_per_prompt) == (72, 64, 3)
    tight = contract.Limits(max_pixels=budget - 1)
    refused(
        f"width x height x num_images_per_prompt = {budget} pixels is over this endpoint's {budget - 1} per call: ask for fewer or smaller images",
        tight,
        width=72,
        height=64,
        num_images_per_prompt=3,
    )


def test_the_default_pixel_budget_is_16_images_of_768_by_512() -> None:
    assert parse(width=768, height=512, num_images_per_prompt=16).num_images_per_prompt == 16
    refused(
        "width x height x num_images_per_prompt = 6684672 pixels is over this endpoint's 6291456 per call: ask for fewer or smaller images",
        width=768,
        height=544,
        num_images_per_prompt=16,
    )


def test_image_i_uses_seed_plus_i_wrapping_at_2_to_the_32() -> None:
    request = contract.GenerationRequest(prompt="a", seed=4294967294, num_images_per_prompt=3)
    assert request.seeds == [4294967294, 4294967295, 0]
    assert contract.GenerationRequest(prompt="a", seed=7, num_images_per_prompt=2).seeds == [7, 8]
    assert contract.GenerationRequest(prompt="a", seed=7).seeds == [7]


@pytest.mark.parametrize(("accept", "kind"), [(JSON_JPEG, JSON_JPEG), ("Application/JSON; charset=utf-8", JSON), ("application/json ; jpeg", JSON_JPEG)])
def test_accept_names_one_of_the_two_answers(accept: str, kind: str) -> None:
    assert contract.check_accept(accept) == kind


@pytest.mark.parametrize("accept", ["image/png", "application/json;png", None])
def test_any_other_accept_is_refused(accept: str | None) -> None:
    with pytest.raises(contract.InvalidRequest) as raised:
        contract.check_accept(accept)
    assert str(raised.value) == f"Accept must be one of application/json;jpeg, application/json, not {accept!r}"


def test_a_jpeg_answer_is_base64_jpegs_of_each_image_at_quality_90() -> None:
    images = [gradient(96, 64), gradient(64, 80).convert("RGBA")]
    answer = json.loads(contract.encode_answer("a cat", images, JSON_JPEG))
    assert answer["prompt"] == "a cat" and len(answer["generated_images"]) == 2
    decoded = [Image.open(io.BytesIO(base64.b64decode(item, validate=True))) for item in answer["generated_images"]]
    assert [(image.format, image.mode, image.size) for image in decoded] == [("JPEG", "RGB", (96, 64)), ("JPEG", "RGB", (64, 80))]
    at_90 = io.BytesIO()
    images[0].save(at_90, format="JPEG", quality=90)
    assert base64.b64decode(answer["generated_images"][0]) == at_90.getvalue()


def test_a_json_answer_is_rows_of_rgb_pixels() -> None:
    image = gradient(5, 3)
    answer = json.loads(contract.encode_answer("p", [image, image.convert("L")], "application/json; charset=utf-8"))
    rows = answer["generated_images"][0]
    assert len(rows) == 3 and {len(row) for row in rows} == {5}
    assert rows == [[list(shade(x, y, 5, 3)) for x in range(5)] for y in range(3)]
    grey = answer["generated_images"][1]
    assert grey[2][4] == [grey[2][4][0]] * 3  # a grey image answers as RGB


def test_an_unknown_accept_is_refused_before_encoding() -> None:
    with pytest.raises(contract.InvalidRequest, match=r"^Accept must be one of"):
        contract.encode_answer("p", [gradient(8, 8)], "image/png")


def filler(kind_limit: int, prompt: str = "p") -> str:
    """A string that makes the answer exactly ``kind_limit`` bytes long."""
    overhead = len(json.dumps({"generated_images": [""], "prompt": prompt}).encode())
    return "A" * (kind_limit - overhead)


@pytest.mark.parametrize("kind", [JSON, JSON_JPEG])
def test_an_answer_of_exactly_6_mib_is_sent(kind: str) -> None:
    assert len(contract.answer_body("p", [filler(SIX_MIB)], kind)) == SIX_MIB


def test_an_answer_one_byte_over_6_mib_is_refused_suggesting_jpeg_when_pixels_were_asked_for() -> None:
    with pytest.raises(contract.InvalidRequest) as raised:
        contract.answer_body("p", [filler(SIX_MIB + 1)], JSON)
    assert str(raised.value) == (
        "the answer would be 6.0 MB, over SageMaker's 6 MB per response: ask for fewer or smaller images, or Accept application/json;jpeg"
    )


def test_a_jpeg_answer_over_6_mib_is_refused_with_its_size() -> None:
    with pytest.raises(contract.InvalidRequest) as raised:
        contract.answer_body("p", [filler(7 * 2**20 + 2**19)], JSON_JPEG)
    assert str(raised.value) == "the answer would be 7.5 MB, over SageMaker's 6 MB per response: ask for fewer or smaller images"


def test_limits_and_requests_cannot_change_once_made() -> None:
    """The container checks each request against limits read once at its start."""
    with pytest.raises(dataclasses.FrozenInstanceError):
        contract.Limits().max_pixels = 10**12
    with pytest.raises(dataclasses.FrozenInstanceError):
        parse().width = 4096
