"""Normalize the three ways a request arrives into (request, request_id, origin, caller).

- a plain request (API Gateway, the Step Functions console, the CLI): the execution
  name is the request id; the API wraps it as ``{"request", "caller"}`` with sign-in on
  (the signed-in user, from the ID token's claims: docs/design.md, "Sign-in and quotas"), and
  the sync route adds ``"route": "sync"`` (such a run answers at once, so it never waits for a
  cold endpoint: docs/design.md, "Scale to zero"); a line of a batch (the batch workflow's child
  run) comes as ``{"request", "batch": {"id", "line", "deal_from"}}``;
- an S3 "Object Created" EventBridge event for a prompt file under ``prompts/``;
- a custom EventBridge event (``source: text2image``, ``detail-type: Text2Image Request``).

Event runs get a request id derived from the event itself, so an event delivered twice
rewrites the same keys instead of making new images.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypedDict

from request_validation import ValidationError

PROMPTS_PREFIX = "prompts/"
CUSTOM_SOURCE = "text2image"
CUSTOM_DETAIL_TYPE = "Text2Image Request"
# Characters that are safe in S3 keys, URLs and execution names alike.
_SAFE_ID = re.compile(r"[A-Za-z0-9_-]{1,80}")  # fullmatch: "$" would let a trailing newline through

ReadObject = Callable[[str, str], bytes]
# The API's wrapping of a request: the request, and optionally who sent it, which route started the
# run, and which line of which batch it is.
WRAPPER_KEYS = frozenset({"request", "caller", "route", "batch"})
SYNC_ROUTE = "sync"


class Caller(TypedDict):
    """The signed-in user a request came from (the API's Cognito authorizer checked the token)."""

    sub: str
    username: str


class BatchLine(TypedDict):
    """Which line of a batch a run is (the batch workflow's child input, from the stored
    batches/<id>/input.jsonl): ``deal_from`` images of the lines before it were dealt first."""

    id: str
    line: int
    deal_from: int


@dataclass(frozen=True)
class Source:
    request: Any  # not validated yet
    request_id: str
    origin: str  # "request" | "s3" | "event"
    caller: Caller | None = None  # None: not signed in (sign-in off, the console, events)
    sync: bool = False  # started by the sync route, whose caller waits for the answer: never wait for a cold endpoint
    batch: BatchLine | None = None  # None: not a line of a batch

    @property
    def deal_from(self) -> int:
        """How many images were dealt before this run's first (planning.assign)."""
        return self.batch["deal_from"] if self.batch else 0


def normalize(execution_input: Any, execution_name: Any, read_object: ReadObject) -> Source:
    if isinstance(execution_input, dict) and "detail-type" in execution_input and "detail" in execution_input:
        return _from_event(execution_input, read_object)
    # A request has no field named "request", "caller", "route" or "batch" (the schema refuses unknown
    # fields), so "request" with nothing but these beside it is the API's wrapping.
    if isinstance(execution_input, dict) and "request" in execution_input and set(execution_input) <= WRAPPER_KEYS:
        # A batch line names its batch's caller, null when the batch has none (sign-in off, a dropped file).
        caller = caller_of(execution_input["caller"]) if execution_input.get("caller") is not None else None
        batch = batch_line_of(execution_input["batch"]) if "batch" in execution_input else None
        sync = route_is_sync(execution_input.get("route"))
        return Source(execution_input["request"], request_id_for(execution_name), "request", caller, sync=sync, batch=batch)
    return Source(execution_input, request_id_for(execution_name), "request")


def route_is_sync(route: Any) -> bool:
    """The wrapping names the sync route, or no route (the jobs route wraps a signed-in request without one)."""
    if route not in (None, SYNC_ROUTE):
        raise ValidationError("route", f'must be "{SYNC_ROUTE}" (the API\'s sync route) or absent, not {route!r}')
    return route is not None


def caller_of(caller: Any) -> Caller:
    if not (isinstance(caller, dict) and all(isinstance(caller.get(name), str) for name in ("sub", "username")) and caller["sub"]):
        raise ValidationError("caller", 'must be {"sub": <the user\'s id>, "username": <name>}, as the API\'s authorizer passes it')
    return {"sub": caller["sub"], "username": caller["username"]}


def batch_line_of(batch: Any) -> BatchLine:
    def whole(value: Any, low: int) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and value >= low

    if not (
        isinstance(batch, dict)
        and set(batch) == {"id", "line", "deal_from"}
        and isinstance(batch["id"], str)
        and _SAFE_ID.fullmatch(batch["id"])
        and whole(batch["line"], 1)
        and whole(batch["deal_from"], 0)
    ):
        raise ValidationError("batch", 'must be {"id": <the batch id>, "line": <1 or more>, "deal_from": <0 or more images>}, as the batch workflow passes it')
    return {"id": batch["id"], "line": batch["line"], "deal_from": batch["deal_from"]}


def request_id_for(name: Any) -> str:
    """The execution name when it is safe to put in a key; a digest of it otherwise,
    so user text never reaches an S3 key. AWS always names an execution (a UUID when the
    caller gives no name); anything else is refused with a clear error, never a TypeError."""
    if not isinstance(name, str) or not name:
        raise ValidationError("execution_name", f"must be the execution's name, a non-empty string (got {name!r})")
    return name if _SAFE_ID.fullmatch(name) else _digest("name", name)


def _digest(kind: str, *parts: str) -> str:
    return f"{kind}-" + hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]


def _from_event(event: dict[str, Any], read_object: ReadObject) -> Source:
    # Imported here: pydantic costs ~0.3 s of cold start that plain requests never need.
    from aws_lambda_powertools.utilities.parser import ValidationError as ModelError
    from aws_lambda_powertools.utilities.parser import parse
    from aws_lambda_powertools.utilities.parser.models import (
        EventBridgeModel,
        S3EventNotificationEventBridgeModel,
    )

    try:
        if event.get("source") == "aws.s3" and event.get("detail-type") == "Object Created":
            s3_event = parse(event=event, model=S3EventNotificationEventBridgeModel)
            bucket, obj = s3_event.detail.bucket.name, s3_event.detail.object
            return _from_prompt_file(bucket, obj.key, f"{obj.sequencer}/{obj.etag}", read_object)
        if event.get("source") == CUSTOM_SOURCE and event.get("detail-type") == CUSTOM_DETAIL_TYPE:
            custom = parse(event=event, model=EventBridgeModel)
            return Source(custom.detail, _digest("event", custom.id), "event")
    except ModelError as exc:
        raise ValidationError("event", f"is not a well-formed EventBridge event ({exc.errors()[0]['msg']})") from None
    raise ValidationError(
        "event",
        f"unsupported source/detail-type {event.get('source')!r}/{event.get('detail-type')!r}; "
        f"expected aws.s3/Object Created or {CUSTOM_SOURCE}/{CUSTOM_DETAIL_TYPE}",
    )


def _from_prompt_file(bucket: str, key: str, version: str, read_object: ReadObject) -> Source:
    """``version`` (sequencer + etag) tells one upload of a key from the next, so a
    redelivered event maps to the same request and a new upload to a new one."""
    if not key.startswith(PROMPTS_PREFIX):
        raise ValidationError("event", f"prompt files must be under {PROMPTS_PREFIX}")
    try:
        request = json.loads(read_object(bucket, key))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValidationError("body", f"the prompt file is not JSON ({exc})") from None
    return Source(request, _digest("s3", bucket, key, version), "s3")
