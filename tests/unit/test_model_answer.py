from __future__ import annotations

import base64
import io
import json

import pytest
from PIL import Image

from model_answer import InvalidModelResponse, image_from_answer, jpeg_size, model_error_message


def jpeg(width: int, height: int, **save: object) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 40)).save(out, format="JPEG", **save)
    return out.getvalue()


def answer(*images: bytes) -> bytes:
    return json.dumps({"generated_images": [base64.b64encode(i).decode() for i in images], "prompt": "p"}).encode()


@pytest.mark.parametrize(("width", "height", "save"), [(768, 512, {}), (256, 1280, {}), (1024, 600, {"progressive": True}), (64, 64, {"quality": 10})])
def test_jpeg_size_reads_the_frame_header(width: int, height: int, save: dict[str, object]) -> None:
    assert jpeg_size(jpeg(width, height, **save)) == (width, height)


@pytest.mark.parametrize("data", [b"", b"\x89PNG\r\n", b"\xff\xd8", b"\xff\xd8\x00\x00\x00\x00", b"\xff\xd8\xff\xda\x00\x02"])
def test_jpeg_size_refuses_what_is_not_a_jpeg(data: bytes) -> None:
    with pytest.raises(ValueError):
        jpeg_size(data)


def test_a_good_answer_gives_the_jpeg_bytes() -> None:
    image = jpeg(768, 512)
    assert image_from_answer(answer(image), 768, 512) == image


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"<html>", "not JSON"),
        (b"[]", "no generated_images"),
        (b'{"generated_images": []}', "no generated_images"),
        (b'{"generated_images": ["%%%"]}', "not valid base64"),
        (json.dumps({"generated_images": [base64.b64encode(b"GIF89a").decode()]}).encode(), "not a JPEG"),
    ],
)
def test_bad_answers_are_invalid_model_responses(body: bytes, reason: str) -> None:
    with pytest.raises(InvalidModelResponse, match=reason):
        image_from_answer(body, 768, 512)


def test_an_image_of_the_wrong_size_is_refused() -> None:
    with pytest.raises(InvalidModelResponse, match="512x512, 768x512 was asked for"):
        image_from_answer(answer(jpeg(512, 512)), 768, 512)


def test_a_model_servers_error_body_is_reduced_to_its_message() -> None:
    original = json.dumps({"code": 400, "type": "InternalServerException", "message": "width must be a multiple of 8, not 65"}, indent=2)
    error = {"Error": {"Code": "ModelError", "Message": f'Received client error (400) from primary with message "{original}". See ...'}}
    assert model_error_message({**error, "OriginalStatusCode": 400, "OriginalMessage": original}) == (
        "the model container answered 400: width must be a multiple of 8, not 65"
    )
    plain = {**error, "OriginalStatusCode": 500, "OriginalMessage": "CUDA out of memory"}
    assert model_error_message(plain) == "the model container answered 500: CUDA out of memory"


def test_a_model_error_without_the_containers_answer_keeps_sagemakers_message() -> None:
    timed_out = {"Error": {"Code": "ModelError", "Message": "Your invocation timed out while waiting for a response from container primary."}}
    assert model_error_message(timed_out) == "Your invocation timed out while waiting for a response from container primary."
