"""Read what a model endpoint answered: check an answer before anything is written (JSON,
base64, and really a JPEG of the asked size: SOF header read directly, no imaging library
in Lambda), and make a model's error readable."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any


class InvalidModelResponse(Exception):
    """The endpoint answered, but not with a usable image (not retried: a broken model
    gives the same answer again)."""


# Start-of-frame markers carry the frame size; C4 (DHT), C8 (JPG) and CC (DAC) are not frames.
_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_STANDALONE_MARKERS = frozenset(range(0xD0, 0xD8)) | {0x01}


def jpeg_size(data: bytes) -> tuple[int, int]:
    """(width, height) from the first SOF segment; ``ValueError`` when ``data`` is no JPEG."""
    if data[:2] != b"\xff\xd8":
        raise ValueError("no JPEG start-of-image marker")
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            raise ValueError(f"broken JPEG segment at byte {pos}")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in _STANDALONE_MARKERS:
            pos += 2
            continue
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        if marker in _SOF_MARKERS:
            if pos + 9 > len(data):
                break
            height = int.from_bytes(data[pos + 5 : pos + 7], "big")
            width = int.from_bytes(data[pos + 7 : pos + 9], "big")
            return width, height
        if marker == 0xDA:  # start of scan before any frame header
            break
        pos += 2 + length
    raise ValueError("no JPEG frame header")


def images_from_answer(body: bytes, count: int, width: int, height: int) -> list[bytes]:
    """The JPEG bytes of the ``count`` generated images, in seed order, or ``InvalidModelResponse``
    saying why (one bad image spoils the call: nothing is written)."""
    try:
        answer: Any = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise InvalidModelResponse(f"the endpoint answered {len(body)} bytes that are not JSON") from None
    images = answer.get("generated_images") if isinstance(answer, dict) else None
    if not isinstance(images, list) or not images or not all(isinstance(image, str) for image in images):
        raise InvalidModelResponse("the answer has no generated_images list of base64 strings")
    if len(images) != count:
        raise InvalidModelResponse(f"the answer has {len(images)} images, {count} were asked for")
    return [_jpeg(image, at, width, height) for at, image in enumerate(images)]


def _jpeg(encoded: str, at: int, width: int, height: int) -> bytes:
    try:
        jpeg = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidModelResponse(f"generated_images[{at}] is not valid base64") from None
    try:
        size = jpeg_size(jpeg)
    except ValueError as exc:
        raise InvalidModelResponse(f"generated_images[{at}] is not a JPEG ({exc})") from None
    if size != (width, height):
        raise InvalidModelResponse(f"generated_images[{at}] is {size[0]}x{size[1]}, {width}x{height} was asked for")
    return jpeg


def model_error_message(error: Mapping[str, object]) -> str:
    """The reason in a ModelError. SageMaker wraps the container's answer in its own sentence
    and also hands it over as ``OriginalStatusCode``/``OriginalMessage``; a model server's JSON
    error body (``{"code", "type", "message"}``) is reduced to its message."""
    details = error.get("Error")
    wrapped = str(details.get("Message", "")) if isinstance(details, Mapping) else ""
    original, status = error.get("OriginalMessage"), error.get("OriginalStatusCode")
    if not isinstance(original, str) or status is None:
        return wrapped
    try:
        body: Any = json.loads(original)
    except json.JSONDecodeError:
        body = None
    reason = body["message"] if isinstance(body, dict) and isinstance(body.get("message"), str) else original
    return f"the model container answered {status}: {reason}"
