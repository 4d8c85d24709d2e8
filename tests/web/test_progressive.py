"""With simulated GPU time, images appear as each endpoint call ends (a separate `text2image up`
with latency, two images per call)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from text2image.local.process import LocalStackProcess


@pytest.fixture(scope="module")
def slow_stack() -> Iterator[LocalStackProcess]:
    # One endpoint, 3 s per image, calls of at most 2 images: 3 images are a call of images 0 and 1
    # (written about 6 s after the start) and a call of image 2 (about 3 s later). The page's polls
    # back off to one every 2 s while nothing arrives, so the gap must be longer than that.
    with LocalStackProcess("--endpoints", "1", "--latency", "3", "--images-per-call", "2") as running:
        yield running


def test_the_first_calls_images_are_visible_before_the_last_one(slow_stack: LocalStackProcess, page: Page) -> None:
    page.goto(slow_stack.url + "/")
    page.get_by_label("Prompt", exact=True).fill("one call at a time")
    page.get_by_label("Number of images").fill("3")
    page.get_by_role("button", name="Send").click()
    figures = page.locator("#images figure")
    expect(figures).to_have_count(3)
    expect(figures.nth(0)).to_have_class("done", timeout=25_000)
    expect(figures.nth(1)).to_have_class("done", timeout=1_000)  # the same call: at once (a poll after an arrival is 0.4 s)
    assert figures.nth(2).get_attribute("class") == "pending"
    expect(page.locator("#elapsed")).not_to_have_text("")
    expect(figures.nth(2)).to_have_class("done", timeout=25_000)
    expect(page.get_by_role("status")).to_contain_text("3 image(s) in", timeout=25_000)
