"""The local gateway routes as the deployed edge does: CloudFront's behaviours
(text2image/routes.py) pick the origin, then the REST API's declared routes; every other method
or path gets the deployed stack's answer, in JSON, whatever the method's name."""

from __future__ import annotations

import json
import socket
from http.client import HTTPConnection, HTTPResponse
from urllib.parse import urlsplit

import pytest
from support import http

from text2image.local.stack import LocalStack
from text2image.paths import WEB
from text2image.routes import (
    DISALLOWED_METHOD_ERROR,
    DISALLOWED_METHOD_MESSAGE,
    DISALLOWED_METHOD_STATUS,
    UNDECLARED_ROUTE_ERROR,
    UNDECLARED_ROUTE_MESSAGE,
    UNDECLARED_ROUTE_STATUS,
)

UNDECLARED = (UNDECLARED_ROUTE_STATUS, {"error": UNDECLARED_ROUTE_ERROR, "message": UNDECLARED_ROUTE_MESSAGE})
DISALLOWED = (DISALLOWED_METHOD_STATUS, {"error": DISALLOWED_METHOD_ERROR, "message": DISALLOWED_METHOD_MESSAGE})
API_PATHS = ["/text2image", "/text2image/jobs", "/text2image/", "/text2image/jobs/x", "/text2image/anything"]
SITE_AND_OBJECT_PATHS = ["/", "/text2image.js", "/text2image.html", "/nothing-here", "/images/abc/0.jpeg", "/requests/abc.json"]
# Methods CloudFront never lets through (its widest set is GET, HEAD, OPTIONS, PUT, PATCH, POST,
# DELETE): an unknown name included, which http.server would answer with a 501 HTML page.
NEVER_FORWARDED = ["TRACE", "CONNECT", "FOO"]


def exchange(url: str, method: str, path: str, body: bytes | None = None) -> tuple[int, dict[str, str], bytes]:
    """One request with any method name, on its own connection."""
    connection = HTTPConnection(urlsplit(url).netloc, timeout=30)
    try:
        connection.request(method, path, body=body, headers={"Content-Type": "application/json"} if body is not None else {})
        response = connection.getresponse()
        return response.status, dict(response.headers), response.read()
    finally:
        connection.close()


def answer(url: str, method: str, path: str) -> tuple[int, dict[str, str]]:
    status, headers, body = exchange(url, method, path, b'{"text": "a"}' if method in ("PUT", "PATCH", "POST", "DELETE") else None)
    assert headers["Content-Type"] == "application/json"
    return status, json.loads(body)


@pytest.mark.parametrize("path", API_PATHS)
@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH", "OPTIONS"])
def test_methods_the_api_does_not_declare_get_the_stacks_undeclared_route_answer(clean_stack: LocalStack, method: str, path: str) -> None:
    assert answer(clean_stack.gateway.url, method, path) == UNDECLARED


@pytest.mark.parametrize("path", ["/text2image/", "/text2image/jobs/x", "/text2image/anything", "/text2image/Jobs"])
def test_post_to_a_path_the_api_does_not_declare_is_an_undeclared_route(clean_stack: LocalStack, path: str) -> None:
    assert answer(clean_stack.gateway.url, "POST", path) == UNDECLARED
    assert clean_stack.endpoints.stats()["sd-local-1"]["invocations"] == 0


@pytest.mark.parametrize("path", ["/text2image", "/text2image/jobs"])
def test_head_on_the_api_is_the_undeclared_route_answer_without_a_body(clean_stack: LocalStack, path: str) -> None:
    status, headers, body = exchange(clean_stack.gateway.url, "HEAD", path)
    assert (status, headers["Content-Type"], body) == (UNDECLARED_ROUTE_STATUS, "application/json", b"")


@pytest.mark.parametrize("path", API_PATHS + SITE_AND_OBJECT_PATHS)
@pytest.mark.parametrize("method", NEVER_FORWARDED)
def test_methods_cloudfront_never_forwards_get_its_403_in_json(clean_stack: LocalStack, method: str, path: str) -> None:
    assert answer(clean_stack.gateway.url, method, path) == DISALLOWED


@pytest.mark.parametrize("path", SITE_AND_OBJECT_PATHS)
@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
def test_the_site_and_the_objects_take_only_get_and_head(clean_stack: LocalStack, method: str, path: str) -> None:
    assert answer(clean_stack.gateway.url, method, path) == DISALLOWED


@pytest.mark.parametrize("name", sorted(path.name for path in WEB.iterdir()))
def test_every_site_file_is_served_with_get_and_head(clean_stack: LocalStack, name: str) -> None:
    status, headers, body = http("GET", f"{clean_stack.gateway.url}/{name}", content_type=None)
    assert status == 200 and body == (WEB / name).read_bytes()
    status, head_headers, head_body = exchange(clean_stack.gateway.url, "HEAD", f"/{name}")
    assert (status, head_body, head_headers["Content-Length"], head_headers["Content-Type"]) == (200, b"", str(len(body)), headers["Content-Type"])


@pytest.mark.parametrize("path", ["/Text2image.js", "/TEXT2IMAGE.HTML", "/text2image.js/", "/web/text2image.js"])
def test_site_paths_are_exact_and_case_sensitive(clean_stack: LocalStack, path: str) -> None:
    status, _, _ = http("GET", clean_stack.gateway.url + path, content_type=None)
    assert status == 404


def test_a_refused_body_does_not_leak_into_the_next_request_on_the_connection(clean_stack: LocalStack) -> None:
    connection = HTTPConnection(urlsplit(clean_stack.gateway.url).netloc, timeout=30)
    try:
        connection.request("PUT", "/text2image", body=b'{"text": "GET /nothing HTTP/1.1"}', headers={"Content-Type": "application/json"})
        first = connection.getresponse()
        assert (first.status, json.loads(first.read())) == UNDECLARED
        connection.request("GET", "/")
        second = connection.getresponse()
        assert second.status == 200 and b"text2image.js" in second.read()
    finally:
        connection.close()


def post_chunked(url: str, chunks: list[bytes] | bytes) -> tuple[int, dict[str, object]]:
    """A POST whose body comes with Transfer-Encoding: chunked (http.client frames a list;
    bytes are sent as they are, framing included)."""
    connection = HTTPConnection(urlsplit(url).netloc, timeout=30)
    try:
        headers = {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}
        if isinstance(chunks, bytes):
            connection.request("POST", "/text2image", body=chunks, headers=headers)
        else:
            connection.request("POST", "/text2image", body=iter(chunks), headers=headers, encode_chunked=True)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def test_a_chunked_body_is_read_as_a_whole(clean_stack: LocalStack) -> None:
    status, body = post_chunked(clean_stack.gateway.url, [b'{"text": "chun', b'ked", "num_images": 1}'])
    assert status == 200 and len(body["images"]) == 1  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("framing", "says"),
    [
        (b"8000\r\n" + b" " * 0x8000 + b"\r\n8001\r\n", "the limit is"),  # the second chunk would pass 64 KiB
        (b"zz\r\n", "chunked"),
    ],
    ids=["over-the-limit", "malformed"],
)
def test_a_chunked_body_over_the_limit_or_malformed_is_refused_naming_the_body(clean_stack: LocalStack, framing: bytes, says: str) -> None:
    """Sent up to the chunk-size line the gateway refuses, then the answer is read: the gateway
    answers without reading further and closes, so a client still sending would see its pipe
    broken instead of the 400 (and bytes left unread would reset the connection)."""
    address = urlsplit(clean_stack.gateway.url)
    with socket.create_connection((str(address.hostname), int(address.port or 80)), timeout=30) as sock:
        head = b"POST /text2image HTTP/1.1\r\nHost: local\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        sock.sendall(head + framing)
        response = HTTPResponse(sock)
        response.begin()
        body = json.loads(response.read())
    assert (response.status, body["field"]) == (400, "body") and says in str(body["message"])
    assert clean_stack.endpoints.stats()["sd-local-1"]["invocations"] == 0
