"""A small client for the text2image API (local gateway or deployed CloudFront URL)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from typing import Any, TypeVar

from text2image.routes import BATCH_MAX_BYTES

DEFAULT_API = "http://127.0.0.1:8000"
# Polling a job: first look after 0.3 s, then back off by 1.5x up to 2 s while nothing changes.
POLL_FIRST, POLL_MAX, POLL_GROWTH = 0.3, 2.0, 1.5
# Waiting for GPUs that are starting (endpoints scaled to zero): by default 3 x the API's first
# estimate and at least 15 minutes in all; never less than a second between two tries.
WARM_WAIT_MIN, WARM_WAIT_FACTOR, WARM_RETRY_MIN = 900.0, 3.0, 1.0
# How often `warm --wait` asks again (the warm route is idempotent: asking again changes nothing):
# every WARM_POLL seconds, or a third of the time the GPUs still need where that is shorter (never
# under WARM_POLL_MIN), so that a copy is seen warm before it can go idle again (a local stack's
# idle window is seconds; web/warm.js asks on the same rule).
WARM_POLL, WARM_POLL_MIN = 5.0, 0.5
WARMING_UP = "WarmingUp"
ENDPOINT_COLD = "EndpointCold"
# A batch file's Content-Type, by its name: JSONL (one request a line) or CSV (a text column, the
# others named like the request's fields).
BATCH_MEDIA_TYPES = {".jsonl": "application/x-ndjson", ".ndjson": "application/x-ndjson", ".csv": "text/csv"}
# Following a batch: the workflow rewrites status.json about every 10 s while the batch runs, so
# the first look is after 1 s, then 1.5x less often up to every 5 s.
BATCH_POLL_FIRST, BATCH_POLL_MAX, BATCH_POLL_GROWTH = 1.0, 5.0, 1.5
BATCH_ENDS = frozenset({"succeeded", "partial", "failed", "invalid"})
# The submit writes status.json before it answers 202. A look that does not find it (404, or 403
# from a bucket that does not say which keys exist) is tried again this long, in case an edge
# still holds an earlier answer; then there is no such batch.
BATCH_STATUS_GRACE = 30.0
STATUS_MISSING = frozenset({403, 404})
# Failed looks in a row (the network, throttling, a 5xx) before following a batch gives up: a
# batch runs for hours, and one hiccup should not end the wait.
BATCH_POLL_FAILURES = 5

T = TypeVar("T")


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
    content = (json.dumps(request).encode(), "application/json") if request is not None else None
    return _exchange(api, method, path, content, expected, timeout, token)


def _exchange(api: str, method: str, path: str, content: tuple[bytes, str] | None, expected: int, timeout: float, token: str | None) -> dict[str, Any]:
    """``_call`` with any body: ``content`` is (its bytes, its Content-Type)."""
    headers = {"Content-Type": content[1]} if content is not None else {}
    if token:
        headers["Authorization"] = token
    data = content[0] if content is not None else None
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


def warm(api: str, token: str | None, timeout: float = 30) -> dict[str, Any]:
    """``POST /text2image/warm``: ask for a copy of the model on every endpoint scaled to zero;
    its 202 answer (``{"endpoints": [{"endpoint", "component", "state", "copies"}], "retry_after"}``).
    Only stacks whose endpoints scale to zero have the route (404 elsewhere)."""
    return _call(api, "POST", "/text2image/warm", None, 202, timeout, token)


def discovery(api: str, timeout: float = 30) -> dict[str, Any]:
    """``GET /config.json``: whether the API takes sign-in, and with which user pool."""
    return _call(api, "GET", "/config.json", None, 200, timeout, None)


def batch_media_type(path: Path) -> str:
    """The Content-Type a batch file is sent with, by its name; ValueError for any other name."""
    media_type = BATCH_MEDIA_TYPES.get(path.suffix.lower())
    if media_type is None:
        raise ValueError(f"{path}: a batch file is JSONL (.jsonl, .ndjson) or CSV (.csv), by its name")
    return media_type


def read_batch_file(path: Path) -> bytes:
    """The file's bytes, or ValueError when it is larger than the API takes: checked before
    sending, since past that size the API's own answer can be a bare 413 (text2image/routes.py)."""
    size = path.stat().st_size
    if size > BATCH_MAX_BYTES:
        raise ValueError(
            f"{path} is {size} bytes; the API takes files of up to {BATCH_MAX_BYTES} ({BATCH_MAX_BYTES / 2**20:g} MiB): "
            "split it, or put it under batches/inbox/ in the stack's bucket"
        )
    return path.read_bytes()


def submit_batch(api: str, content: bytes, media_type: str, token: str | None, timeout: float = 60) -> dict[str, Any]:
    """``POST /text2image/batches``: its 202 answer (``{"batch_id", "status_url", "lines"}``). A
    file with bad lines is refused whole: a 400 whose body lists each one in ``lines``."""
    return _exchange(api, "POST", "/text2image/batches", (content, media_type), 202, timeout, token)


def batch_status(status_url: str, timeout: float = 60) -> dict[str, Any]:
    """One look at a batch's status.json; ``ApiCallFailed`` for any answer but 200 (404: no such batch)."""
    status, _, body = fetch(status_url, timeout)
    return _status_document(status_url, status, body)


def _status_document(status_url: str, status: int, body: bytes) -> dict[str, Any]:
    if status != 200:
        raise ApiCallFailed(status, {"error": "StatusUnreadable", "message": f"{status_url} answered {status}"})
    try:
        return dict(json.loads(body))
    except (json.JSONDecodeError, TypeError, ValueError):
        raise ApiCallFailed(status, {"error": "InvalidResponse", "message": f"{status_url} is not a JSON object"}) from None


def follow_batch(status_url: str, on_status: Callable[[dict[str, Any]], None], waiting: Waiting, timeout: float = 60) -> dict[str, Any]:
    """Look at a batch's status.json until the batch has ended (backing off from BATCH_POLL_FIRST
    to BATCH_POLL_MAX seconds), ``on_status`` with each new version; the last one. Each look asks
    only for a newer version than the last (If-None-Match: a 10,000-line document is megabytes).
    A missing document is looked for again for BATCH_STATUS_GRACE seconds, a failed look (the
    network, a 429 or 5xx) up to BATCH_POLL_FAILURES times in a row; then the failure is raised."""
    delay, etag, seen, failures = BATCH_POLL_FIRST, None, False, 0
    started = waiting.clock()
    while True:
        try:
            status, headers, body = fetch(urllib.request.Request(status_url, headers={"If-None-Match": etag} if etag else {}), timeout)
            document = None if status == 304 else _status_document(status_url, status, body)
        except (ApiCallFailed, OSError) as exc:
            failures += 1
            if isinstance(exc, ApiCallFailed) and exc.status in STATUS_MISSING and not seen:
                if waiting.clock() - started >= BATCH_STATUS_GRACE:
                    raise
            elif failures >= BATCH_POLL_FAILURES or not _transient(exc):
                raise
        else:
            failures = 0
            if document is not None:
                seen, etag = True, headers.get("ETag")
                on_status(document)
                if document["status"] in BATCH_ENDS:
                    return document
        waiting.sleep(delay)
        delay = min(BATCH_POLL_MAX, delay * BATCH_POLL_GROWTH)


def _transient(exc: Exception) -> bool:
    """A failure worth another look: the network, throttling or a server error."""
    return isinstance(exc, OSError) or (isinstance(exc, ApiCallFailed) and (exc.status == 429 or exc.status >= 500))


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


def cold_job_failure(api: str, manifest: dict[str, Any]) -> ApiCallFailed | None:
    """A job that made no image because its endpoints were cold (every image ``EndpointCold``
    after the workflow's own wait: a cold start outlasts it) as the sync route's 503 WarmingUp, with
    the stack's cold-start estimate (/config.json) as its wait; None for any other outcome."""
    if manifest["status"] != "failed" or not manifest["errors"] or any(e["error"] != ENDPOINT_COLD for e in manifest["errors"]):
        return None
    warm_settings = discovery(api).get("warm") or {}
    seconds = warm_settings.get("coldStartSeconds", WARM_RETRY_MIN)
    body = {"error": WARMING_UP, "message": "the GPUs are starting", "retry_after": seconds, "request_id": manifest["request_id"], "errors": manifest["errors"]}
    return ApiCallFailed(503, body)


def warming_up_seconds(exc: ApiCallFailed) -> float | None:
    """The wait a ``503 WarmingUp`` asks for (its Retry-After header, else its body's
    ``retry_after``); None for any other failure."""
    if exc.status != 503 or exc.body.get("error") != WARMING_UP:
        return None
    for value in (exc.headers.get("Retry-After"), exc.body.get("retry_after")):
        if value is None:
            continue
        try:
            return max(WARM_RETRY_MIN, float(value))
        except (TypeError, ValueError):  # not seconds (an HTTP date): the next one, or the minimum
            continue
    return WARM_RETRY_MIN


@dataclass(frozen=True)
class Waiting:
    """How a client waits for GPUs that are starting: ``max_wait`` seconds in all (None: 3 x the
    API's first estimate, at least 15 minutes); ``sleep`` and ``clock`` are the real ones except
    in tests."""

    max_wait: float | None = None
    sleep: Callable[[float], None] = field(default=time.sleep)
    clock: Callable[[], float] = field(default=time.monotonic)

    def deadline(self, estimate: float) -> float:
        """When to give up, counted from now, given the API's first estimate of the cold start."""
        limit = self.max_wait if self.max_wait is not None else max(WARM_WAIT_MIN, WARM_WAIT_FACTOR * estimate)
        return self.clock() + limit


def while_warming(call: Callable[[], T], on_wait: Callable[[float, ApiCallFailed], None], waiting: Waiting) -> T:
    """``call()``'s answer; while it fails with ``503 WarmingUp``, ``on_wait(seconds, failure)``
    then sleep as long as the answer asked (Retry-After) and call again, until the waiting's
    deadline, then the last failure is raised. Any other failure is raised at once."""
    deadline: float | None = None
    while True:
        try:
            return call()
        except ApiCallFailed as exc:
            seconds = warming_up_seconds(exc)
            if seconds is None:
                raise
            deadline = waiting.deadline(seconds) if deadline is None else deadline
            left = deadline - waiting.clock()
            if left <= 0:
                raise
            wait = min(seconds, left)
            on_wait(wait, exc)
            waiting.sleep(wait)


def all_warm(answer: dict[str, Any]) -> bool:
    return all(endpoint["state"] == "warm" for endpoint in answer["endpoints"])


def warm_poll(retry_after: float) -> float:
    """Seconds until `warm --wait` asks again, given the answer's ``retry_after`` (see WARM_POLL)."""
    return min(WARM_POLL, max(WARM_POLL_MIN, retry_after / 3))


def warm_until_ready(ask: Callable[[], dict[str, Any]], on_answer: Callable[[dict[str, Any]], None], waiting: Waiting) -> bool:
    """Ask the warm route (``ask``) every ``warm_poll`` seconds, ``on_answer`` each answer, until
    every endpoint is warm (True) or the waiting's deadline passes (False)."""
    answer = ask()
    on_answer(answer)
    deadline = waiting.deadline(float(answer["retry_after"]))
    while not all_warm(answer):
        left = deadline - waiting.clock()
        if left <= 0:
            return False
        waiting.sleep(min(warm_poll(float(answer["retry_after"])), left))
        answer = ask()
        on_answer(answer)
    return True
