"""tests/unit runs without the local stack: what needs moto or the endpoint server is in
tests/integration. The handlers run here on an environment like the deployed functions'."""

from __future__ import annotations

import pytest

# What infra/functions.py gives the deployed functions, with values of this test's own.
LAMBDA_ENVIRONMENT = {
    "BUCKET_NAME": "unit-bucket",
    "ENDPOINT_NAMES": "sd-1,sd-2",
    "IMAGES_PER_CALL": "0",
    "MAX_IMAGES_PER_CALL": "16",
    "MAX_PIXELS_PER_CALL": "6291456",
    "PUBLIC_BASE_URL_PARAMETER": "/text2image/unit/public-base-url",
    "ENDPOINT_READ_TIMEOUT": "70",
    "COLD_START_SECONDS": "420",
    "COLD_WAIT_SECONDS": "200",  # Prepare's default; the local stack of another test folder sets it scaled in this process's environment
    "LATER_CALL_SECONDS": "75",  # likewise
    "POWERTOOLS_SERVICE_NAME": "text2image",
    "POWERTOOLS_METRICS_NAMESPACE": "text2image",
    "POWERTOOLS_TRACE_DISABLED": "true",
}


@pytest.fixture
def stack() -> None:
    pytest.fail("tests/unit does not start the local stack: a test that needs it belongs in tests/integration")


@pytest.fixture
def lambda_env(monkeypatch: pytest.MonkeyPatch, cold_start: None) -> dict[str, str]:
    """The functions' environment, read by each handler at its next use (a cold start)."""
    for name, value in LAMBDA_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("DEFAULT_NUM_IMAGES", raising=False)  # the schema's default, unless a test sets one
    return LAMBDA_ENVIRONMENT
