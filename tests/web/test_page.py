"""The served page and the original system's browser snippet, in a real browser."""

from __future__ import annotations

import json
import re
from pathlib import Path

from playwright.sync_api import Dialog, Page, Request, expect
from support import invocations

from text2image.local.stack import LocalStack

SEED_SNIPPET = (Path(__file__).parents[1] / "data" / "seed_snippet.js").read_text(encoding="utf-8")
RUN_TIMEOUT_MS = 30_000


def test_the_seed_snippet_works_unchanged_from_the_served_page(clean_stack: LocalStack, page: Page) -> None:
    page.goto(clean_stack.gateway.url + "/")
    snippet = SEED_SNIPPET.replace("https://d3ic6ryvcaoqdy.cloudfront.net", clean_stack.gateway.url)
    logged: list[str] = []
    page.on("console", lambda message: logged.append(message.text))
    with page.expect_console_message(lambda m: m.text.startswith("result4: "), timeout=RUN_TIMEOUT_MS):
        page.add_script_tag(content='var text = "A flower, fantasy, happy";\n' + snippet)
    urls = [json.loads(line.split(": ", 1)[1]) for line in logged if line.startswith("result") and line[6:7].isdigit()]
    assert len(urls) == 4 and all(url.startswith(clean_stack.gateway.url + "/images/") for url in urls)
    assert invocations(clean_stack) == {"sd-local-1": 1, "sd-local-2": 1}  # 4 images: one call of 2 per endpoint


def test_enter_sends_and_every_image_appears_decoded_with_its_details(clean_stack: LocalStack, page: Page, output_dir: Path) -> None:
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(clean_stack.gateway.url + "/")
    page.get_by_label("Prompt", exact=True).fill("A flower, fantasy, very happy, immature, smile")
    page.get_by_label("Seed").fill("1234")
    page.get_by_label("Prompt", exact=True).press("Enter")
    expect(page.get_by_role("button", name="Send")).to_be_disabled()
    expect(page.get_by_role("status")).to_contain_text("4 image(s) in", timeout=RUN_TIMEOUT_MS)
    expect(page.get_by_role("button", name="Send")).to_be_enabled()
    images = page.locator("#images figure.done img")
    expect(images).to_have_count(4)
    for i in range(4):
        assert images.nth(i).evaluate("img => img.decode().then(() => [img.naturalWidth, img.naturalHeight])") == [768, 512]
    captions = page.locator("#images figcaption")
    expect(captions.nth(0)).to_contain_text("sd-local-1")
    expect(captions.nth(1)).to_contain_text("seed 1235")
    full_size = re.compile(re.escape(f"{clean_stack.gateway.url}/images/") + r"[0-9a-f-]+-n4/0\.jpeg")
    expect(captions.nth(0).get_by_role("link", name="full size")).to_have_attribute("href", full_size)
    page.screenshot(path=str(output_dir / "page-after-4-images.png"), full_page=True)


def test_an_empty_prompt_is_refused_in_the_page_without_a_request(clean_stack: LocalStack, page: Page) -> None:
    page.goto(clean_stack.gateway.url + "/")
    posts: list[Request] = []
    page.on("request", lambda request: posts.append(request) if request.method == "POST" else None)
    page.get_by_label("Prompt", exact=True).fill("   ")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_role("alert")).to_have_text("Type a prompt first.")
    expect(page.get_by_label("Prompt", exact=True)).to_have_attribute("aria-invalid", "true")
    assert posts == []
    assert invocations(clean_stack) == {"sd-local-1": 0, "sd-local-2": 0}


def test_an_invalid_width_typed_by_hand_shows_the_apis_message(clean_stack: LocalStack, page: Page) -> None:
    page.goto(clean_stack.gateway.url + "/")
    page.get_by_label("Prompt", exact=True).fill("a cat")
    page.get_by_label("Resolution").select_option("custom")
    page.get_by_label("Width").fill("1001")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_role("alert")).to_have_text("Please check the request: width: must be a multiple of 8 (got 1001)")
    expect(page.get_by_label("Width")).to_have_attribute("aria-invalid", "true")
    assert invocations(clean_stack) == {"sd-local-1": 0, "sd-local-2": 0}


def test_one_endpoint_down_shows_the_others_images_and_badges_the_lost_ones(clean_stack: LocalStack, page: Page, output_dir: Path) -> None:
    clean_stack.endpoints.set_fault("sd-local-2", "error")
    page.goto(clean_stack.gateway.url + "/")
    page.get_by_label("Prompt", exact=True).fill("half of them")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_role("status")).to_contain_text("2 image(s) in", timeout=RUN_TIMEOUT_MS)
    expect(page.get_by_role("status")).to_contain_text("2 failed")
    expect(page.locator("#images figure.done")).to_have_count(2)
    badges = page.locator("#images figure.failed .badge")
    expect(badges).to_have_count(2)
    expect(badges.first).to_have_text("failed: ModelError")
    assert page.locator("#images figure.failed").evaluate_all("els => els.map(e => e.dataset.index)") == ["2", "3"]
    page.screenshot(path=str(output_dir / "page-with-a-failed-endpoint.png"), full_page=True)


def test_a_prompt_with_html_is_shown_as_text_and_nothing_runs(clean_stack: LocalStack, page: Page) -> None:
    dialogs: list[Dialog] = []

    def on_dialog(dialog: Dialog) -> None:
        dialogs.append(dialog)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.goto(clean_stack.gateway.url + "/")
    prompt = "<img src=x onerror=alert(1)> <script>alert(2)</script>"
    page.get_by_label("Prompt", exact=True).fill(prompt)
    page.get_by_label("Number of images").fill("1")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_role("status")).to_contain_text("1 image(s) in", timeout=RUN_TIMEOUT_MS)
    expect(page.locator("#results-prompt")).to_have_text(f"“{prompt}”")
    assert page.locator("#results img[src='x']").count() == 0 and page.locator("#results script").count() == 0
    assert dialogs == []


def test_the_page_fits_a_phone_screen(clean_stack: LocalStack, page: Page, output_dir: Path) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(clean_stack.gateway.url + "/")
    page.get_by_label("Prompt", exact=True).fill("a phone-sized flower")
    page.get_by_label("Number of images").fill("2")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_role("status")).to_contain_text("2 image(s) in", timeout=RUN_TIMEOUT_MS)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    box = page.locator("#images figure").first.bounding_box()
    assert box is not None and box["width"] <= 390
    page.screenshot(path=str(output_dir / "page-on-a-phone.png"), full_page=True)


def test_keyboard_alone_reaches_every_control_in_order(clean_stack: LocalStack, page: Page) -> None:
    page.goto(clean_stack.gateway.url + "/")
    order = []
    for _ in range(8):
        page.keyboard.press("Tab")
        order.append(page.evaluate("document.activeElement.id || document.activeElement.tagName"))
    assert order[:7] == ["text", "negative_prompt", "resolution", "num_images", "seed", "SUMMARY", "send"]
