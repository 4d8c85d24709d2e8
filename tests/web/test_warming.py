"""The page where the GPUs scale to zero (`text2image up --scale-to-zero 8 --cold-start 4`, in its own
process): a prompt sent while they are cold says at once that they are starting and about how long,
counts down, and shows the images once the job that waited for them ends; a run whose wait ran out
first is sent again by itself once they are warm. The "Warm up GPUs" button brings them back ahead
of use, showing each endpoint's state. Where nothing scales to zero, there is no such button."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, Request, expect
from signed_in import SignedInStack
from support import UNTHROTTLED, endpoint_stats, wait_for_endpoints

from text2image.local.process import LocalStackProcess
from text2image.local.stack import LocalStack

# A job waits 200 s x 0.01 = 2 s for cold GPUs, shorter than their cold start: the first run finds
# none and fails EndpointCold, and the page must send it again. The page asks the warm route every
# 5 s: the GPUs must stay warm longer than that without a call, or it would only ever see them cold.
IDLE, COLD_START = 8, 4
RUN_TIMEOUT_MS = 40_000


@pytest.fixture(scope="module")
def cold_stack() -> Iterator[LocalStackProcess]:
    with LocalStackProcess("--scale-to-zero", str(IDLE), "--cold-start", str(COLD_START), "--retry-time-scale", "0.01", *UNTHROTTLED) as process:
        yield process


@pytest.fixture(scope="module")
def patient_stack() -> Iterator[LocalStackProcess]:
    # A job waits 200 s x 0.1 = 20 s for cold GPUs, longer than their cold start: it ends with every image by itself.
    with LocalStackProcess("--scale-to-zero", str(IDLE), "--cold-start", str(COLD_START), "--retry-time-scale", "0.1", *UNTHROTTLED) as process:
        yield process


def cold(stack: LocalStackProcess) -> None:
    """Every endpoint without a copy (IDLE s after the last call)."""
    wait_for_endpoints(stack.url, "cold", timeout=IDLE + COLD_START + 30)


def posts(page: Page, path: str) -> list[Request]:
    seen: list[Request] = []
    page.on("request", lambda request: seen.append(request) if request.method == "POST" and request.url.endswith(path) else None)
    return seen


def send_a_prompt(page: Page, stack: LocalStackProcess) -> list[Request]:
    """Four small images asked for from the page; the jobs it POSTs, as it POSTs them."""
    jobs = posts(page, "/text2image/jobs")
    page.goto(stack.url + "/")
    page.get_by_label("Prompt", exact=True).fill("a cold start")
    page.get_by_label("Resolution").select_option("custom")
    page.get_by_label("Width").fill("256")
    page.get_by_label("Height").fill("256")
    page.get_by_role("button", name="Send").click()
    return jobs


def test_a_job_waiting_for_cold_gpus_says_they_are_starting_then_shows_the_images(patient_stack: LocalStackProcess, page: Page, output_dir: Path) -> None:
    page.set_viewport_size({"width": 1280, "height": 900})
    cold(patient_stack)
    jobs = send_a_prompt(page, patient_stack)
    status = page.get_by_role("status")
    expect(status).to_have_text(f"The GPUs are starting — about {COLD_START} s. The page goes on by itself.")
    page.screenshot(path=str(output_dir / "page-gpus-starting.png"), full_page=True)
    expect(status).to_contain_text("4 image(s) in", timeout=RUN_TIMEOUT_MS)
    expect(page.locator("#images figure.done img")).to_have_count(4)
    assert len(jobs) == 1  # the job waited for the GPUs itself


def test_a_run_that_found_no_gpu_is_sent_again_once_they_are_warm(cold_stack: LocalStackProcess, page: Page) -> None:
    cold(cold_stack)
    jobs = send_a_prompt(page, cold_stack)
    status = page.get_by_role("status")
    expect(status).to_have_text(f"The GPUs are starting — about {COLD_START} s. The page goes on by itself.")
    expect(page.locator("#countdown")).to_have_text(re.compile(r"GPUs: (~\d+ s|any moment)"))
    expect(page.locator("#gpus")).to_have_text("GPUs: sd-local-1 warming, sd-local-2 warming.")
    expect(page.locator("#images figure")).to_have_count(4)
    expect(status).to_contain_text("4 image(s) in", timeout=RUN_TIMEOUT_MS)
    expect(page.locator("#images figure.done img")).to_have_count(4)
    expect(page.get_by_role("alert")).to_be_hidden()
    expect(page.locator("#countdown")).to_have_text("")
    # The first run found no GPU (its 2 s wait ended first): the page sent it again by itself.
    assert len(jobs) == 2 and jobs[0].post_data_json == jobs[1].post_data_json


def test_warm_up_gpus_shows_each_endpoint_until_all_are_warm(cold_stack: LocalStackProcess, page: Page) -> None:
    cold(cold_stack)
    refused = sum(e["cold_refusals"] for e in endpoint_stats(cold_stack.url).values())
    warms = posts(page, "/text2image/warm")
    page.goto(cold_stack.url + "/")
    gpus = page.locator("#gpus")
    expect(gpus).to_have_text(f"The GPUs stop when idle; starting them takes about {COLD_START} s.")
    button = page.get_by_role("button", name="Warm up GPUs")
    button.click()
    expect(gpus).to_have_text("GPUs: sd-local-1 warming, sd-local-2 warming.")
    expect(button).to_be_disabled()
    expect(page.get_by_role("status")).to_have_text(f"The GPUs are starting — about {COLD_START} s.")
    expect(gpus).to_have_text("All GPUs are warm.", timeout=RUN_TIMEOUT_MS)
    expect(page.get_by_role("status")).to_have_text("The GPUs are warm.")
    expect(button).to_be_enabled()
    assert len(warms) >= 2  # asked again until warm
    assert {e["state"] for e in endpoint_stats(cold_stack.url).values()} == {"warm"}
    assert sum(e["cold_refusals"] for e in endpoint_stats(cold_stack.url).values()) == refused  # warmed without a refused call


def test_where_nothing_scales_to_zero_there_is_no_warm_button(clean_stack: LocalStack, page: Page) -> None:
    page.goto(clean_stack.gateway.url + "/")
    page.wait_for_function("() => performance.getEntriesByName(new URL('/config.json', location.href).href).length > 0")
    expect(page.get_by_role("button", name="Warm up GPUs")).to_be_hidden()
    expect(page.locator("#gpus")).to_be_hidden()


@pytest.fixture(scope="module")
def signed_in_cold_stack() -> Iterator[SignedInStack]:
    running = SignedInStack.start("--scale-to-zero", str(IDLE), "--cold-start", str(COLD_START))
    with running.process:
        yield running


def test_with_sign_in_the_button_is_for_signed_in_users_and_sends_their_token(signed_in_cold_stack: SignedInStack, page: Page) -> None:
    stack = signed_in_cold_stack
    warms = posts(page, "/text2image/warm")
    page.goto(stack.url + "/")
    page.get_by_label("User name").fill(stack.username)
    expect(page.get_by_role("button", name="Warm up GPUs")).to_be_hidden()
    page.get_by_label("Password", exact=True).fill(stack.password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="Warm up GPUs").click()
    expect(page.locator("#gpus")).to_have_text(re.compile(r"GPUs: sd-local-1 (warm|warming), sd-local-2 (warm|warming)\.|All GPUs are warm\."))
    assert len(warms) == 1 and warms[0].headers["authorization"] == page.evaluate("JSON.parse(sessionStorage.getItem('text2image.session')).idToken")
