"""API Gateway's Lambda proxy integration, as the local gateway plays it for a route served by a
function (``GET /text2image/history``): the REST API's proxy event (version 1.0) in, the
function's ``{statusCode, headers, body}`` out.

Only what the deployed integration fills and the functions read is built: method, path, query
string, headers, the Cognito authorizer's claims (API Gateway passes the ID token's claims as
strings), the request id. The shape follows AWS's documented example event for REST APIs.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Mapping
from typing import Any

from text2image.local.lambdas import ACCOUNT


def proxy_event(
    method: str,
    path: str,
    query: Mapping[str, str],
    headers: Mapping[str, str],
    claims: Mapping[str, Any] | None,
    body: bytes | None = None,
    *,
    binary: bool = False,
) -> dict[str, Any]:
    """``binary``: the body's Content-Type is one of the API's binary media types, so API Gateway
    passes it base64-encoded (``isBase64Encoded``); otherwise as text."""
    request_id = str(uuid.uuid4())
    return {
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": dict(headers),
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": dict(query) or None,
        "multiValueQueryStringParameters": {name: [value] for name, value in query.items()} or None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "accountId": ACCOUNT,
            "apiId": "local",
            "authorizer": {"claims": {name: str(value) for name, value in claims.items()}} if claims is not None else None,
            "httpMethod": method,
            "path": f"/prod{path}",
            "protocol": "HTTP/1.1",
            "requestId": request_id,
            "resourcePath": path,
            "stage": "prod",
            "identity": {"sourceIp": "127.0.0.1"},
            "domainName": "localhost",
        },
        "body": None if body is None else base64.b64encode(body).decode() if binary else body.decode("utf-8", "replace"),
        "isBase64Encoded": body is not None and binary,
    }


def proxy_answer(result: Mapping[str, Any]) -> tuple[int, dict[str, str], bytes]:
    """The HTTP answer API Gateway makes of a proxy function's result: ``headers`` and
    ``multiValueHeaders`` merged (Powertools' REST resolver answers in the latter), several values
    of one header joined as one comma-separated field."""
    body = result.get("body") or ""
    data = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
    headers = {name: [str(value)] for name, value in (result.get("headers") or {}).items()}
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers.setdefault(name, []).extend(str(value) for value in values if str(value) not in headers.get(name, []))
    return int(result["statusCode"]), {name: ", ".join(values) for name, values in headers.items()}, data
