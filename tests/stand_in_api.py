"""A stand-in API on a real socket for the CLI's unit tests (tests/unit/test_cli_*.py): it answers
from a script per (method, path), each request taking the next answer and the last one
repeating, and records every request with its headers and body; and a fake clock whose sleeps
only move it. No test sleeps."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import pytest

from text2image.client import Waiting


@dataclass
class Answer:
    status: int
    body: dict[str, Any] | bytes
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes

    @property
    def authorization(self) -> str | None:
        return self.headers.get("authorization")


class StandIn:
    def __init__(self) -> None:
        self.script: dict[tuple[str, str], list[Answer]] = {}
        self.seen: list[Seen] = []
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.answer()

            def do_POST(self) -> None:
                self.answer()

            def answer(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                stand_in.seen.append(Seen(self.command, self.path, {name.lower(): value for name, value in self.headers.items()}, body))
                answers = stand_in.script.get((self.command, self.path)) or [Answer(404, {"error": "NotFound", "message": f"no such path {self.path}"})]
                answer = answers.pop(0) if len(answers) > 1 else answers[0]
                payload = answer.body if isinstance(answer.body, bytes) else json.dumps(answer.body).encode()
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def requests(self, method: str, path: str) -> list[Seen]:
        return [seen for seen in self.seen if (seen.method, seen.path) == (method, path)]

    def posts(self, path: str) -> list[Seen]:
        return self.requests("POST", path)


Api = TypeVar("Api", bound=StandIn)


def serving(stand_in: Api, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Api]:
    """A fixture's body: ``stand_in`` served until the test ends, and no stored login tokens of
    the user running the tests."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    thread = threading.Thread(target=stand_in.server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield stand_in
    stand_in.server.shutdown()
    stand_in.server.server_close()


class FakeClock:
    """Sleeps that only move a clock, and remember how long each was."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def waiting(self) -> Waiting:
        return Waiting(sleep=self.sleep, clock=lambda: self.now)
