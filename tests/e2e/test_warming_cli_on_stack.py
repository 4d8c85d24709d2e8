"""`text2image generate --sync` and `text2image warm --wait` as a user runs them against `text2image up
--scale-to-zero 8 --cold-start 3`: the real 503 WarmingUp (Retry-After) and warm route, real waits."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import UNTHROTTLED, endpoint_stats, jpeg_dimensions, run_cli, wait_for_endpoints

from text2image.local.process import LocalStackProcess

IDLE, COLD_START = 8, 3


@pytest.fixture(scope="module")
def cold_stack() -> Iterator[LocalStackProcess]:
    with LocalStackProcess("--scale-to-zero", str(IDLE), "--cold-start", str(COLD_START), "--retry-time-scale", "0.01", *UNTHROTTLED) as process:
        yield process


def cold(url: str) -> None:
    wait_for_endpoints(url, "cold", timeout=IDLE + COLD_START + 30)


def cli(stack: LocalStackProcess, config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(stack.url, config, *args)


def test_generate_sync_waits_for_cold_gpus_and_saves_the_images(cold_stack: LocalStackProcess, tmp_path: Path) -> None:
    cold(cold_stack.url)
    out = cli(cold_stack, tmp_path, "generate", "a cold start", "-n", "2", "--width", "256", "--height", "256", "--sync", "--out", str(tmp_path / "out"))
    assert out.returncode == 0, out.stderr
    assert f"the GPUs are starting (about {COLD_START} s); trying again in {COLD_START} s, Ctrl-C stops" in out.stderr
    saved = sorted((tmp_path / "out").glob("*/*.jpeg"))
    assert [path.name for path in saved] == ["0.jpeg", "1.jpeg"] and all(jpeg_dimensions(path.read_bytes()) == (256, 256) for path in saved)


def test_warm_wait_brings_the_gpus_back_without_a_refused_call(cold_stack: LocalStackProcess, tmp_path: Path) -> None:
    cold(cold_stack.url)
    refused = sum(e["cold_refusals"] for e in endpoint_stats(cold_stack.url).values())
    out = cli(cold_stack, tmp_path, "warm", "--wait")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[:3] == [
        "sd-local-1  warming  (0 copies of sd-local-1-model)",
        "sd-local-2  warming  (0 copies of sd-local-2-model)",
        f"about {COLD_START} s until the GPUs are warm",
    ]
    assert lines[-3:] == ["sd-local-1  warm  (1 copy of sd-local-1-model)", "sd-local-2  warm  (1 copy of sd-local-2-model)", "all endpoints are warm"]
    assert {e["state"] for e in endpoint_stats(cold_stack.url).values()} == {"warm"}
    assert sum(e["cold_refusals"] for e in endpoint_stats(cold_stack.url).values()) == refused


def test_warm_where_nothing_scales_to_zero_says_so(tmp_path: Path) -> None:
    with LocalStackProcess(*UNTHROTTLED) as always_warm:
        out = cli(always_warm, tmp_path, "warm")
    assert out.returncode == 0, out.stderr
    assert out.stdout == f"{always_warm.url}: this stack's endpoints do not scale to zero: nothing to warm\n"
