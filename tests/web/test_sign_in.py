"""The page on `text2image up --auth` in a real browser: sign-in (and a new user's first password),
the ID token on every API call, refreshed before it expires, back to sign-in on a 401, My runs
(re-run, download all), the quota's message, sign-out; and the API called from pages on other
origins, allowed only for one listed with --cors-origin."""

from __future__ import annotations

import io
import json
import threading
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from jwts import claims_of
from playwright.sync_api import Page, Request, Route, expect
from signed_in import SignedInStack
from support import http

RUN_TIMEOUT_MS = 30_000
COGNITO_TARGET = "AWSCognitoIdentityProviderService."


class BlankPage(BaseHTTPRequestHandler):
    """A page of another site: any path answers an empty HTML document."""

    def do_GET(self) -> None:
        body = b"<!doctype html><title>another site</title>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def other_sites() -> Iterator[tuple[str, str]]:
    """Two origins other than the gateway's (other ports): the first is listed with --cors-origin."""
    servers = [ThreadingHTTPServer(("127.0.0.1", 0), BlankPage) for _ in range(2)]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{servers[0].server_address[1]}", f"http://127.0.0.1:{servers[1].server_address[1]}"
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def stack(other_sites: tuple[str, str]) -> Iterator[SignedInStack]:
    running = SignedInStack.start("--cors-origin", other_sites[0])
    with running.process:
        yield running


def body_of(request: Request) -> dict[str, Any]:
    body = request.post_data_json
    assert isinstance(body, dict), request.post_data
    return body


def cognito_call(request: Request, operation: str) -> bool:
    return request.method == "POST" and request.headers.get("x-amz-target") == COGNITO_TARGET + operation


def sign_in(page: Page, stack: SignedInStack, username: str, password: str) -> None:
    page.goto(stack.url + "/")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#account")).to_contain_text(f"Signed in as {username}")


def generate(page: Page, prompt: str, images: int, seed: int | None = None) -> Request:
    """Send a prompt from the form; the jobs request the page made."""
    page.get_by_label("Prompt", exact=True).fill(prompt)
    page.get_by_label("Number of images").fill(str(images))
    page.get_by_label("Seed").fill("" if seed is None else str(seed))
    with page.expect_request(lambda request: request.url.endswith("/text2image/jobs")) as posted:
        page.get_by_role("button", name="Send").click()
    return posted.value


def storage(page: Page) -> str:
    return str(page.evaluate("JSON.stringify([sessionStorage, localStorage])"))


def test_sign_in_generate_see_the_run_in_my_runs_then_sign_out(stack: SignedInStack, page: Page, output_dir: Path) -> None:
    username, password = stack.add_user()
    page.goto(stack.url + "/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_label("Prompt", exact=True)).to_be_hidden()
    sign_in(page, stack, username, password)
    expect(page.get_by_role("heading", name="My runs")).to_be_visible()
    expect(page.locator("#runs-status")).to_have_text("No runs yet: the images you make appear here.")

    posted = generate(page, "a signed-in flower", 2, seed=1234)
    token = posted.headers["authorization"]
    assert claims_of(token)["cognito:username"] == username and claims_of(token)["token_use"] == "id"
    expect(page.get_by_role("status")).to_contain_text("2 image(s) in", timeout=RUN_TIMEOUT_MS)
    run = page.locator("#run-list li").first
    expect(run).to_contain_text("a signed-in flower", timeout=RUN_TIMEOUT_MS)
    expect(run).to_contain_text("succeeded")
    expect(run).to_contain_text("seed 1234")
    expect(run.locator(".thumbs img")).to_have_count(2)
    assert password not in storage(page)
    page.screenshot(path=str(output_dir / "page-signed-in-with-my-runs.png"), full_page=True)

    with page.expect_request(lambda request: cognito_call(request, "RevokeToken")) as revoked:
        page.get_by_role("button", name="Sign out").click()
    assert body_of(revoked.value)["Token"] and body_of(revoked.value)["ClientId"] == stack.client_id
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_label("Prompt", exact=True)).to_be_hidden()
    expect(page.locator("#run-list li")).to_have_count(0)
    assert storage(page) == "[{},{}]"
    page.reload()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


def test_reload_keeps_the_tab_signed_in(stack: SignedInStack, page: Page) -> None:
    sign_in(page, stack, stack.username, stack.password)
    page.reload()
    expect(page.locator("#account")).to_contain_text(f"Signed in as {stack.username}")
    expect(page.get_by_label("Prompt", exact=True)).to_be_visible()


def test_re_run_sends_the_same_request_and_download_all_zips_the_images(stack: SignedInStack, page: Page, tmp_path: Path) -> None:
    username, password = stack.add_user()
    sign_in(page, stack, username, password)
    page.get_by_label("Resolution").select_option("custom")
    page.get_by_label("Width").fill("512")
    page.get_by_label("Height").fill("256")
    first = body_of(generate(page, "the same twice", 2, seed=99))
    expect(page.locator("#run-list li")).to_have_count(1, timeout=RUN_TIMEOUT_MS)
    page.get_by_label("Prompt", exact=True).fill("something else")
    page.get_by_label("Seed").fill("")

    with page.expect_request(lambda request: request.url.endswith("/text2image/jobs")) as again:
        page.locator("#run-list li").first.get_by_role("button", name="Re-run").click()
    request = body_of(again.value)
    # The run's request as the history keeps it (normalized: the defaults filled in), sent as it is.
    assert request == first | {"negative_prompt": "", "num_inference_steps": 50, "guidance_scale": 7.5}
    assert request["seed"] == 99 and (request["width"], request["height"]) == (512, 256)
    expect(page.get_by_label("Prompt", exact=True)).to_have_value("the same twice")
    expect(page.locator("#run-list li")).to_have_count(2, timeout=RUN_TIMEOUT_MS)

    runs = page.locator("#run-list li")
    urls = [runs.nth(i).locator(".thumbs img").evaluate_all("imgs => imgs.map(img => img.src)") for i in range(2)]
    images = [[http("GET", url, content_type=None)[2] for url in run_urls] for run_urls in urls]
    assert images[0] == images[1]  # the same seed made the same images

    with page.expect_download() as download:
        runs.first.get_by_role("button", name="Download all").click()
    request_id = runs.first.get_attribute("data-request-id")
    assert download.value.suggested_filename == f"text2image-{request_id}.zip"
    archive = zipfile.ZipFile(io.BytesIO(Path(download.value.path()).read_bytes()))
    assert archive.testzip() is None  # every CRC matches
    assert archive.namelist() == ["0.jpeg", "1.jpeg"]
    assert [archive.read(name) for name in archive.namelist()] == images[0]


def test_more_pages_in_the_older_runs(stack: SignedInStack, page: Page) -> None:
    username, password = stack.add_user()
    sign_in(page, stack, username, password)
    for index in range(11):  # one more than a page
        generate(page, f"run {index}", 1)
        expect(page.locator("#run-list li").first).to_contain_text(f"run {index}", timeout=RUN_TIMEOUT_MS)
    expect(page.locator("#run-list li")).to_have_count(10)
    page.get_by_role("button", name="More").click()
    expect(page.locator("#run-list li")).to_have_count(11)
    expect(page.locator("#run-list li").last).to_contain_text("run 0")
    expect(page.get_by_role("button", name="More")).to_be_hidden()


def test_my_runs_waits_out_a_throttled_read(stack: SignedInStack, page: Page) -> None:
    """The stage's throttling (about 1 request/s deployed) counts history reads too: a 429 is
    waited out as its Retry-After says, not shown as an error."""
    reads: list[str] = []

    def throttled_once(route: Route) -> None:
        reads.append(route.request.url)
        if len(reads) == 1:
            route.fulfill(status=429, headers={"Retry-After": "1"}, json={"error": "TooManyRequests", "message": "rate limit exceeded; retry later"})
        else:
            route.continue_()

    username, password = stack.add_user()
    page.route("**/text2image/history?*", throttled_once)
    sign_in(page, stack, username, password)
    expect(page.locator("#runs-status")).to_have_text("No runs yet: the images you make appear here.")
    assert len(reads) == 2
    expect(page.get_by_role("alert")).to_be_hidden()


def test_a_401_mid_session_sends_back_to_sign_in(stack: SignedInStack, page: Page) -> None:
    sign_in(page, stack, stack.username, stack.password)
    before = stack.invocations()

    def token_no_longer_valid(route: Route) -> None:  # as a token revoked, or of a pool since replaced
        route.continue_(headers={**route.request.headers, "authorization": "eyJhbGciOiJub25lIn0.e30."})

    page.route("**/text2image/jobs", token_no_longer_valid)
    page.get_by_label("Prompt", exact=True).fill("refused")
    with page.expect_response("**/text2image/jobs") as answered:
        page.get_by_role("button", name="Send").click()
    assert answered.value.status == 401
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_role("alert")).to_have_text("Your session has ended; please sign in again.")
    expect(page.get_by_label("Prompt", exact=True)).to_be_hidden()
    assert storage(page) == "[{},{}]" and stack.invocations() == before

    page.unroute("**/text2image/jobs")
    page.get_by_label("User name").fill(stack.username)
    page.get_by_label("Password", exact=True).fill(stack.password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_label("Prompt", exact=True)).to_have_value("refused")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_role("status")).to_contain_text("4 image(s) in", timeout=RUN_TIMEOUT_MS)


def test_the_id_token_is_refreshed_before_it_expires(stack: SignedInStack, page: Page) -> None:
    page.clock.install()
    sign_in(page, stack, stack.username, stack.password)
    first = generate(page, "before", 1).headers["authorization"]
    expect(page.get_by_role("status")).to_contain_text("1 image(s) in", timeout=RUN_TIMEOUT_MS)
    page.clock.fast_forward("57:00")  # the hour-long ID token has 3 minutes left
    with page.expect_request(lambda request: cognito_call(request, "InitiateAuth")) as refreshed:
        later = generate(page, "after", 1).headers["authorization"]
    assert body_of(refreshed.value)["AuthFlow"] == "REFRESH_TOKEN_AUTH"
    assert later != first and claims_of(later)["exp"] >= claims_of(first)["exp"]
    expect(page.get_by_role("status")).to_contain_text("1 image(s) in", timeout=RUN_TIMEOUT_MS)


def test_a_new_user_chooses_a_password_at_the_first_sign_in(stack: SignedInStack, page: Page) -> None:
    username, temporary = stack.add_user(temporary=True)
    page.goto(stack.url + "/")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password", exact=True).fill(temporary)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Choose a new password")).to_be_visible()
    page.get_by_label("New password", exact=True).fill("Mine-and-new-42")
    page.get_by_label("New password again").fill("Mine-and-new-43")
    page.get_by_role("button", name="Set password").click()
    expect(page.get_by_role("alert")).to_have_text("The two passwords differ.")
    page.get_by_label("New password again").fill("Mine-and-new-42")
    page.get_by_role("button", name="Set password").click()
    expect(page.locator("#account")).to_contain_text(f"Signed in as {username}")
    assert temporary not in storage(page) and "Mine-and-new-42" not in storage(page)
    assert "AuthenticationResult" in stack.sign_in(username, "Mine-and-new-42")


def test_a_wrong_password_is_refused_on_the_sign_in_form(stack: SignedInStack, page: Page) -> None:
    page.goto(stack.url + "/")
    page.get_by_label("User name").fill(stack.username)
    page.get_by_label("Password", exact=True).fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("Wrong user name or password.")
    expect(page.get_by_label("Password", exact=True)).to_have_value("")
    expect(page.get_by_label("Prompt", exact=True)).to_be_hidden()


def test_over_the_quota_the_page_says_when_it_resets(stack: SignedInStack, page: Page) -> None:
    username, password = stack.add_user()
    stack.use_up_quota(username)
    sign_in(page, stack, username, password)
    before = stack.invocations()
    generate(page, "one too many", 4)
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Daily quota reached: daily quota of 200 images: 200 used, 4 asked; resets at ", timeout=RUN_TIMEOUT_MS)
    expect(alert).to_contain_text("It resets at ")
    expect(page.locator("#images figure")).to_have_count(0)
    assert stack.invocations() == before


FETCH_FROM_THIS_PAGE = """async ([api, token]) => {
  try {
    const response = await fetch(api + "/text2image", {
      method: "POST",
      headers: {"Content-Type": "application/json", "Authorization": token},
      body: JSON.stringify({text: "from another site", num_images: 1, width: 256, height: 256}),
    });
    return {status: response.status, body: await response.json()};
  } catch (error) {
    return {error: String(error)};
  }
}"""


def test_a_page_on_a_listed_origin_calls_the_api_and_an_unlisted_one_is_refused_by_the_browser(
    stack: SignedInStack, page: Page, other_sites: tuple[str, str]
) -> None:
    listed, unlisted = other_sites
    token = stack.sign_in(stack.username, stack.password)["AuthenticationResult"]["IdToken"]
    page.goto(listed + "/")
    answer = page.evaluate(FETCH_FROM_THIS_PAGE, [stack.url, token])
    assert answer["status"] == 200, answer
    assert len(json.loads(answer["body"]["body"])) == 1

    page.goto(unlisted + "/")
    before = stack.invocations()
    refused: list[str] = []
    page.on("console", lambda message: refused.append(message.text) if "CORS policy" in message.text else None)
    answer = page.evaluate(FETCH_FROM_THIS_PAGE, [stack.url, token])
    assert answer == {"error": "TypeError: Failed to fetch"}
    assert refused and unlisted in refused[0]  # the browser says why: no Access-Control-Allow-Origin for this origin
    assert stack.invocations() == before  # the preflight failed: the POST was never sent
