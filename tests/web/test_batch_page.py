"""The batch page (web/batch.html) on the local stack in a real browser: "Run a file of prompts" sends a
JSONL or CSV file with its type, opens batch.html?id=<batch id>, which follows the batch to its end
(status, counts, the progress bar) and shows a contact sheet of every line's images; a line that
lost images says why; a file with bad lines lists each and runs nothing; a bad or unknown id says
so; where sign-in is on, the file goes with the signed-in user's ID token."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, Request, expect
from signed_in import SignedInStack
from support import invocations, keys_under, wait_until

from text2image.event_patterns import BATCH_INBOX_PREFIX
from text2image.local.aws import BUCKET
from text2image.local.lambdas import function_module
from text2image.local.stack import LocalStack
from text2image.routes import BATCH_MAX_BYTES

RUN_TIMEOUT_MS = 60_000
SIZE = 256
BATCH_PAGE = re.compile(r"/batch\.html\?id=batch-[0-9a-f]{32}$")


def posts(page: Page) -> list[Request]:
    seen: list[Request] = []
    page.on("request", lambda request: seen.append(request) if request.method == "POST" and request.url.endswith("/text2image/batches") else None)
    return seen


def run_file(page: Page, url: str, file: Path) -> list[Request]:
    """The file sent from the page's form; the POSTs the page made, as it makes them."""
    sent = posts(page)
    page.goto(url + "/batch.html")
    page.get_by_label("JSONL or CSV file").set_input_files(str(file))
    page.get_by_role("button", name="Run").click()
    return sent


def jsonl(tmp_path: Path, *texts: str) -> Path:
    file = tmp_path / "prompts.jsonl"
    file.write_text("".join(json.dumps({"text": text, "num_images": 2, "width": SIZE, "height": SIZE}) + "\n" for text in texts))
    return file


@pytest.mark.parametrize("kind", ["jsonl", "csv"])
def test_a_file_runs_to_the_end_with_its_progress_and_a_contact_sheet(clean_stack: LocalStack, page: Page, tmp_path: Path, output_dir: Path, kind: str) -> None:
    page.set_viewport_size({"width": 1280, "height": 900})
    if kind == "csv":
        file = tmp_path / "prompts.csv"
        file.write_text("text,num_images,width,height\n" + "".join(f'"a {name}, oil on canvas",2,{SIZE},{SIZE}\n' for name in ("fox", "heron", "hare")))
    else:
        file = jsonl(tmp_path, "a fox", "a heron", "a hare")
    sent = run_file(page, clean_stack.gateway.url, file)
    expect(page).to_have_url(BATCH_PAGE)
    assert [request.headers["content-type"] for request in sent] == ["text/csv" if kind == "csv" else "application/x-ndjson"]
    status = page.get_by_role("status")
    expect(status).to_have_text("The batch succeeded: 3 lines, 6 images.", timeout=RUN_TIMEOUT_MS)
    bar = page.get_by_role("progressbar", name="Lines ended")
    expect(bar).to_have_attribute("aria-valuemax", "3")
    expect(bar).to_have_attribute("aria-valuenow", "3")
    expect(page.locator("#counts")).to_have_text("3 of 3 lines ended · 6 images")
    tiles = page.get_by_role("list", name=re.compile("Contact sheet")).get_by_role("listitem")
    expect(tiles).to_have_count(3)
    first_line = 2 if kind == "csv" else 1  # a CSV's first row is its header
    for position in range(3):
        tile = tiles.nth(position)
        expect(tile).to_contain_text(f"Line {first_line + position}")
        expect(tile).to_contain_text("succeeded")
        thumbnails = tile.get_by_role("img")
        expect(thumbnails).to_have_count(2)
        assert thumbnails.nth(1).get_attribute("loading") == "lazy"
        assert thumbnails.nth(1).evaluate("img => img.decode().then(() => [img.naturalWidth, img.naturalHeight])") == [SIZE, SIZE]
    page.screenshot(path=str(output_dir / f"batch-page-{kind}.png"), full_page=True)


def test_a_line_that_lost_images_says_why(clean_stack: LocalStack, page: Page, tmp_path: Path) -> None:
    clean_stack.endpoints.set_fault("sd-local-2", "error")  # each 2-image line deals one image to each endpoint
    try:
        run_file(page, clean_stack.gateway.url, jsonl(tmp_path, "a wren", "a stoat"))
        expect(page.get_by_role("status")).to_have_text("The batch ended with images lost: 2 images made; each tile says why.", timeout=RUN_TIMEOUT_MS)
    finally:
        clean_stack.endpoints.clear_faults()
    tiles = page.locator("#sheet li")
    expect(tiles).to_have_count(2)
    for position in range(2):
        expect(tiles.nth(position)).to_contain_text("partial")
        expect(tiles.nth(position).locator(".reason")).to_contain_text(re.compile(r"sd-local-2: \w+ \(1 image lost\)"))
        expect(tiles.nth(position).get_by_role("img")).to_have_count(1)


def test_a_file_with_bad_lines_lists_each_and_nothing_runs(clean_stack: LocalStack, page: Page, tmp_path: Path) -> None:
    lines = [json.dumps({"text": f"line {n}", "width": SIZE, "height": SIZE}) for n in range(1, 21)]
    lines[2] = json.dumps({"text": ""})
    lines[16] = '{"text": "no end"'
    file = tmp_path / "prompts.jsonl"
    file.write_text("\n".join(lines) + "\n")
    sent = run_file(page, clean_stack.gateway.url, file)
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("The file was refused: 2 lines are invalid. Fix them and run it again:")
    bad = alert.get_by_role("listitem")
    expect(bad).to_have_count(2)
    expect(bad.nth(0)).to_have_text("Line 3: text: must not be empty")
    expect(bad.nth(1)).to_contain_text("Line 17: body: is not a JSON object on one line")
    assert len(sent) == 1
    assert page.url.endswith("/batch.html")  # no batch to open
    assert invocations(clean_stack) == {"sd-local-1": 0, "sd-local-2": 0}


def test_a_dropped_file_that_was_refused_lists_its_bad_lines(clean_stack: LocalStack, page: Page) -> None:
    body = b'{"text": "fine"}\n{"text": 7}\n'
    clean_stack.aws.s3.put_object(Bucket=BUCKET, Key=f"{BATCH_INBOX_PREFIX}{uuid.uuid4().hex}.jsonl", Body=body)
    batch_id = function_module("batch_input").refused_batch_id(body)
    wait_until(lambda: keys_under(clean_stack, f"batches/{batch_id}/status.json"), "the refused file's status document")
    page.goto(f"{clean_stack.gateway.url}/batch.html?id={batch_id}")
    expect(page.get_by_role("status")).to_have_text("The file was refused; nothing was run.")
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("The file was refused: 1 of 2 lines are invalid: line 2: text:")
    expect(alert.get_by_role("listitem")).to_have_count(1)
    expect(alert.get_by_role("listitem")).to_contain_text("Line 2: text:")
    expect(page.locator("#batch-state")).to_have_text("invalid")


def test_a_file_of_another_kind_is_refused_in_the_page(clean_stack: LocalStack, page: Page, tmp_path: Path) -> None:
    file = tmp_path / "notes.txt"
    file.write_text("a fox\n")
    sent = run_file(page, clean_stack.gateway.url, file)
    expect(page.get_by_role("alert")).to_have_text("notes.txt is neither JSONL (.jsonl, .ndjson) nor CSV (.csv).")
    expect(page.get_by_label("JSONL or CSV file")).to_have_attribute("aria-invalid", "true")
    assert sent == []


def test_a_file_larger_than_the_api_takes_is_refused_in_the_page_saying_what_to_do(clean_stack: LocalStack, page: Page, tmp_path: Path) -> None:
    """The limit comes from /config.json; past it the API's own answer could be a bare 413."""
    file = tmp_path / "big.jsonl"
    file.write_bytes(b'{"text": "a"}\n'.ljust(BATCH_MAX_BYTES + 1, b" "))
    sent = run_file(page, clean_stack.gateway.url, file)
    expect(page.get_by_role("alert")).to_have_text(
        "big.jsonl is 4,194,305 bytes; the API takes files of up to 4,194,304 bytes (4.0 MiB). Split it, or put it under batches/inbox/ in the stack's bucket."
    )
    expect(page.get_by_label("JSONL or CSV file")).to_have_attribute("aria-invalid", "true")
    assert sent == []


@pytest.mark.parametrize(
    ("batch_id", "message"),
    [
        ("nonsense", "“nonsense” is not a batch id: one is “batch-” and 32 hexadecimal digits, as POST /text2image/batches answers."),
        ("batch-" + "0" * 32, f"There is no batch batch-{'0' * 32} here: its status was not found."),
    ],
    ids=["bad", "unknown"],
)
def test_a_bad_or_unknown_batch_id_says_so(clean_stack: LocalStack, page: Page, batch_id: str, message: str) -> None:
    page.goto(f"{clean_stack.gateway.url}/batch.html?id={batch_id}")
    expect(page.get_by_role("alert")).to_have_text(message, timeout=15_000)
    expect(page.locator("#batch")).to_be_hidden()


@pytest.fixture(scope="module")
def signed_in_stack() -> Iterator[SignedInStack]:
    running = SignedInStack.start()
    with running.process:
        yield running


def test_where_sign_in_is_on_the_file_goes_with_the_id_token(signed_in_stack: SignedInStack, page: Page, tmp_path: Path) -> None:
    page.goto(signed_in_stack.url + "/batch.html")
    expect(page.get_by_role("button", name="Run")).to_be_hidden()
    page.get_by_label("User name").fill(signed_in_stack.username)
    page.get_by_label("Password").fill(signed_in_stack.password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#account")).to_contain_text(f"Signed in as {signed_in_stack.username}")
    sent = posts(page)
    page.get_by_label("JSONL or CSV file").set_input_files(str(jsonl(tmp_path, "a signed-in fox")))
    page.get_by_role("button", name="Run").click()
    expect(page).to_have_url(BATCH_PAGE)
    token = page.evaluate("JSON.parse(sessionStorage.getItem('text2image.session')).idToken")
    assert [request.headers.get("authorization") for request in sent] == [token]
    expect(page.get_by_role("status")).to_have_text("The batch succeeded: 1 line, 2 images.", timeout=RUN_TIMEOUT_MS)


def test_a_batch_past_the_users_daily_quota_is_refused_whole_with_the_quota_and_when_it_resets(
    signed_in_stack: SignedInStack, page: Page, tmp_path: Path
) -> None:
    username, password = signed_in_stack.add_user()
    signed_in_stack.use_up_quota(username, 199)
    page.goto(signed_in_stack.url + "/batch.html")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#account")).to_contain_text(f"Signed in as {username}")
    page.get_by_label("JSONL or CSV file").set_input_files(str(jsonl(tmp_path, "one fox too many")))
    page.get_by_role("button", name="Run").click()
    expect(page.get_by_role("alert")).to_contain_text(
        "This batch needs more images than you have left today: daily quota of 200 images: 199 used, 2 asked; resets at "
    )
    expect(page.get_by_role("alert")).to_contain_text("It resets at ")
    assert "?id=" not in page.url
