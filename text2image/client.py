"""A small client for the text2image API (local gateway or deployed CloudFront URL)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from email.message import Message
from typing import Any

DEFAULT_API = "http://127.0.0.1:8000"
# Polling a job: first look after 0.3 s, then back off by 1.5x up to 2 s while nothing changes.
POLL_FIRST, POLL_MAX, POLL_GROWTH = 0.3, 2.0, 1.5


class ApiCallFailed(Exception):
    """The API answered with an error; ``status``, ``body`` and ``headers`` (Retry-After on a
    429) say what it said."""

    def __init__(self, status: int, body: dict[str, Any], headers: Message | None = None) -> None:
        self.status, self.body, self.headers = status, body, headers or Message()
        super().__init__(f"{status} {body.get('error', 'Error')}: {body.get('message', '')}")


def fetch(request: urllib.request.Request | str, timeout: float = 30) -> tuple[int, Message, bytes]:
    """(status, headers, body) of one HTTP exchange, whatever the status."""
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


def _call(api: str, method: str, path: str, request: dict[str, Any] | None, expected: int, timeout: float, token: str | None) -> dict[str, Any]:
    """One API call (a JSON body when ``request`` is given; the signed-in user's ID token as
    ``Authorization`` when ``token`` is); the answer on ``expected``, ``ApiCallFailed`` otherwise."""
    headers = {"Content-Type": "application/json"} if request is not None else {}
    if token:
        headers["Authorization"] = token
    data = json.dumps(request).encode() if request is not None else None
    status, answer_headers, body = fetch(urllib.request.Request(api.rstrip("/") + path, data=data, headers=headers, method=method), timeout)
    try:
        answer = json.loads(body)
    except json.JSONDecodeError:
        answer = {"error": "InvalidResponse", "message": body[:200].decode(errors="replace")}
    if status != expected:
        raise ApiCallFailed(status, answer if isinstance(answer, dict) else {"error": "InvalidResponse"}, answer_headers)
    return dict(answer)


def text2image(api: str, request: dict[str, Any], timeout: float = 330, token: str | None = None) -> dict[str, Any]:
    """``POST /text2image``: the response object once every image is done."""
    return _call(api, "POST", "/text2image", request, 200, timeout, token)


def start_job(api: str, request: dict[str, Any], timeout: float = 30, token: str | None = None) -> dict[str, Any]:
    """``POST /text2image/jobs``: its 202 answer (request_id, status_url, planned image URLs)."""
    return _call(api, "POST", "/text2image/jobs", request, 202, timeout, token)


def history(api: str, token: str | None, limit: int | None = None, cursor: str | None = None, timeout: float = 30) -> dict[str, Any]:
    """``GET /text2image/history``: one page of the signed-in user's runs, newest first
    (``{"runs": [...], "next": cursor or None}``)."""
    query = urllib.parse.urlencode({name: value for name, value in (("limit", limit), ("cursor", cursor)) if value is not None})
    return _call(api, "GET", "/text2image/history" + (f"?{query}" if query else ""), None, 200, timeout, token)


def discovery(api: str, timeout: float = 30) -> dict[str, Any]:
    """``GET /config.json``: whether the API takes sign-in, and with which user pool."""
    return _call(api, "GET", "/config.json", None, 200, timeout, None)


def download(url: str, timeout: float = 60) -> bytes:
    status, _, body = fetch(url, timeout)
    if status != 200:
        raise ApiCallFailed(status, {"error": "DownloadFailed", "message": url})
    return body


def exists(url: str, timeout: float = 30) -> bool:
    """True once the object at ``url`` has been written (HEAD answers 200)."""
    status, _, _ = fetch(urllib.request.Request(url, method="HEAD"), timeout)
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
        status, _, body = fetch(job["status_url"])
        if status == 200:
            manifest: dict[str, Any] = json.loads(body)
            return manifest
        delay = POLL_FIRST if arrived else min(POLL_MAX, delay * POLL_GROWTH)
    return None
