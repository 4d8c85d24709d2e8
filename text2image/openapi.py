"""The API described once: an OpenAPI 3.0 document of every route, served as the site file
``/openapi.json`` (by the local gateway, and from the bucket on AWS).

The request is ``request.schema.json`` itself, turned into OpenAPI's schema dialect, never a
copy. The answers are the shapes the stack writes: the Collect function's response (200), the
jobs template's 202 (``infra/templates/start_execution.response.vtl``), the functions' own
answers (history, warm, batches), and the
``{"error", "message", ...}`` bodies of the gateway responses, the status mapping template
and the local gateway. No ``servers``: the document is served from the API's own origin, so
its paths resolve against wherever it was fetched from.
"""

from __future__ import annotations

import json
from importlib.metadata import version
from typing import Any

from text2image.paths import REQUEST_SCHEMA
from text2image.routes import (
    BATCHES_ROUTE,
    HISTORY_ROUTE,
    JOBS_ROUTE,
    PAYLOAD_TOO_LARGE_ANSWER,
    PAYLOAD_TOO_LARGE_STATUS,
    SIGNED_IN_ROUTES,
    SYNC_ROUTE,
    UNAUTHORIZED_ERROR,
    UNAUTHORIZED_STATUS,
    UNDECLARED_ROUTE_ERROR,
    UNDECLARED_ROUTE_STATUS,
    WARM_ROUTE,
)

OPENAPI_VERSION = "3.0.3"
JSON = "application/json"
# A batch file's media types (functions/prepare/batch_input.py reads exactly these two).
JSONL = "application/x-ndjson"
CSV = "text/csv"
# An image's seed is (seed + index) mod 2^32: within the request's own seed range.
SEED_MAX = json.loads(REQUEST_SCHEMA.read_text(encoding="utf-8"))["properties"]["seed"]["maximum"]

# Keywords draft-04 and an OpenAPI 3.0 Schema Object share with the same meaning; "$schema"
# is dropped, and anything else (definitions, patternProperties, type lists...) is refused
# so that a change to the request schema cannot silently fall out of the document.
_SHARED_KEYWORDS = frozenset(
    {
        "title", "description", "type", "properties", "required", "additionalProperties", "items", "enum", "default",
        "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minLength", "maxLength", "pattern",
        "minItems", "maxItems", "uniqueItems", "minProperties", "maxProperties", "format", "allOf", "anyOf", "oneOf", "not",
    }
)  # fmt: skip
_DROPPED_KEYWORDS = frozenset({"$schema"})


def openapi_schema(draft04: dict[str, Any]) -> dict[str, Any]:
    """A draft-04 JSON Schema as an OpenAPI 3.0 Schema Object (ValueError on what has no equivalent)."""
    converted: dict[str, Any] = {}
    for keyword, value in draft04.items():
        if keyword in _DROPPED_KEYWORDS:
            continue
        if keyword not in _SHARED_KEYWORDS or (keyword == "type" and not isinstance(value, str)):
            raise ValueError(f"request schema: {keyword!r} = {value!r} has no OpenAPI 3.0 equivalent")
        if keyword == "properties":
            value = {name: openapi_schema(sub) for name, sub in value.items()}
        elif keyword in ("items", "not", "additionalProperties") and isinstance(value, dict):
            value = openapi_schema(value)
        elif keyword in ("allOf", "anyOf", "oneOf"):
            value = [openapi_schema(sub) for sub in value]
        converted[keyword] = value
    return converted


def _object(properties: dict[str, Any], required: list[str] | None = None, description: str = "") -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "additionalProperties": False, "required": required or list(properties), "properties": properties}
    return {"description": description, **schema} if description else schema


def _error(name: str, description: str, extra: dict[str, Any] | None = None, required: tuple[str, ...] = ()) -> dict[str, Any]:
    """An error body: ``error`` (always ``name`` for this answer) and ``message``, and ``extra``."""
    properties = {"error": {"type": "string", "enum": [name]}, "message": {"type": "string"}, **(extra or {})}
    return _object(properties, ["error", "message", *required], description)


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


AWS_REQUEST_TOO_LONG = "RequestTooLong"
REQUEST_ID = {"type": "string", "description": "The run's id: its execution name, and the key of its images and manifest."}
FIELD = {"type": "string", "description": "The request field at fault (`body` and `Content-Type` for the HTTP body itself)."}

SCHEMAS: dict[str, dict[str, Any]] = {
    "Image": _object(
        {
            "index": {"type": "integer", "minimum": 0},
            "url": {"type": "string", "format": "uri"},
            "endpoint": {"type": "string", "description": "The SageMaker endpoint that made it."},
            "seed": {"type": "integer", "minimum": 0, "maximum": SEED_MAX},
            "seconds": {"type": "number", "description": "The endpoint call's time."},
        }
    ),
    "ImageError": _object(
        {
            "index": {"type": "integer", "minimum": 0},
            "endpoint": {"type": "string"},
            "error": {
                "type": "string",
                "description": "Why: EndpointBusy (after its retries), EndpointCold (scaled to zero and not back in time), ModelError, EndpointRejected, "
                "InvalidModelResponse, EndpointTimeout, ImageWriteFailed.",
            },
            "message": {"type": "string"},
        }
    ),
    "Result": _object(
        {
            "statusCode": {"type": "integer", "enum": [200]},
            "body": {
                "type": "string",
                "description": "A JSON string: the successful image URLs in index order (the original client's `JSON.parse(response.body)`).",
            },
            "time": {"type": "number", "description": "Seconds since the workflow started."},
            "request_id": REQUEST_ID,
            "images": {"type": "array", "items": _ref("Image")},
            "errors": {"type": "array", "items": _ref("ImageError"), "description": "Every image that could not be made, and why."},
        },
        description="All or some images were made.",
    ),
    "Job": _object(
        {
            "request_id": {"type": "string", "description": "The run's id; ends in `-n<number of images>`."},
            "status_url": {
                "type": "string",
                "format": "uri",
                "description": "The run's manifest (the Result plus `status` and `request`): 404 until the run ends.",
            },
            "images": {
                "type": "array",
                "items": {"type": "string", "format": "uri"},
                "minItems": 1,
                "description": "One URL per planned image, in index order: each answers 404 until that image is written.",
            },
        },
        description="The run started.",
    ),
    "ValidationError": _error(
        "ValidationError",
        "The request breaks the contract (the message says which field and why), or its body is not a JSON object. Nothing was started.",
        {
            "field": FIELD,
            "lines": {
                "type": "array",
                "items": _ref("LineError"),
                "description": "A batch file's answer only: every bad line, by its number in the file (empty when the file itself breaks a limit).",
            },
        },
    ),
    "LineError": _object(
        {
            "line": {"type": "integer", "minimum": 1, "description": "The line's number in the file, from 1 (a CSV row: the line it starts on)."},
            "field": FIELD,
            "message": {"type": "string", "description": "`<field>: <why>`, as a single request's ValidationError says it."},
        }
    ),
    "TooManyRequests": _error("TooManyRequests", "Over the stage's throttling rate or burst. Nothing was started."),
    "QuotaExceeded": _error(
        "QuotaExceeded",
        "The signed-in caller's images of the day (UTC) plus this request's would pass their daily quota. Nothing was generated.",
        {
            "resets_at": {"type": "string", "format": "date-time", "description": "When the quota starts afresh (the next UTC midnight)."},
            "retry_after": {"type": "integer", "minimum": 1, "description": "Seconds until then, as in the Retry-After header."},
        },
        required=("resets_at", "retry_after"),
    ),
    UNAUTHORIZED_ERROR: _error(
        UNAUTHORIZED_ERROR,
        "No valid ID token in Authorization: none, malformed, expired, signed by another pool or for another client, or an access token. Nothing was started.",
    ),
    "GenerationFailed": _error(
        "GenerationFailed",
        "No image could be made; `errors` lists every image and why. The manifest is written.",
        {"request_id": REQUEST_ID, "errors": {"type": "array", "items": _ref("ImageError")}},
        required=("request_id", "errors"),
    ),
    "WarmingUp": _error(
        "WarmingUp",
        "No image could be made because endpoints had scaled to zero: the refused calls have started them. Try again after `retry_after` "
        "seconds (also `Retry-After`), about a cold start. The manifest is written.",
        {"request_id": REQUEST_ID, "errors": {"type": "array", "items": _ref("ImageError")}, "retry_after": {"type": "integer", "minimum": 0}},
        required=("request_id", "errors", "retry_after"),
    ),
    "Timeout": _error(
        "Timeout",
        "No answer within the API's 29 s, or the workflow ran past its 5 minutes. A run that is still going writes its manifest when it ends.",
        {"request_id": REQUEST_ID},
    ),
    "InternalError": _error("InternalError", "Anything else.", {"request_id": REQUEST_ID}),
    UNDECLARED_ROUTE_ERROR: _error(UNDECLARED_ROUTE_ERROR, "No such method or path on this API."),
    "Run": _object(
        {
            "request_id": REQUEST_ID,
            "request": {"type": "object", "description": "The request as run: defaults and the seed filled in (POST it again to re-run it)."},
            "status": {"type": "string", "enum": ["succeeded", "partial", "failed"]},
            "started": {"type": "string", "format": "date-time"},
            "seconds": {"type": "number", "minimum": 0},
            "images": {"type": "array", "items": {"type": "string", "format": "uri"}, "description": "The images made, in index order."},
            "errors": {"type": "integer", "minimum": 0, "description": "How many images could not be made."},
            "manifest": {"type": "string", "format": "uri"},
        },
        description="One run of the signed-in caller.",
    ),
    "RunPage": _object(
        {
            "runs": {"type": "array", "items": _ref("Run"), "description": "Newest first."},
            "next": {"type": "string", "nullable": True, "description": "The `cursor` of the next page; null on the last."},
        }
    ),
    "Batch": _object(
        {
            "batch_id": {"type": "string", "description": "`batch-` and 32 hex digits of the stored file's SHA-256: the same file is the same batch."},
            "status_url": {
                "type": "string",
                "format": "uri",
                "description": "`batches/<batch_id>/status.json`: running, then succeeded, partial or failed, with each line's request id, "
                "status and image URLs.",
            },
            "lines": {"type": "integer", "minimum": 1, "description": "The request lines stored (blank lines are skipped)."},
        },
        description="The batch is stored and started; the same file sent again answers the same and starts nothing new.",
    ),
    "EndpointWarmth": _object(
        {
            "endpoint": {"type": "string", "description": "The SageMaker endpoint."},
            "component": {"type": "string", "description": "The inference component that hosts the model on it."},
            "state": {"type": "string", "enum": ["warm", "warming"], "description": "`warm`: a copy serves; `warming`: one is on its way."},
            "copies": {"type": "integer", "minimum": 0, "description": "Copies serving now."},
        }
    ),
    "Warming": _object(
        {
            "endpoints": {"type": "array", "items": _ref("EndpointWarmth")},
            "retry_after": {
                "type": "integer",
                "minimum": 0,
                "description": "About how many seconds until every endpoint serves (the configured cold start); 0 when all do.",
            },
        },
        description="Every endpoint serves or has a copy on its way.",
    ),
    # AWS's own answer, outside the API's error shape: the body cannot be mapped (text2image/routes.py).
    AWS_REQUEST_TOO_LONG: _object(
        {"message": {"type": "string", "enum": [PAYLOAD_TOO_LARGE_ANSWER["message"]]}},
        description="API Gateway's answer when its event for a Lambda proxy route passes Lambda's invocation payload.",
    ),
}


def _answer(description: str, schema: str | list[str], headers: dict[str, Any] | None = None) -> dict[str, Any]:
    """An answer whose body is the schema named ``schema``, or one of those listed."""
    body = _ref(schema) if isinstance(schema, str) else {"oneOf": [_ref(name) for name in schema]}
    answer: dict[str, Any] = {"description": description, "content": {JSON: {"schema": body}}}
    return {**answer, "headers": headers} if headers else answer


RETRY_AFTER = {"Retry-After": {"description": "Whole seconds to wait before trying again.", "required": True, "schema": {"type": "integer", "minimum": 1}}}

# The answers both routes share: refused at the edge, throttled, or failed to start.
EDGE_ANSWERS: dict[str, dict[str, Any]] = {
    "400": _answer("The request breaks the contract, or its body is not JSON or is over 64 KB.", "ValidationError"),
    "415": _answer("A Content-Type other than application/json (API Gateway refuses it before the workflow).", "ValidationError"),
    str(UNAUTHORIZED_STATUS): _answer("Only where the stack has sign-in (`/config.json` says): no valid ID token.", UNAUTHORIZED_ERROR),
    "429": _answer("Throttled.", "TooManyRequests", RETRY_AFTER),
    "500": _answer("The workflow could not be started, or failed for a reason of its own.", "InternalError"),
    "504": _answer("No answer in time.", "Timeout"),
}


# The Cognito ID token as API Gateway's Cognito authorizer takes it: the raw JWT in Authorization.
SECURITY_SCHEMES = {
    "idToken": {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "The ID token of a user signed in to the stack's Cognito user pool, as is (no `Bearer `). "
        "Needed only where the stack has sign-in: `/config.json` says whether, and where to sign in.",
    }
}


def _operation(operation_id: str, route: tuple[str, str], summary: str, description: str, answers: dict[str, dict[str, Any]], **request: Any) -> dict[str, Any]:
    """``request``: the operation's ``requestBody`` or ``parameters``. A signed-in route takes the
    token, or nothing: one document serves both kinds of stack, and on one without sign-in the
    route is open (or, for the history, absent: its 404)."""
    security: list[dict[str, list[str]]] = [{"idToken": []}, {}] if route in SIGNED_IN_ROUTES else []
    return {
        "operationId": operation_id,
        "summary": summary,
        "description": description,
        **({"security": security} if security else {}),
        **request,
        "responses": dict(sorted({**EDGE_ANSWERS, **answers}.items())),
    }


_REQUEST: dict[str, Any] = json.loads(REQUEST_SCHEMA.read_text(encoding="utf-8"))
REQUEST_NAME: str = _REQUEST["title"]

REQUEST_BODY = {
    "required": True,
    "content": {JSON: {"schema": _ref(REQUEST_NAME), "example": {"text": "A flower, fantasy, happy", "num_images": 2}}},
}
# GET /text2image/history's query (functions/history/run_page.py reads it).
BATCH_BODY = {
    "required": True,
    "description": "Up to 4 MiB and `text2image:maxBatchLines` request lines (10,000 by default); a bigger file goes under `batches/inbox/` in the "
    "bucket (`.jsonl` or `.csv`), where its status appears the same way. Every line is checked before anything starts.",
    "content": {
        JSONL: {
            "schema": {"type": "string", "description": f"One request per line, each a JSON object of the {REQUEST_NAME} contract; blank lines are skipped."},
            "example": '{"text": "A flower, fantasy, happy", "num_images": 2}\n{"text": "A lighthouse at dusk"}\n',
        },
        CSV: {
            "schema": {
                "type": "string",
                "description": "A header row naming a `text` column and optional columns named like the request's fields; one request per row, an "
                "empty cell leaves its field out.",
            },
            "example": "text,num_images\nA flower,2\nA lighthouse at dusk,\n",
        },
    },
}
HISTORY_PARAMETERS = [
    {"name": "limit", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 1, "maximum": 50, "default": 20}},
    {"name": "cursor", "in": "query", "required": False, "schema": {"type": "string"}, "description": "The `next` of the previous page, as it was."},
]


def document() -> dict[str, Any]:
    """The OpenAPI document of the API."""
    (sync_method, sync_path), (jobs_method, jobs_path), (history_method, history_path) = SYNC_ROUTE, JOBS_ROUTE, HISTORY_ROUTE
    warm_method, warm_path = WARM_ROUTE
    batches_method, batches_path = BATCHES_ROUTE
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "text2image",
            "version": version("text2image"),
            "description": "Parallel Stable Diffusion: a prompt in, images fanned out over several SageMaker endpoints, their URLs out. "
            'Every error is `{"error": <name>, "message": <why>, ...}`.',
        },
        "paths": {
            sync_path: {
                sync_method.lower(): _operation(
                    "generate",
                    SYNC_ROUTE,
                    "Make the images and wait for them",
                    "Answers when the run ends, within API Gateway's 29 s; for longer runs use the jobs route.",
                    {
                        "200": _answer("All or some images were made; `errors` lists the others.", "Result"),
                        "429": _answer(
                            "Throttled, or (a signed-in caller) over the daily quota: a job over quota answers 202 and its manifest says so.",
                            ["TooManyRequests", "QuotaExceeded"],
                            RETRY_AFTER,
                        ),
                        "502": _answer("No image could be made.", "GenerationFailed"),
                        "503": _answer("The GPUs are starting (endpoints scaled to zero): try again after Retry-After.", "WarmingUp", RETRY_AFTER),
                    },
                    requestBody=REQUEST_BODY,
                )
            },
            jobs_path: {
                jobs_method.lower(): _operation(
                    "start_job",
                    JOBS_ROUTE,
                    "Start the images, answer at once with where they will be",
                    "Poll the image URLs (each answers once written) and `status_url` (the manifest, once the run ends).",
                    {"202": _answer("The run started.", "Job")},
                    requestBody=REQUEST_BODY,
                )
            },
            history_path: {
                history_method.lower(): _operation(
                    "history",
                    HISTORY_ROUTE,
                    "The signed-in caller's runs, newest first",
                    "One page of `limit` runs; pass `next` as `cursor` for the following one. Runs stay as long as their images.",
                    {
                        "200": _answer("A page of runs.", "RunPage"),
                        str(UNDECLARED_ROUTE_STATUS): _answer("A stack without sign-in keeps no runs: the route does not exist there.", UNDECLARED_ROUTE_ERROR),
                    },
                    parameters=HISTORY_PARAMETERS,
                )
            },
            warm_path: {
                warm_method.lower(): _operation(
                    "warm",
                    WARM_ROUTE,
                    "Ask cold endpoints for capacity ahead of use",
                    "Endpoints that scale to zero answer a call while cold with 503 WarmingUp; this asks each cold one for a model copy "
                    "now (a demo in a few minutes) and says which serve. Idempotent: calling while they warm changes nothing. No body.",
                    {
                        "202": _answer(
                            "Asked: each endpoint serves (`warm`) or has a copy on its way (`warming`).",
                            "Warming",
                            {
                                "Retry-After": {
                                    "description": "While an endpoint is warming: about how many seconds until it serves.",
                                    "required": False,
                                    "schema": {"type": "integer", "minimum": 1},
                                }
                            },
                        ),
                        str(UNDECLARED_ROUTE_STATUS): _answer(
                            "A stack whose endpoints do not scale to zero has nothing to warm: the route does not exist there.", UNDECLARED_ROUTE_ERROR
                        ),
                    },
                )
            },
            batches_path: {
                batches_method.lower(): _operation(
                    "submit_batch",
                    BATCHES_ROUTE,
                    "Generate for a whole file of requests",
                    "A JSONL or CSV file of requests becomes one batch: each line runs as a job, a few at a time so that single requests "
                    "still get through. Poll `status_url` for progress and each line's images.",
                    {
                        "202": _answer("The batch is stored and started (or was already).", "Batch"),
                        "400": _answer(
                            "Some lines break the contract (`lines` lists each with its number and why), or the file is empty, not UTF-8, "
                            "over 4 MiB, over API Gateway's 10 MB or over the line limit (`message` says which), "
                            "or (a signed-in caller) it asks for more images "
                            "than a whole day's quota. Nothing was stored or started.",
                            "ValidationError",
                        ),
                        str(PAYLOAD_TOO_LARGE_STATUS): _answer(
                            "A body of about 4.5 MiB to 10 MB: API Gateway's event passes Lambda's invocation payload and AWS answers "
                            "itself, not in the API's error shape. Send at most `batchMaxBytes` (/config.json), or put the file under "
                            "`batches/inbox/` in the bucket.",
                            AWS_REQUEST_TOO_LONG,
                        ),
                        "415": _answer(f"A Content-Type other than {JSONL} or {CSV}.", "ValidationError"),
                        "429": _answer(
                            "Throttled, or (a signed-in caller) the batch's images are more than is left of the day's quota. Nothing was stored or started.",
                            ["TooManyRequests", "QuotaExceeded"],
                            RETRY_AFTER,
                        ),
                    },
                    requestBody=BATCH_BODY,
                )
            },
        },
        "components": {"schemas": {REQUEST_NAME: openapi_schema(_REQUEST), **SCHEMAS}, "securitySchemes": SECURITY_SCHEMES},
    }


def document_bytes() -> bytes:
    """The document as the site serves it."""
    return json.dumps(document(), indent=1, ensure_ascii=False).encode()
