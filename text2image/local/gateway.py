"""The local gateway: what CloudFront + API Gateway do in the deployed stack.

Every request goes through CloudFront's behaviours (text2image/routes.py), as on AWS:

- ``/text2image`` and ``/text2image/*`` (the API): ``POST /text2image`` and
  ``POST /text2image/jobs`` with the edge checks of the deployed API (content type, size, the
  one JSON Schema, stage throttling), then the workflow, answered with the status mapping of
  docs/design.md ("Errors"); ``POST /text2image/batches`` (a JSONL or CSV file),
  ``GET /text2image/history`` and ``POST /text2image/warm`` through their functions, as API
  Gateway's Lambda proxy integration calls them, within its payload limits (text2image/routes.py);
  any other method or path there as the stack answers an undeclared route.
  With ``text2image up --auth`` the routes of ``SIGNED_IN_ROUTES`` take a valid ID token of the
  local user pool (auth.py, as API Gateway's Cognito authorizer) and the run's input names the
  caller; a preflight ``OPTIONS`` on the API's paths answers 204, and every answer there carries
  the CORS headers when the Origin is one of ``--cors-origin`` (text2image/cors.py);
- ``/images/*``, ``/requests/*``: objects from S3; anything else: the site (the page at ``/``,
  ``/config.json`` saying whether and where to sign in); GET and HEAD only, any other method
  answered with CloudFront's 403;
- ``/_local/*``: forwarded to the endpoint server's test hooks (``GET /_local/stats``,
  ``POST /_local/faults``), which exist only locally; the gateway itself holds no endpoint.

Requests come through the shared HTTP plumbing (http_service.py); what is here is routing.
"""

from __future__ import annotations

import json
import logging
import math
import mimetypes
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.message import Message
from http.client import HTTPConnection
from typing import Any, Self
from urllib.parse import parse_qsl, urlsplit

from text2image.cors import checked_origins, cors_headers
from text2image.deploy_settings import context_defaults
from text2image.discovery import CONFIG_FILE, config_document
from text2image.local.auth import Caller, CognitoAuthorizer, Unauthorized
from text2image.local.aws import BUCKET, LocalAWS
from text2image.local.http_service import Body, HTTPService, Response
from text2image.local.lambdas import function_module, invoke
from text2image.local.rest_proxy import proxy_answer, proxy_event
from text2image.local.throttle import TokenBucket, retry_after_header
from text2image.manifest import HISTORY, SUBMIT_BATCH, WARM, LambdaFunction
from text2image.routes import (
    API_GATEWAY_PAYLOAD_BYTES,
    API_ROUTES,
    BATCHES_ROUTE,
    DISALLOWED_METHOD_ERROR,
    DISALLOWED_METHOD_MESSAGE,
    DISALLOWED_METHOD_STATUS,
    HISTORY_ROUTE,
    JOBS_ROUTE,
    LAMBDA_PAYLOAD_BYTES,
    PAYLOAD_TOO_LARGE_ANSWER,
    PAYLOAD_TOO_LARGE_STATUS,
    PREFLIGHT_STATUS,
    REQUEST_TOO_LARGE_MESSAGE,
    SCALE_TO_ZERO_ONLY_ROUTES,
    SIGN_IN_ONLY_ROUTES,
    SIGNED_IN_ROUTES,
    SYNC_ROUTE,
    SYNC_TIMEOUT_ERROR,
    SYNC_TIMEOUT_MESSAGE,
    SYNC_TIMEOUT_STATUS,
    UNAUTHORIZED_ERROR,
    UNAUTHORIZED_MESSAGE,
    UNAUTHORIZED_STATUS,
    UNDECLARED_ROUTE_ERROR,
    UNDECLARED_ROUTE_MESSAGE,
    UNDECLARED_ROUTE_STATUS,
    UNSUPPORTED_MEDIA_TYPE_MESSAGE,
    UNSUPPORTED_MEDIA_TYPE_STATUS,
    WARM_ROUTE,
    Origin,
    behavior_for,
)
from text2image.site import DEFAULT_PAGE, site_files
from text2image.throttling import stage_throttle

MAX_BODY_BYTES = 64 * 1024
_batch_input = function_module("batch_input")
# The batch route's binary media types: their bodies reach the function base64-encoded, as sent.
BINARY_MEDIA_TYPES = frozenset({_batch_input.JSONL, _batch_input.CSV})
LOCAL_HOOKS = "/_local/"  # forwarded to the endpoint server
API_PATHS = frozenset(path for _, path in API_ROUTES)  # the API's resources: preflights and CORS headers
# Error name of a FAILED execution -> HTTP status (a TIMED_OUT one is 504; anything else is
# a 500 InternalError): the mapping of infra/templates/start_sync_execution.response.vtl.
ERROR_STATUS = {"ValidationError": 400, "QuotaExceeded": 429, "GenerationFailed": 502, "WarmingUp": 503}
# The S3 key layout, from the functions that write the keys.
_planning, _collect_response = function_module("planning"), function_module("collect_response")
_OBJECT_PATH = re.compile(r"^/(images/[A-Za-z0-9_-]{1,80}/\d{1,2}\.jpeg|requests/[A-Za-z0-9_-]{1,80}\.json|batches/[A-Za-z0-9_-]{1,80}/status\.json)$")


_DEPLOYED = context_defaults()

# What the edge answers: status, JSON payload or raw bytes, headers.
Answer = tuple[int, Any, dict[str, str]]


@dataclass(frozen=True)
class GatewayConfig:
    sync_timeout: float = 29.0  # API Gateway's integration timeout
    # The deployed stage's throttling (cdk.json's, sized to its GPUs: text2image/throttling.py), so
    # the local stack refuses what AWS would; `text2image up --throttle-rate/--throttle-burst` for
    # demos and tests that send bursts.
    throttle_rate: float = stage_throttle(_DEPLOYED).rate
    throttle_burst: int = stage_throttle(_DEPLOYED).burst
    # What Prepare uses when a request names no num_images (the jobs route plans that many URLs).
    default_num_images: int = int(_DEPLOYED["defaultNumImages"])
    cors_origins: tuple[str, ...] = ()  # origins whose pages may call the API (text2image:corsOrigins)


@dataclass(frozen=True)
class ApiCall:
    """A request to an API route, past the edge: its body and, on a signed-in route of a stack
    with sign-in, who sent it."""

    content_type: str
    body: Body
    caller: Caller | None = None
    query: Mapping[str, str] = field(default_factory=dict)  # the query string, one value per name as API Gateway's event has it


class ApiError(Exception):
    def __init__(self, status: int, error: str, message: str, headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.body = {"error": error, "message": message, **extra}
        self.headers = headers or {}


def execution_error_answer(execution: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """An execution that did not succeed, as the API answers it. Our named errors carry the
    JSON error body as their message; anything else is an internal error."""
    if execution["status"] == "TIMED_OUT":
        return 504, {"error": "Timeout", "message": "the workflow did not finish in time"}
    error = execution.get("error", "")
    status = ERROR_STATUS.get(error, 500)
    if status != 500:
        try:
            return status, json.loads(json.loads(execution.get("cause", ""))["errorMessage"])
        except (TypeError, KeyError, json.JSONDecodeError):
            pass
    return 500, {"error": "InternalError", "message": f"the workflow failed with {error}"}


def execution_input(request: dict[str, Any], caller: Caller | None, *, sync: bool) -> dict[str, Any]:
    """What the run starts with, as the API's request templates build it: the body itself, or
    the body with who sent it (signed in) and the route where it is the sync one."""
    if caller is None and not sync:
        return request
    return {"request": request} | ({} if caller is None else {"caller": caller.execution_input()}) | ({"route": "sync"} if sync else {})


def retry_after(status: int, answer: dict[str, Any]) -> dict[str, str]:
    """A run refused over the user's quota (429), or answered while the GPUs start (503), says
    when to retry: its seconds as ``Retry-After``."""
    return {"Retry-After": str(answer["retry_after"])} if status in (429, 503) and "retry_after" in answer else {}


def job_answer(base_url: str, request_id: str, num_images: int) -> dict[str, Any]:
    """The 202 of the jobs route: the manifest URL (404 until the run ends) and the planned
    image URLs, each answering as soon as its image is written."""
    return {
        "request_id": request_id,
        "status_url": f"{base_url}/{_collect_response.manifest_key(request_id)}",
        "images": [f"{base_url}/{_planning.image_key(request_id, index)}" for index in range(num_images)],
    }


def parse_request_body(content_type: str, body: Body) -> Any:
    """The JSON request, or 400 naming what is wrong with the HTTP body itself (415 for a body
    that is not JSON by its Content-Type, as API Gateway answers it). An oversized body was
    left unread (http_service.Body): its size is what is refused."""
    media_type = content_type.split(";", 1)[0].strip().lower() or "application/json"  # API Gateway's default
    if media_type != "application/json":
        raise ApiError(UNSUPPORTED_MEDIA_TYPE_STATUS, "ValidationError", UNSUPPORTED_MEDIA_TYPE_MESSAGE)
    if body.too_large(MAX_BODY_BYTES):
        raise ApiError(400, "ValidationError", f"body: is {body.size} bytes; the limit is {MAX_BODY_BYTES}", field="body")
    try:
        return json.loads(body.data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ApiError(400, "ValidationError", f"body: is not valid JSON ({exc})", field="body") from None


def encode_answer(status: int, payload: Any, headers: dict[str, str]) -> Response:
    """An answer on the wire: bytes as they are, anything else as JSON."""
    headers = {**headers, "X-Content-Type-Options": "nosniff"}
    if isinstance(payload, bytes):
        return status, headers, payload
    return status, {"Content-Type": "application/json", **headers}, json.dumps(payload, ensure_ascii=False).encode()


class Gateway(HTTPService):
    max_body_bytes = MAX_BODY_BYTES

    def body_limit(self, path: str) -> int:
        """The batch route reads bodies up to API Gateway's payload limit (its function refuses a
        file over BATCH_MAX_BYTES itself); every other path, JSON of up to MAX_BODY_BYTES."""
        return API_GATEWAY_PAYLOAD_BYTES if path == BATCHES_ROUTE[1] else MAX_BODY_BYTES

    def __init__(
        self,
        aws: LocalAWS,
        validate: Callable[[Any], dict[str, Any]],
        config: GatewayConfig = GatewayConfig(),
        host: str = "127.0.0.1",
        port: int = 8000,
        *,
        hooks_url: str,
    ) -> None:
        """``validate`` checks a request as the deployed edge does, raising ``ApiError``;
        ``hooks_url``: the endpoint server, whose test hooks ``/_local/*`` are forwarded to."""
        checked_origins(config.cors_origins)
        self.aws, self.validate, self.config, self.hooks_url = aws, validate, config, hooks_url
        self.throttle = TokenBucket(config.throttle_rate, config.throttle_burst)
        self.api_routes: dict[tuple[str, str], Callable[[ApiCall], Answer]] = {
            SYNC_ROUTE: self.text2image,
            JOBS_ROUTE: self.text2image_job,
            HISTORY_ROUTE: self.history,
            WARM_ROUTE: self.warm,
            BATCHES_ROUTE: self.batches,
        }
        self.authorizer: CognitoAuthorizer | None = None  # no sign-in until start() finds a user pool
        self.site = site_files()
        super().__init__("gateway", host, port)

    def start(self) -> Self:
        """Once the local AWS runs: its user pool (``--auth``) signs callers in, with the pool's
        keys read once, and /config.json says so (``{"auth": null}`` without one)."""
        pool = self.aws.user_pool
        if pool is not None:
            self.authorizer = CognitoAuthorizer.fetch(pool.jwks_url(self.aws.url), pool.issuer, pool.client_id)
        warm_seconds = math.ceil(self.aws.config.cold_start_seconds) if self.aws.config.scales_to_zero else None
        auth = None if pool is None else pool.discovery(self.aws.url)
        discovery = json.dumps(config_document(auth, self.aws.config.daily_images_per_user, warm_cold_start_seconds=warm_seconds)).encode()
        self.site[CONFIG_FILE] = lambda: discovery
        return super().start()

    # -- the API -----------------------------------------------------------------------

    def api(self, method: str, path: str, headers: Message, body: Body, query: str = "") -> Answer:
        """The REST API: with CORS origins, a preflight is answered by the API itself (a mock
        integration on AWS; without any, OPTIONS stays undeclared, as the same-origin stack has it);
        a declared route passes stage throttling, then the authorizer where it needs sign-in."""
        if method == "OPTIONS" and path in API_PATHS and self.config.cors_origins:
            return PREFLIGHT_STATUS, b"", {}
        api_route = self.api_routes.get((method, path))
        undeclared = ((method, path) in SIGN_IN_ONLY_ROUTES and self.authorizer is None) or (
            (method, path) in SCALE_TO_ZERO_ONLY_ROUTES and not self.aws.config.scales_to_zero
        )
        if api_route is None or undeclared:
            # API Gateway's MISSING_AUTHENTICATION_TOKEN, as the stack answers it (a stack without
            # sign-in declares no history route; one whose endpoints do not scale to zero, no warm route)
            raise ApiError(UNDECLARED_ROUTE_STATUS, UNDECLARED_ROUTE_ERROR, UNDECLARED_ROUTE_MESSAGE)
        wait = self.throttle.take()
        if wait:
            raise ApiError(429, "TooManyRequests", "rate limit exceeded; retry later", headers={"Retry-After": retry_after_header(wait)})
        caller = self.authorize((method, path), headers.get("Authorization"))
        return api_route(ApiCall(headers.get("Content-Type", ""), body, caller, dict(parse_qsl(query))))

    def authorize(self, route: tuple[str, str], authorization: str | None) -> Caller | None:
        """Who calls a signed-in route of a stack with sign-in (None: anyone may); refused with the
        401 of API Gateway's authorizer, before the body is even read."""
        if self.authorizer is None or route not in SIGNED_IN_ROUTES:
            return None
        try:
            return self.authorizer.authorize(authorization)
        except Unauthorized as exc:
            logging.getLogger(__name__).info("refused %s %s: %s", *route, exc)
            raise ApiError(UNAUTHORIZED_STATUS, UNAUTHORIZED_ERROR, UNAUTHORIZED_MESSAGE) from None

    def accept(self, call: ApiCall) -> dict[str, Any]:
        """The body checks of both POST routes."""
        request: dict[str, Any] = parse_request_body(call.content_type, call.body)
        self.validate(request)  # raises ApiError; the body goes on as sent, as API Gateway passes it
        return request

    def text2image(self, call: ApiCall) -> Answer:
        """``POST /text2image``: wait for the run, answer with its outcome."""
        request = self.accept(call)
        request_id = str(uuid.uuid4())  # API Gateway's request id has this form
        arn = self.aws.start_execution(json.dumps(execution_input(request, call.caller, sync=True)), name=request_id)
        status, answer = self.wait_for(arn, request_id)
        return status, answer, retry_after(status, answer)

    def text2image_job(self, call: ApiCall) -> Answer:
        """``POST /text2image/jobs``: start the run and say at once where its results will be.
        Named ``<request id>-n<count>`` as on AWS, where the 202 template reads the count back."""
        request = self.accept(call)
        num_images = request.get("num_images", self.config.default_num_images)
        request_id = f"{uuid.uuid4()}-n{num_images}"
        self.aws.start_execution(json.dumps(execution_input(request, call.caller, sync=False)), name=request_id)
        return 202, job_answer(self.url, request_id, num_images), {}

    def history(self, call: ApiCall) -> Answer:
        """``GET /text2image/history``: the history function behind API Gateway's Lambda proxy integration."""
        return self.proxy(HISTORY, HISTORY_ROUTE, call)

    def warm(self, call: ApiCall) -> Answer:
        """``POST /text2image/warm``: the warm function behind API Gateway's Lambda proxy integration."""
        return self.proxy(WARM, WARM_ROUTE, call)

    def batches(self, call: ApiCall) -> Answer:
        """``POST /text2image/batches``: the submit function behind API Gateway's Lambda proxy
        integration, the file base64-encoded as API Gateway passes a binary media type. A body over
        API Gateway's payload limit was left unread: refused as the stack's REQUEST_TOO_LARGE
        gateway response words it."""
        if call.body.too_large(API_GATEWAY_PAYLOAD_BYTES):
            raise ApiError(400, "ValidationError", REQUEST_TOO_LARGE_MESSAGE)
        return self.proxy(SUBMIT_BATCH, BATCHES_ROUTE, call, with_body=True)

    def proxy(self, function: LambdaFunction, route: tuple[str, str], call: ApiCall, *, with_body: bool = False) -> Answer:
        """A route's function run in-process with the event API Gateway's proxy integration builds
        (rest_proxy.py); ``with_body``: the request's body goes with it."""
        claims = None if call.caller is None else {"sub": call.caller.sub, "cognito:username": call.caller.username, "token_use": "id"}
        binary = call.content_type.split(";", 1)[0].strip().lower() in BINARY_MEDIA_TYPES
        body = call.body.data if with_body else None
        event = proxy_event(*route, call.query, {"Content-Type": call.content_type}, claims, body, binary=binary)
        if len(json.dumps(event).encode()) > LAMBDA_PAYLOAD_BYTES:  # Lambda refuses the Invoke: the function never runs
            return PAYLOAD_TOO_LARGE_STATUS, dict(PAYLOAD_TOO_LARGE_ANSWER), {"x-amzn-ErrorType": "BadRequestException"}
        _, headers, body = invoke(self.aws.lambdas.handlers[function.name], function.name, event)
        if "X-Amz-Function-Error" in headers:  # API Gateway's answer when a proxy function fails
            raise ApiError(502, "InternalError", f"the {function.folder} function failed")
        status, answer_headers, data = proxy_answer(json.loads(body))
        return status, data, answer_headers

    def wait_for(self, execution_arn: str, request_id: str) -> tuple[int, dict[str, Any]]:
        if not self.aws.wait(execution_arn, self.config.sync_timeout):
            return SYNC_TIMEOUT_STATUS, {
                "error": SYNC_TIMEOUT_ERROR,
                "message": SYNC_TIMEOUT_MESSAGE.format(seconds=self.config.sync_timeout),
                "request_id": request_id,
            }
        execution = self.aws.sfn.describe_execution(executionArn=execution_arn)
        if execution["status"] == "SUCCEEDED":
            return 200, json.loads(execution["output"])
        status, answer = execution_error_answer(execution)
        return status, {**answer, "request_id": answer.get("request_id", request_id)}

    def s3_object(self, path: str, head: bool = False) -> tuple[bytes, dict[str, str]]:
        """The object (empty body for HEAD) and the headers CloudFront passes on from S3,
        user metadata included (the page reads an image's endpoint/seed/seconds from it).
        Only keys of the shapes the workflow writes are looked up: the answer to any other is
        the one S3 gives a key it does not have."""
        if not _OBJECT_PATH.match(path):
            raise ApiError(404, "NotFound", f"no such path {path}")
        key = path[1:]
        try:
            obj = self.aws.s3.head_object(Bucket=BUCKET, Key=key) if head else self.aws.s3.get_object(Bucket=BUCKET, Key=key)
        except self.aws.s3.exceptions.ClientError as exc:
            if exc.response["Error"]["Code"] in ("404", "NoSuchKey"):
                raise ApiError(404, "NotFound", f"/{key} does not exist (yet)") from None
            raise
        headers = {"Content-Type": obj.get("ContentType") or "application/octet-stream"}
        headers.update({f"x-amz-meta-{name}": value for name, value in obj.get("Metadata", {}).items()})
        if head:
            headers["Content-Length"] = str(obj["ContentLength"])
            return b"", headers
        return obj["Body"].read(), headers

    # -- the edge ----------------------------------------------------------------------

    def handle(self, method: str, path: str, headers: Message, body: Body, query: str = "") -> Response:
        """One request as the edge answers it, with the CORS headers on the API's paths."""
        status, answer_headers, data = self.answer(method, path, headers, body, query)
        if behavior_for(path).cors:
            answer_headers.update(cors_headers(headers.get("Origin"), self.config.cors_origins))
        return status, answer_headers, data

    def answer(self, method: str, path: str, headers: Message, body: Body, query: str = "") -> Response:
        """An error is answered in JSON, never with a trace."""
        try:
            return encode_answer(*self.route(method, path, headers, body, query))
        except ApiError as exc:
            return encode_answer(exc.status, exc.body, dict(exc.headers))
        except Exception:
            logging.getLogger(__name__).exception("the gateway failed on %s %s", method, path)
            return encode_answer(500, {"error": "InternalError", "message": "the gateway failed"}, {})

    def route(self, method: str, path: str, headers: Message, body: Body, query: str = "") -> Answer:
        """A body the plumbing could not read is refused first; then the local test hooks (they
        exist only here), then CloudFront's behaviour for the path (text2image/routes.py), which
        lets its methods through to its origin and answers any other with its 403."""
        if body.malformed:
            raise ApiError(400, "ValidationError", "body: the chunked transfer encoding is malformed", field="body")
        if path.startswith(LOCAL_HOOKS):
            return self.local_hook(method, path, headers.get("Content-Type", ""), body)
        behavior = behavior_for(path)
        if method not in behavior.methods:
            raise ApiError(DISALLOWED_METHOD_STATUS, DISALLOWED_METHOD_ERROR, DISALLOWED_METHOD_MESSAGE)
        if behavior.origin is Origin.API:
            return self.api(method, path, headers, body, query)
        if behavior.origin is Origin.OBJECTS:
            data, object_headers = self.s3_object(path, head=method == "HEAD")
            return 200, data, object_headers
        return self.site_file(path)

    def local_hook(self, method: str, path: str, content_type: str, body: Body) -> Answer:
        """The endpoint server's test hooks at the gateway's URL: the request passed on as it came."""
        target = urlsplit(self.hooks_url)
        connection = HTTPConnection(target.netloc, timeout=30)
        try:
            connection.request(method, path, body=body.data, headers={"Content-Type": content_type} if content_type else {})
            response = connection.getresponse()
            return response.status, response.read(), {"Content-Type": response.getheader("Content-Type", "application/json")}
        finally:
            connection.close()

    def site_file(self, path: str) -> Answer:
        """The default behaviour: the bucket's site/ prefix, "/" being the default root object."""
        name = DEFAULT_PAGE if path == "/" else path[1:]
        read = self.site.get(name)
        if read is None:
            raise ApiError(404, "NotFound", f"no such path {path}")
        return 200, read(), {"Content-Type": mimetypes.guess_type(name)[0] or "application/octet-stream"}
