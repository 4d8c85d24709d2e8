"""The HTTP plumbing of the local servers, in one place: a threaded server bound at
construction (so its URL is known before it serves) and one request handler that reads the
request, calls the service's ``handle(method, path, headers, body)`` and writes its answer.
The services (the gateway, the endpoint server) keep only their routing."""

from __future__ import annotations

import errno
import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self, cast
from urllib.parse import urlsplit

# (status, headers, body) of one answer; Content-Length is added when the service leaves it out.
Response = tuple[int, dict[str, str], bytes]
_HEX = frozenset(b"0123456789abcdefABCDEF")


@dataclass(frozen=True)
class Body:
    """A request's body. Over the service's limit it is left unread (``data`` empty, ``size``
    the size declared or counted so far) and the connection closes, instead of draining a
    flood or leaving unread bytes to be taken for the next request."""

    data: bytes
    size: int
    malformed: bool = False  # chunked framing that could not be read (left unread too)

    def too_large(self, limit: int) -> bool:
        return self.size > limit


class PortInUse(OSError):
    """The address a service was to listen on is taken."""

    def __init__(self, host: str, port: int) -> None:
        super().__init__(f"port {port} on {host} is in use")
        self.host, self.port = host, port


class HTTPService(ABC):
    """A service on its own port. ``max_body_bytes``: the largest body read (see ``Body``), unless
    ``body_limit`` says otherwise for a path."""

    max_body_bytes = 64 * 1024

    def __init__(self, name: str, host: str, port: int) -> None:
        try:
            self._httpd = _Server((host, port), self)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PortInUse(host, port) from None
            raise
        self._thread = threading.Thread(target=self._httpd.serve_forever, name=name, daemon=True)

    def body_limit(self, path: str) -> int:
        """The largest body read for a request to ``path``."""
        return self.max_body_bytes

    @abstractmethod
    def handle(self, method: str, path: str, headers: Message, body: Body, query: str = "") -> Response:
        """One request (``path`` without its query string, which comes as ``query``) -> its answer."""

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], service: HTTPService) -> None:
        self.service = service
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: without TCP_NODELAY, Nagle + delayed ACK hold the
    # body back ~40 ms on every call.
    disable_nagle_algorithm = True
    server_version = "text2image-local"

    def __getattr__(self, name: str) -> Any:
        # http.server calls do_<METHOD> and answers a method without one with its own 501 HTML
        # page: every method, known or not, goes to the service instead.
        if name.startswith("do_"):
            return self._handle
        raise AttributeError(name)

    def _handle(self) -> None:
        service = cast(_Server, self.server).service
        target = urlsplit(self.path)
        body = self._read_body(service.body_limit(target.path))
        status, headers, data = service.handle(self.command, target.path, self.headers, body, target.query)
        self.send_response(status)
        headers.setdefault("Content-Length", str(len(data)))
        if self.close_connection:  # a body left unread, or the client asked: say so (RFC 9112 9.6)
            headers.setdefault("Connection", "close")
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _read_body(self, limit: int) -> Body:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return self._read_chunked(limit)
        declared = self.headers.get("Content-Length") or "0"
        size = int(declared) if declared.isdigit() else limit + 1  # not a size: refused as too large
        if size > limit:
            self.close_connection = True
            return Body(b"", size)
        return Body(self.rfile.read(size), size)

    def _read_chunked(self, limit: int) -> Body:
        chunks: list[bytes] = []
        size = 0
        while True:
            line = self.rfile.readline(64).split(b";", 1)[0].strip()
            if not line or not _HEX.issuperset(line):
                self.close_connection = True
                return Body(b"", size, malformed=True)
            chunk_size = int(line, 16)
            if size + chunk_size > limit:
                self.close_connection = True
                return Body(b"", size + chunk_size)
            if chunk_size == 0:
                while self.rfile.readline(1024).strip():  # trailers, up to the blank line
                    pass
                return Body(b"".join(chunks), size)
            chunks.append(self.rfile.read(chunk_size))
            self.rfile.readline(8)  # the CRLF after each chunk
            size += chunk_size

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass  # the workflow logs every call; access lines would only add noise
