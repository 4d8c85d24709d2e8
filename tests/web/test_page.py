"""The served page and the original system's browser snippet, in a real browser."""

from __future__ import annotations

import json
from pathlib import Path

from playwright.sync_api import Page, Request, expect
from support import invocations

from text2image.local.stack import LocalStack

SEED_SNIPPET = (Path(__file__).parents[1] / "data" / "seed_snippet.js").read_text(encoding="utf-8")


def test_the_seed_snippet_works_unchanged_from_the_served_page(clean_stack: LocalStack, page: Page) -> None:
    page.goto(clean_stack.gateway.url + "/")
    snippet = SEED_SNIPPET.replace("https://d3ic6ryvcaoqdy.cloudfront.net", clean_stack.gateway.url)
    logged: list[str] = []
    page.on("console", lambda message: logged.append(message.text))
    with page.expect_console_message(lambda m: m.text.startswith("result4: "), timeout=30_000):
        page.add_script_tag(content='var text = "A flower, fantasy, happy";\n' + snippet)
    urls = [json.loads(line.split(": ", 1)[1]) for line in logged if line.startswith("result") and line[6:7].isdigit()]
    assert len(urls) == 4 and all(url.startswith(clean_stack.gateway.url + "/images/") for url in urls)
    assert invocations(clean_stack) == {"sd-local-1": 2, "sd-local-2": 2}


def test_send_shows_every_image_decoded_at_the_asked_size(clean_stack: LocalStack, page: Page, output_dir: Path) -> None:
    page.goto(clean_stack.gateway.url + "/")
    page.get_by_label("Prompt").fill("A flower, fantasy, very happy, immature, smile")
    page.get_by_role("button", name="Send").click()
    images = page.locator("#images img")
    expect(images).to_have_count(4, timeout=30_000)
    for i in range(4):
        images.nth(i).evaluate("img => img.decode()")
        assert images.nth(i).evaluate("img => img.naturalWidth") == 768
        assert images.nth(i).evaluate("img => img.naturalHeight") == 512
    expect(page.get_by_role("status")).to_contain_text("4 image(s)")
    page.screenshot(path=str(output_dir / "page-after-send.png"), full_page=True)


def test_an_empty_prompt_is_refused_in_the_page_without_a_request(clean_stack: LocalStack, page: Page) -> None:
    page.goto(clean_stack.gateway.url + "/")
    posts: list[Request] = []
    page.on("request", lambda request: posts.append(request) if request.method == "POST" else None)
    page.get_by_label("Prompt").fill("   ")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_role("status")).to_have_text("Type a prompt first.")
    assert posts == []
    assert invocations(clean_stack) == {"sd-local-1": 0, "sd-local-2": 0}
