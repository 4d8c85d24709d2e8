"""What the deployed edge answers, declared once for infra/ and the local gateway.

CloudFront picks one behaviour per request by its path (``BEHAVIORS`` in order, then
``DEFAULT_BEHAVIOR``); the behaviour names the origin that answers and the methods it lets
through. infra/cdn.py builds the distribution's behaviours from this declaration and the local
gateway routes every request by it, so a pattern that catches the wrong paths breaks the page
locally too (as ``/text2image*`` did: it also matches ``/text2image.js``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from typing import TypeVar

# A method or path the REST API does not declare: API Gateway raises MISSING_AUTHENTICATION_TOKEN
# (a 403 by default, misleading for a public API); the stack answers it as this 404 instead,
# and the local gateway answers the same.
UNDECLARED_ROUTE_STATUS = 404
UNDECLARED_ROUTE_ERROR = "NotFound"
UNDECLARED_ROUTE_MESSAGE = "no such method or path on this API; see /openapi.json"

# A body that is not JSON by its Content-Type: the integrations map application/json only and
# pass nothing else through (NEVER), so API Gateway refuses it with 415. A request with no
# Content-Type is taken as application/json, as API Gateway does.
UNSUPPORTED_MEDIA_TYPE_STATUS = 415
UNSUPPORTED_MEDIA_TYPE_MESSAGE = "Content-Type: must be application/json"

# How large a body may be. API Gateway refuses a request over its payload limit itself
# (REQUEST_TOO_LARGE, answered by the stack's gateway response in the API's shape). Below it, a
# Lambda proxy route's event must fit a synchronous Invoke's request payload: an event over it
# never reaches the function, and API Gateway answers 413 PAYLOAD_TOO_LARGE_ANSWER (recorded from
# a REST API with a Lambda proxy integration, x-amzn-ErrorType BadRequestException; AWS's answer,
# not the API's shape). POST /text2image/batches takes files of up to BATCH_MAX_BYTES, which
# base64-encoded (a binary media type) is 5.6 MB, inside that payload with its event; the page and
# the CLI check a file's size before they send it. Bigger files go through the S3 drop.
API_GATEWAY_PAYLOAD_BYTES = 10 * 1024 * 1024
REQUEST_TOO_LARGE_MESSAGE = "body: over API Gateway's 10 MB limit; put a batch file that big under batches/inbox/ in the bucket"
LAMBDA_PAYLOAD_BYTES = 6 * 1024 * 1024
PAYLOAD_TOO_LARGE_STATUS = 413
PAYLOAD_TOO_LARGE_ANSWER = {"message": "Request Too Long"}
BATCH_MAX_BYTES = 4 * 1024 * 1024

# The sync route gave up waiting (API Gateway's 29 s integration timeout): the run goes on and
# its manifest appears under the request id, which the answer carries in "request_id" so the
# client can find it. Not in the message: on AWS it is a gateway response's plain substitution,
# where "$context.requestId.json" would not be read as the variable followed by ".json".
SYNC_TIMEOUT_STATUS = 504
SYNC_TIMEOUT_ERROR = "Timeout"
SYNC_TIMEOUT_MESSAGE = "no answer within {seconds:g} s; the run goes on, and its manifest will be at /requests/<request_id>.json"
API_GATEWAY_TIMEOUT_SECONDS = 29

# A method the path's behaviour does not let through: CloudFront answers it itself, before any
# origin, with a 403 (Invalid method) HTML page. The local gateway answers the same status in
# the API's JSON error shape.
DISALLOWED_METHOD_STATUS = 403
DISALLOWED_METHOD_ERROR = "Forbidden"
DISALLOWED_METHOD_MESSAGE = "this distribution is not configured to allow the HTTP request method that was used for this request"

# CloudFront lets through one of three sets of methods per behaviour: GET+HEAD, GET+HEAD+OPTIONS,
# or all seven below; the behaviours here use the first and the last. Nothing else (TRACE,
# CONNECT, an unknown name) ever passes it.
ALL_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"})
READ_METHODS = frozenset({"GET", "HEAD"})

# The routes the REST API declares (method, path); every other method or path that reaches the
# API origin is an undeclared route.
SYNC_ROUTE = ("POST", "/text2image")
JOBS_ROUTE = ("POST", "/text2image/jobs")
# A signed-in caller's runs ("My runs"): the history function, deployed only with sign-in.
HISTORY_ROUTE = ("GET", "/text2image/history")
# Ask cold GPUs for capacity ahead of a demo: declared only where the endpoints scale to zero.
WARM_ROUTE = ("POST", "/text2image/warm")
# A JSONL or CSV file of requests, run as one batch (the submit function, a Lambda proxy integration).
BATCHES_ROUTE = ("POST", "/text2image/batches")
API_ROUTES = (SYNC_ROUTE, JOBS_ROUTE, HISTORY_ROUTE, WARM_ROUTE, BATCHES_ROUTE)
# The routes only a signed-in caller may use when the stack has sign-in (text2image:auth cognito,
# `text2image up --auth`): API Gateway's Cognito authorizer on AWS, the local gateway's check.
SIGNED_IN_ROUTES = frozenset({SYNC_ROUTE, JOBS_ROUTE, HISTORY_ROUTE, WARM_ROUTE, BATCHES_ROUTE})
# The routes of a stack with sign-in only: there is no one to keep a history for without it.
SIGN_IN_ONLY_ROUTES = frozenset({HISTORY_ROUTE})
# The routes of a stack whose endpoints scale to zero only: elsewhere there is nothing to warm.
SCALE_TO_ZERO_ONLY_ROUTES = frozenset({WARM_ROUTE})

# A signed-in route called without a valid ID token (none, malformed, badly signed, expired, an
# access token, another client's): API Gateway's UNAUTHORIZED gateway response, as the stack
# answers it; the local gateway answers the same. Nothing is started.
UNAUTHORIZED_STATUS = 401
UNAUTHORIZED_ERROR = "Unauthorized"
UNAUTHORIZED_MESSAGE = "sign in first: send your ID token in the Authorization header"

# CORS for pages on other origins (text2image:corsOrigins, `text2image up --cors-origin`): the
# API's paths answer a preflight OPTIONS with 204, and every answer on them (errors included)
# carries these headers when the request's Origin is listed; an unlisted Origin gets none.
PREFLIGHT_STATUS = 204
CORS_ALLOW_METHODS = "GET, POST, OPTIONS"
CORS_ALLOW_HEADERS = "Authorization, Content-Type"
CORS_MAX_AGE_SECONDS = 600
# What a page on another origin may read beyond the safelisted headers: how long a 429 asks to wait.
CORS_EXPOSE_HEADERS = "Retry-After"


T = TypeVar("T")


class Origin(StrEnum):
    API = "api"  # the REST API's stage
    SITE = "site"  # the bucket's site/ prefix: the page
    OBJECTS = "objects"  # the bucket's root: images and manifests, at the keys the workflow writes


@dataclass(frozen=True)
class Behavior:
    path_pattern: str
    origin: Origin
    methods: frozenset[str]
    cached: bool
    # Answers carry the CORS headers for the listed origins (text2image:corsOrigins): the API's,
    # and /config.json, which a page on another origin reads to learn where to sign in.
    cors: bool = False


BEHAVIORS: tuple[Behavior, ...] = (
    # The exact path and what is under it, never a bare prefix: /text2image* would also take
    # the page's own /text2image.js, .css and .html.
    Behavior("/text2image", Origin.API, ALL_METHODS, cached=False, cors=True),
    Behavior("/text2image/*", Origin.API, ALL_METHODS, cached=False, cors=True),
    Behavior("/config.json", Origin.SITE, READ_METHODS, cached=True, cors=True),
    Behavior("/images/*", Origin.OBJECTS, READ_METHODS, cached=True),
    # A manifest is polled until it exists: never cache it, nor its absence.
    Behavior("/requests/*", Origin.OBJECTS, READ_METHODS, cached=False),
    # A batch's status document (POST /text2image/batches answers it as status_url), polled while
    # the batch runs: never cached. Only that document: the batch's input and results stay private.
    Behavior("/batches/*/status.json", Origin.OBJECTS, READ_METHODS, cached=False),
)
DEFAULT_BEHAVIOR = Behavior("*", Origin.SITE, READ_METHODS, cached=True)


@cache
def _pattern_regex(path_pattern: str) -> re.Pattern[str]:
    """CloudFront's path pattern: ``*`` is zero or more characters (``/`` included), ``?``
    exactly one, everything else literal and case-sensitive; a leading ``/`` is optional."""
    pattern = path_pattern if path_pattern.startswith("/") else "/" + path_pattern
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern), re.DOTALL)


def path_matches(path_pattern: str, path: str) -> bool:
    """Whether a request path (without its query string) matches a behaviour's path pattern."""
    return _pattern_regex(path_pattern).fullmatch(path) is not None


def select(path: str, ordered: Sequence[tuple[str, T]], default: T) -> T:
    """What CloudFront applies to ``path``: the first of ``ordered`` (path pattern, value)
    whose pattern matches, in the distribution's order; the default behaviour when none does."""
    return next((value for path_pattern, value in ordered if path_matches(path_pattern, path)), default)


def behavior_for(path: str) -> Behavior:
    return select(path, [(behavior.path_pattern, behavior) for behavior in BEHAVIORS], DEFAULT_BEHAVIOR)
