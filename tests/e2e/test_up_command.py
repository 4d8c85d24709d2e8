"""`text2image up` as a user runs it: a separate process, free ports, Ctrl-C to stop."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import UNTHROTTLED, http, jpeg_dimensions, post_json

from text2image.local.process import LocalStackProcess


@pytest.fixture(scope="module")
def up() -> Iterator[LocalStackProcess]:
    with LocalStackProcess("--endpoints", "2", "--retry-time-scale", "0.01", *UNTHROTTLED) as running:
        yield running


def test_ready_on_loopback_with_every_url_printed(up: LocalStackProcess) -> None:
    assert up.url.startswith("http://127.0.0.1:")
    assert re.search(r"endpoints\s+http://127\.0\.0\.1:\d+\s+sd-local-1, sd-local-2", up.banner)
    assert re.search(r"local AWS\s+http://127\.0\.0\.1:\d+", up.banner)


def test_a_prompt_gives_four_jpegs_of_768_by_512(up: LocalStackProcess) -> None:
    status, answer = post_json(f"{up.url}/text2image", {"text": "A flower, fantasy, happy"})
    assert status == 200
    urls = json.loads(answer["body"])
    assert len(urls) == 4
    assert {image["endpoint"] for image in answer["images"]} == {"sd-local-1", "sd-local-2"}
    for url in urls:
        code, headers, data = http("GET", url, content_type=None)
        assert code == 200 and headers["Content-Type"] == "image/jpeg" and jpeg_dimensions(data) == (768, 512)


def generate(up: LocalStackProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "text2image.cli", "generate", *args, "--api", up.url],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("route", [[], ["--sync"]], ids=["jobs", "sync"])
def test_generate_saves_the_images_with_progress(up: LocalStackProcess, tmp_path: Path, route: list[str]) -> None:
    out = generate(up, "a cat", "-n", "2", "--width", "512", "--height", "512", "--out", str(tmp_path), *route)
    assert out.returncode == 0, out.stderr
    saved = re.findall(r"^(\S+\.jpeg)  \(sd-local-\d, seed \d+, [\d.]+ s\)$", out.stdout, re.MULTILINE)
    assert len(saved) == 2 and all(path.startswith(str(tmp_path)) for path in saved)
    for path in saved:
        assert jpeg_dimensions(Path(path).read_bytes()) == (512, 512)
    assert "2 image(s) in" in out.stderr
    if not route:
        assert "[------------------------] 0/2 images" in out.stderr and "] 2/2 images" in out.stderr


def test_generate_reports_a_bad_request_and_fails(up: LocalStackProcess) -> None:
    out = generate(up, "a cat", "--width", "1001")
    assert out.returncode == 1
    assert "400 ValidationError: width: must be a multiple of 8" in out.stderr


def test_ctrl_c_stops_cleanly(up: LocalStackProcess) -> None:
    assert up.stop() == 0
    up.wait_for("stopped", 5)


def test_two_sigterms_at_once_stop_it_cleanly() -> None:
    """What `timeout 40 uv run text2image up` sends: one SIGTERM from timeout, one from uv. Two
    signals sent back to back may reach the handler once (the kernel and Python merge pending
    ones), so this is the smoke test; tests/unit/test_stop_signals.py nests them for certain."""
    running = LocalStackProcess("--endpoints", "1")
    running.process.send_signal(signal.SIGTERM)
    running.process.send_signal(signal.SIGTERM)
    try:
        assert running.process.wait(timeout=20) == 0
    finally:
        running.process.kill()
    running.wait_for("stopped", 5)


def test_a_fault_given_on_the_command_line_applies() -> None:
    with LocalStackProcess("--endpoints", "2", "--fault", "sd-local-2=error") as running:
        status, answer = post_json(f"{running.url}/text2image", {"text": "half of it"})
        assert status == 200
        assert len(json.loads(answer["body"])) == 2
        assert [(e["index"], e["endpoint"], e["error"]) for e in answer["errors"]] == [(2, "sd-local-2", "ModelError"), (3, "sd-local-2", "ModelError")]


def test_bad_options_are_refused_with_a_message() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "text2image.cli", "up", "--port", "0", "--fault", "sd-local-9=error"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 2 and "no endpoint named 'sd-local-9'" in out.stderr


def test_a_port_in_use_is_named_with_how_to_choose_another() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = subprocess.run([sys.executable, "-m", "text2image.cli", "up", "--port", str(port)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2, out.stderr
    assert out.stderr == (
        f'text2image up: port {port} on 127.0.0.1 is in use; choose another with make up ARGS="--port N" or text2image up --port N (0 = any free port)\n'
    )
