"""A small client for the text2image API (local gateway or deployed CloudFront URL)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

DEFAULT_API = "http://127.0.0.1:8000"


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
