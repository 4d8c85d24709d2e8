from __future__ import annotations

import base64
import io
import json

import pytest
from PIL import Image

from model_answer import InvalidModelResponse, images_from_answer, jpeg_size, model_error_message


def jpeg(width: int, height: int, **save: object) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 40)).save(out, format="JPEG", **save)
    return out.getvalue()


def answer(*images: bytes) -> bytes:
    return json.dumps({"generated_images": [base64.b64encode(i).decode() for i in images], "prompt": "p"}).encode()


# An EXIF block of 600 bytes before the frame header: a segment length needs both its bytes.
LONG_EXIF = b"Exif\x00\x00" + b"x" * 600


@pytest.mark.parametrize(
    ("width", "height", "save"),
    [(768, 512, {}), (256, 1280, {}), (1024, 600, {"progressive": True}), (64, 64, {"quality": 10}), (320, 200, {"exif": LONG_EXIF})],
)
def test_jpeg_size_reads_the_frame_header(width: int, height: int, save: dict[str, object]) -> None:
    assert jpeg_size(jpeg(width, height, **save)) == (width, height)


@pytest.mark.parametrize("data", [b"", b"\x89PNG\r\n", b"\xff\xd8", b"\xff\xd8\x00\x00\x00\x00", b"\xff\xd8\xff\xda\x00\x02"])
def test_jpeg_size_refuses_what_is_not_a_jpeg(data: bytes) -> None:
    with pytest.raises(ValueError):
        jpeg_size(data)


def test_a_good_answer_gives_the_jpeg_bytes_of_each_image_in_order() -> None:
    image, other = jpeg(768, 512), jpeg(768, 512, quality=20)
    assert images_from_answer(answer(image), 1, 768, 512) == [image]
    assert images_from_answer(answer(image, other), 2, 768, 512) == [image, other]


@pytest.mark.parametrize(("made", "asked"), [(1, 2), (3, 2)])
def test_an_answer_with_another_number_of_images_than_asked_is_refused(made: int, asked: int) -> None:
    with pytest.raises(InvalidModelResponse) as raised:
        images_from_answer(answer(*[jpeg(64, 64)] * made), asked, 64, 64)
    assert str(raised.value) == f"the answer has {made} images, {asked} were asked for"


def test_one_bad_image_spoils_the_call_and_is_named_by_its_place() -> None:
    good = jpeg(64, 64)
    body = json.dumps({"generated_images": [base64.b64encode(good).decode(), "%%%"]}).encode()
    with pytest.raises(InvalidModelResponse) as raised:
        images_from_answer(body, 2, 64, 64)
    assert str(raised.value) == "generated_images[1] is not valid base64"
    with pytest.raises(InvalidModelResponse) as raised:
        images_from_answer(answer(good, jpeg(64, 96)), 2, 64, 64)
    assert str(raised.value) == "generated_images[1] is 64x96, 64x64 was asked for"


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
        images_from_answer(body, 1, 768, 512)


def test_an_image_of_the_wrong_size_is_refused() -> None:
    with pytest.raises(InvalidModelResponse, match="is 512x512, 768x512 was asked for"):
        images_from_answer(answer(jpeg(512, 512)), 1, 768, 512)


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


def segment(marker: int, payload: bytes) -> bytes:
    """A JPEG marker segment: FF, the marker, a length that counts itself, the payload."""
    return bytes([0xFF, marker]) + (len(payload) + 2).to_bytes(2, "big") + payload


def frame(width: int, height: int, marker: int = 0xC0) -> bytes:
    """A start-of-frame segment: precision, height, width, one component."""
    return segment(marker, bytes([8]) + height.to_bytes(2, "big") + width.to_bytes(2, "big") + bytes([1, 1, 0x11, 0]))


SOI = b"\xff\xd8"


@pytest.mark.parametrize("marker", [0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF])
def test_every_start_of_frame_marker_gives_the_size(marker: int) -> None:
    assert jpeg_size(SOI + segment(0xE0, b"JFIF\x00") + frame(300, 200, marker)) == (300, 200)


@pytest.mark.parametrize("marker", [0xBF, 0xC4, 0xC8, 0xCC, 0xDB, 0xDD, 0xE1, 0xFE])
def test_segments_that_are_no_frame_are_skipped_by_their_length(marker: int) -> None:
    """DHT (C4), JPG (C8) and DAC (CC) sit in the C0..CF range but carry no size; BF is a reserved marker just below it."""
    lookalike = segment(marker, bytes([8]) + (999).to_bytes(2, "big") + (888).to_bytes(2, "big") + bytes(6))
    assert jpeg_size(SOI + lookalike + frame(640, 480)) == (640, 480)


@pytest.mark.parametrize("marker", [0x01, 0xD0, 0xD1, 0xD2, 0xD3, 0xD4, 0xD5, 0xD6, 0xD7])
def test_standalone_markers_have_no_length_and_are_stepped_over(marker: int) -> None:
    assert jpeg_size(SOI + bytes([0xFF, marker]) + frame(72, 56)) == (72, 56)


def test_a_second_start_of_image_is_no_marker_to_step_over() -> None:
    """libjpeg refuses a repeated SOI (jdmarker.c: JERR_SOI_DUPLICATE, "two SOI markers"): such an
    answer is refused, not read as a JPEG whose second SOI stands alone like a restart marker."""
    with pytest.raises(ValueError):
        jpeg_size(SOI + SOI + frame(64, 64))


def test_fill_bytes_before_a_marker_are_skipped() -> None:
    assert jpeg_size(SOI + b"\xff\xff\xff" + frame(96, 64)) == (96, 64)
    assert jpeg_size(SOI + segment(0xE0, b"JFIF\x00") + b"\xff" + frame(64, 96)) == (64, 96)


def test_a_frame_header_that_ends_with_the_data_is_read() -> None:
    header = SOI + frame(1280, 256)[:9]  # FF C0, length, precision, height, width: nothing after
    assert jpeg_size(header) == (1280, 256)


@pytest.mark.parametrize("cut", [1, 2, 4, 5])
def test_a_truncated_frame_header_is_no_frame_header(cut: int) -> None:
    with pytest.raises(ValueError, match=r"^no JPEG frame header$"):
        jpeg_size(SOI + frame(1280, 256)[: 9 - cut])


def test_a_frame_header_after_the_start_of_scan_is_not_read() -> None:
    with pytest.raises(ValueError, match=r"^no JPEG frame header$"):
        jpeg_size(SOI + segment(0xDA, b"\x01\x01\x00\x00\x3f\x00") + frame(64, 64))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "no JPEG start-of-image marker"),
        (b"\xff", "no JPEG start-of-image marker"),
        (b"\xff\xd9" + frame(64, 64), "no JPEG start-of-image marker"),
        (SOI, "no JPEG frame header"),
        (SOI + b"\x00\x00\x00", "no JPEG frame header"),  # too short for a segment header
        (SOI + b"\x00\x00\x00\x00", "broken JPEG segment at byte 2"),
        (SOI + segment(0xE0, b"JFIF\x00") + b"\x12\x34" + frame(64, 64), "broken JPEG segment at byte 11"),
        (SOI + segment(0xE0, bytes(20)), "no JPEG frame header"),
    ],
)
def test_what_is_no_jpeg_is_refused_saying_where(data: bytes, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        jpeg_size(data)
    assert str(raised.value) == message


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<html>", "the endpoint answered 6 bytes that are not JSON"),
        (b'{"generated_images": ["\x80"]}', "the endpoint answered 27 bytes that are not JSON"),
        (b'"generated_images"', "the answer has no generated_images list of base64 strings"),
        (b'{"images": ["/9j/"]}', "the answer has no generated_images list of base64 strings"),
        (b'{"generated_images": "/9j/"}', "the answer has no generated_images list of base64 strings"),
        (b'{"generated_images": [[255, 216]]}', "the answer has no generated_images list of base64 strings"),
        (b'{"generated_images": [[255, 216], "/9j/"]}', "the answer has no generated_images list of base64 strings"),
        (b'{"generated_images": ["/9j"]}', "generated_images[0] is not valid base64"),
        (b'{"generated_images": ["R0lGODlh"]}', "generated_images[0] is not a JPEG (no JPEG start-of-image marker)"),
    ],
)
def test_each_bad_answer_says_what_is_wrong(body: bytes, message: str) -> None:
    with pytest.raises(InvalidModelResponse) as raised:
        images_from_answer(body, 1, 768, 512)
    assert str(raised.value) == message


def test_each_images_size_is_checked_width_first() -> None:
    wide, tall = jpeg(96, 64), jpeg(64, 96)
    assert images_from_answer(answer(wide), 1, 96, 64) == [wide]
    with pytest.raises(InvalidModelResponse) as raised:
        images_from_answer(answer(tall), 1, 96, 64)
    assert str(raised.value) == "generated_images[0] is 64x96, 96x64 was asked for"


@pytest.mark.parametrize(
    ("original", "reason"),
    [
        ('{"message": "prompt is required"}', "prompt is required"),
        ('["a", "list"]', '["a", "list"]'),  # JSON, but not an object
        ('"a string"', '"a string"'),
        ('{"message": 5}', '{"message": 5}'),
        ('{"code": 400}', '{"code": 400}'),
        ("", ""),
    ],
)
def test_the_containers_answer_is_its_message_when_it_has_one_else_the_whole_answer(original: str, reason: str) -> None:
    error = {"Error": {"Code": "ModelError", "Message": "SageMaker's sentence"}, "OriginalStatusCode": 424, "OriginalMessage": original}
    assert model_error_message(error) == f"the model container answered 424: {reason}"


@pytest.mark.parametrize(
    "error",
    [
        {"Error": {"Message": "SageMaker's sentence"}, "OriginalMessage": "body"},  # no status
        {"Error": {"Message": "SageMaker's sentence"}, "OriginalStatusCode": 500},  # no body
        {"Error": {"Message": "SageMaker's sentence"}, "OriginalStatusCode": 500, "OriginalMessage": None},
        {"Error": {"Message": "SageMaker's sentence"}, "OriginalStatusCode": 500, "OriginalMessage": 7},
    ],
)
def test_without_a_status_and_a_text_body_sagemakers_message_is_kept(error: dict[str, object]) -> None:
    assert model_error_message(error) == "SageMaker's sentence"


@pytest.mark.parametrize("error", [{}, {"Error": "not a mapping"}, {"Error": {"Code": "ModelError"}}])
def test_an_error_with_no_message_at_all_is_an_empty_reason(error: dict[str, object]) -> None:
    assert model_error_message(error) == ""
