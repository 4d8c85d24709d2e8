"""How `text2image up --scale-to-zero IDLE --cold-start S` reaches the local stack: its options are
checked before anything starts, the banner says it, and the Lambdas' environment names the
inference components, the control plane's URL and the waits. The stack doing it end to end is
tests/e2e/test_cold_stack.py."""

from __future__ import annotations

import json
import subprocess
import sys
from types import SimpleNamespace
from typing import Any

import pytest

from text2image.cli import scale_to_zero_line
from text2image.local.aws import LocalAWS, LocalAWSConfig
from text2image.local.stack import StackConfig, aws_config

NAMES = ["sd-local-1", "sd-local-2"]
ENDPOINTS_URL = "http://127.0.0.1:9001"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--cold-start", "3"], "--cold-start applies to endpoints that scale to zero: give --scale-to-zero IDLE too"),
        (["--scale-to-zero", "0"], "--scale-to-zero must be a positive number of seconds, not 0"),
        (["--scale-to-zero", "inf"], "--scale-to-zero must be a positive number of seconds, not inf"),
        (["--scale-to-zero", "2", "--cold-start", "-1"], "--cold-start must be a positive number of seconds, not -1"),
        (
            ["--scale-to-zero", "2", "--retry-time-scale", "1"],
            "--retry-time-scale 1 calls a warming endpoint every 15 s, not within --scale-to-zero's 2 s idle: "
            "a copy would go before a job used it; give less than 0.133, or leave it out for 0.0667",
        ),
    ],
)
def test_up_refuses_scale_to_zero_options_it_cannot_use_saying_why(options: list[str], message: str) -> None:
    out = subprocess.run([sys.executable, "-m", "text2image.cli", "up", "--port", "0", *options], capture_output=True, text=True, timeout=60)
    assert (out.returncode, out.stderr, out.stdout) == (2, f"text2image up: {message}\n", "")


def banner_line(config: StackConfig) -> str:
    stack: Any = SimpleNamespace(config=config, aws=SimpleNamespace(config=aws_config(config, ENDPOINTS_URL)))  # the line reads the configs only
    return scale_to_zero_line(stack)


def test_the_banner_says_when_endpoints_go_cold_and_how_long_they_take_to_come_back() -> None:
    assert banner_line(StackConfig(scale_to_zero=2, cold_start=3.5)) == (
        "  scale to zero    endpoints scale to zero after 2 s idle; a cold start takes 3.5 s; "
        "a job calls a warming endpoint every 1 s and waits up to 13.3 s (Retry intervals x 0.0667)\n"
    )
    assert banner_line(StackConfig(scale_to_zero=8, cold_start=3, retry_time_scale=0.1)).endswith("every 1.5 s and waits up to 20 s (Retry intervals x 0.1)\n")
    # A wait shorter than a cold start is allowed, as on AWS (200 s against minutes), and said.
    assert banner_line(StackConfig(scale_to_zero=1, cold_start=10)).endswith(
        "every 0.5 s and waits up to 6.67 s (Retry intervals x 0.0333; shorter than a cold start: a job started cold ends EndpointCold)\n"
    )
    assert banner_line(StackConfig()) == ""


def test_retry_intervals_are_as_on_aws_unless_endpoints_scale_to_zero_in_seconds() -> None:
    assert StackConfig().retry_scale == 1.0
    assert StackConfig(retry_time_scale=0.01).retry_scale == 0.01
    # The workflow calls a warming endpoint every 15 s: locally within half the idle window, so a
    # copy that comes is used before it goes (on AWS the window is 15 min).
    assert StackConfig(scale_to_zero=2).retry_scale == pytest.approx(1 / 15)
    assert StackConfig(scale_to_zero=120).retry_scale == 1.0  # a window long enough needs no change
    assert StackConfig(scale_to_zero=2, retry_time_scale=0.1).retry_scale == 0.1  # given, kept


def environment(**settings: Any) -> dict[str, str]:
    """The environment a local AWS gives the Lambdas (as once started: moto's URL is its own)."""
    aws = LocalAWS(LocalAWSConfig(endpoint_names=NAMES, endpoints_url=ENDPOINTS_URL, **settings))
    aws.url = "http://127.0.0.1:9002"
    return aws.environment()


def test_endpoints_that_scale_to_zero_are_called_by_component_and_warmed_through_the_endpoint_server() -> None:
    env = environment(retry_time_scale=0.1, scales_to_zero=True, cold_start_seconds=2.5)
    assert json.loads(env["INFERENCE_COMPONENTS"]) == {"sd-local-1": "sd-local-1-model", "sd-local-2": "sd-local-2-model"}
    assert env["AWS_ENDPOINT_URL_SAGEMAKER"] == env["AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME"] == ENDPOINTS_URL
    assert env["COLD_START_SECONDS"] == "3"  # whole seconds, as Retry-After gives them
    assert env["COLD_WAIT_SECONDS"] == "20"  # Prepare's 200 s, scaled as the workflow's Retry intervals
    assert env["LATER_CALL_SECONDS"] == "61.5"  # a 15 s Retry interval, scaled, and the stack's 60 s per call


def test_endpoints_that_do_not_scale_to_zero_host_no_component_whatever_an_earlier_stack_set() -> None:
    env = environment(retry_time_scale=1.0)
    assert env["INFERENCE_COMPONENTS"] == "{}"  # set, so that no earlier stack's value stays in the process
    assert env["COLD_WAIT_SECONDS"] == "200"
    assert env["LATER_CALL_SECONDS"] == "75"  # as on AWS: 15 s and SageMaker's 60 s
