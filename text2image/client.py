"""A small client for the text2image API (local gateway or deployed CloudFront URL)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

DEFAULT_API = "http://127.0.0.1:8000"
# Polling a job: first look after 0.3 s, then back off by 1.5x up to 2 s while nothing changes.
POLL_FIRST, POLL_MAX, POLL_GROWTH = 0.3, 2.0, 1.5


class ApiCallFailed(Exception):
    """The API answered with an error; ``status`` and ``body`` say what it said."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        self.status, self.body = status, body
        super().__init__(f"{status} {body.get('error', 'Error')}: {body.get('message', '')}")


def _open(request: urllib.request.Request, timeout: float) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def text2image(api: str, request: dict[str, Any], timeout: float = 330) -> dict[str, Any]:
    """POST the request; the response object on 200, ``ApiCallFailed`` otherwise."""
    http_request = urllib.request.Request(
        api.rstrip("/") + "/text2image",
        data=json.dumps(request).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    status, body = _open(http_request, timeout)
    try:
        answer = json.loads(body)
    except json.JSONDecodeError:
        answer = {"error": "InvalidResponse", "message": body[:200].decode(errors="replace")}
    if status != 200:
        raise ApiCallFailed(status, answer)
    return dict(answer)


def download(url: str, timeout: float = 60) -> bytes:
    status, body = _open(urllib.request.Request(url), timeout)
    if status != 200:
        raise ApiCallFailed(status, {"error": "DownloadFailed", "message": url})
    return body


def start_job(api: str, request: dict[str, Any], timeout: float = 30) -> dict[str, Any]:
    """POST to the jobs route; its 202 answer (request_id, status_url, planned image URLs)."""
    http_request = urllib.request.Request(
        api.rstrip("/") + "/text2image/jobs",
        data=json.dumps(request).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    status, body = _open(http_request, timeout)
    try:
        answer = json.loads(body)
    except json.JSONDecodeError:
        answer = {"error": "InvalidResponse", "message": body[:200].decode(errors="replace")}
    if status != 202:
        raise ApiCallFailed(status, answer)
    return dict(answer)


def exists(url: str, timeout: float = 30) -> bool:
    """True once the object at ``url`` has been written (HEAD answers 200)."""
    status, _ = _open(urllib.request.Request(url, method="HEAD"), timeout)
    return status == 200


def follow_job(job: dict[str, Any], on_image: Any, give_up_after: float = 330.0) -> dict[str, Any] | None:
    """Poll the planned images (``on_image(index, url)`` as each appears) and the manifest,
    backing off while nothing changes; the manifest, or None after ``give_up_after`` seconds
    (the workflow's 5-minute limit and a margin)."""
    pending = dict(enumerate(job["images"]))
    delay, started = POLL_FIRST, time.monotonic()
    while time.monotonic() - started < give_up_after:
        time.sleep(delay)
        arrived = [index for index, url in pending.items() if exists(url)]
        for index in arrived:
            on_image(index, pending.pop(index))
        status, body = _open(urllib.request.Request(job["status_url"]), 30)
        if status == 200:
            manifest: dict[str, Any] = json.loads(body)
            return manifest
        delay = POLL_FIRST if arrived else min(POLL_MAX, delay * POLL_GROWTH)
    return None
