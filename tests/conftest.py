"""Shared fixtures. One local stack per test process: moto's backends and the handlers'
cold-start settings are process-wide, as they are per Lambda container on AWS."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from text2image.local.gateway import GatewayConfig
from text2image.local.lambdas import add_function_paths
from text2image.local.stack import LocalStack, StackConfig

add_function_paths()  # the pure modules of the Lambda folders are importable by name

DATA = Path(__file__).parent / "data"
CORPUS: dict[str, list[dict[str, Any]]] = json.loads((DATA / "requests.json").read_text(encoding="utf-8"))

# Retry waits at 1/100 of the ASL's intervals; an endpoint call limit of 2 s instead of 60 s.
TEST_STACK = StackConfig(port=0, endpoints=2, retry_time_scale=0.01, invocation_limit=2.0, gateway=GatewayConfig(throttle_rate=1000, throttle_burst=1000))


@pytest.fixture(scope="session")
def stack() -> Iterator[LocalStack]:
    local = LocalStack(TEST_STACK).start()
    yield local
    local.stop()


@pytest.fixture
def clean_stack(stack: LocalStack) -> LocalStack:
    """The session stack with no faults and zeroed endpoint counters."""
    stack.endpoints.clear_faults()
    stack.endpoints.reset_stats()
    return stack


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``valid_case`` / ``invalid_case`` parameters run over the shared request corpus."""
    for kind in ("valid", "invalid"):
        if f"{kind}_case" in metafunc.fixturenames:
            cases = CORPUS[kind]
            metafunc.parametrize(f"{kind}_case", cases, ids=[case["name"] for case in cases])
