"""`text2image login / generate / history / logout` as a user runs them against `text2image up
--auth`: the password from the environment, the tokens in the user's config folder (0600),
refreshed before they expire, and a 401 that says how to sign in."""

from __future__ import annotations

import json
import re
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from jwts import claims_of
from signed_in import SignedInStack
from support import jpeg_dimensions, run_cli


@pytest.fixture(scope="module")
def stack() -> Iterator[SignedInStack]:
    running = SignedInStack.start()
    with running.process:
        yield running


def cli(stack: SignedInStack, config: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return run_cli(stack.url, config, *args, timeout=60, **env)


def login(stack: SignedInStack, config: Path, username: str | None = None, password: str | None = None) -> subprocess.CompletedProcess[str]:
    return cli(stack, config, "login", "--user", username or stack.username, TEXT2IMAGE_PASSWORD=password or stack.password)


def tokens_file(config: Path) -> Path:
    return config / "text2image" / "tokens.json"


def stored(config: Path, stack: SignedInStack) -> dict[str, str | int]:
    entry: dict[str, str | int] = json.loads(tokens_file(config).read_text())[stack.url]
    return entry


def generate(stack: SignedInStack, config: Path, out: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return cli(stack, config, "generate", "a small red cube", "-n", "2", "--width", "256", "--height", "256", "--seed", "77", "--out", str(out), *args)


def test_login_keeps_the_tokens_for_the_user_only_and_never_the_password(stack: SignedInStack, tmp_path: Path) -> None:
    out = login(stack, tmp_path)
    assert out.returncode == 0, out.stderr
    assert f"signed in to {stack.url} as demo" in out.stdout
    path = tokens_file(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stack.password not in path.read_text()
    entry = stored(tmp_path, stack)
    claims = claims_of(str(entry["id_token"]))
    assert (claims["cognito:username"], claims["token_use"], claims["aud"]) == ("demo", "id", stack.client_id)
    assert entry["expires"] == claims["exp"] and entry["username"] == "demo" and entry["client_id"] == stack.client_id


def test_a_tokens_file_readable_by_others_is_made_the_users_own_again(stack: SignedInStack, tmp_path: Path) -> None:
    path = tokens_file(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text("{}")
    path.chmod(0o644)
    assert login(stack, tmp_path).returncode == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize("route", [[], ["--sync"]], ids=["jobs", "sync"])
def test_generate_sends_the_token_and_saves_the_images(stack: SignedInStack, tmp_path: Path, route: list[str]) -> None:
    assert login(stack, tmp_path).returncode == 0
    out = generate(stack, tmp_path, tmp_path / "out", *route)
    assert out.returncode == 0, out.stderr
    saved = re.findall(r"^(\S+\.jpeg)  \(sd-local-\d, seed 7[78], ", out.stdout, re.MULTILINE)
    assert len(saved) == 2 and all(jpeg_dimensions(Path(path).read_bytes()) == (256, 256) for path in saved)


def test_without_login_generate_says_to_log_in(stack: SignedInStack, tmp_path: Path) -> None:
    out = generate(stack, tmp_path, tmp_path / "out")
    assert out.returncode == 1
    assert "401 Unauthorized: sign in first" in out.stderr
    assert f"sign in first: text2image login --api {stack.url}" in out.stderr


def test_logout_forgets_the_tokens_and_the_next_generate_says_to_log_in(stack: SignedInStack, tmp_path: Path) -> None:
    assert login(stack, tmp_path).returncode == 0
    out = cli(stack, tmp_path, "logout")
    assert out.returncode == 0, out.stderr
    assert f"signed out of {stack.url} (demo)" in out.stdout
    assert json.loads(tokens_file(tmp_path).read_text()) == {}
    out = generate(stack, tmp_path, tmp_path / "out")
    assert out.returncode == 1 and f"text2image login --api {stack.url}" in out.stderr


def test_without_a_terminal_login_says_what_to_give_instead(stack: SignedInStack, tmp_path: Path) -> None:
    username, temporary = stack.add_user(temporary=True)
    for out in (cli(stack, tmp_path, "login"), cli(stack, tmp_path, "login", "--user", username, TEXT2IMAGE_PASSWORD=temporary)):
        assert out.returncode == 2
        assert "give --user NAME and TEXT2IMAGE_PASSWORD (TEXT2IMAGE_NEW_PASSWORD)" in out.stderr
    assert not tokens_file(tmp_path).exists()


def test_a_wrong_password_is_refused_and_nothing_is_kept(stack: SignedInStack, tmp_path: Path) -> None:
    out = login(stack, tmp_path, password="not-the-password")
    assert out.returncode == 1
    assert "sign-in refused: NotAuthorizedException: Incorrect username or password." in out.stderr
    assert not tokens_file(tmp_path).exists()


def test_a_new_user_chooses_a_password_at_the_first_login(stack: SignedInStack, tmp_path: Path) -> None:
    username, temporary = stack.add_user(temporary=True)
    out = cli(stack, tmp_path, "login", "--user", username, TEXT2IMAGE_PASSWORD=temporary, TEXT2IMAGE_NEW_PASSWORD="Chosen-by-me-42")
    assert out.returncode == 0, out.stderr
    assert claims_of(str(stored(tmp_path, stack)["id_token"]))["cognito:username"] == username
    assert "AuthenticationResult" in stack.sign_in(username, "Chosen-by-me-42")


def test_a_token_about_to_expire_is_refreshed_before_the_call(stack: SignedInStack, tmp_path: Path) -> None:
    """A stored ID token with a minute left (and one the API would refuse: were it sent, the run
    would fail with 401) is replaced through the refresh token first."""
    assert login(stack, tmp_path).returncode == 0
    data = json.loads(tokens_file(tmp_path).read_text())
    data[stack.url] |= {"id_token": "expiring", "expires": int(time.time()) + 60}
    tokens_file(tmp_path).write_text(json.dumps(data))
    out = generate(stack, tmp_path, tmp_path / "out")
    assert out.returncode == 0, out.stderr
    entry = stored(tmp_path, stack)
    assert claims_of(str(entry["id_token"]))["cognito:username"] == "demo" and int(entry["expires"]) > time.time() + 3000


def test_a_refresh_token_that_no_longer_works_says_to_log_in_again(stack: SignedInStack, tmp_path: Path) -> None:
    assert login(stack, tmp_path).returncode == 0
    data = json.loads(tokens_file(tmp_path).read_text())
    data[stack.url] |= {"refresh_token": "revoked", "expires": int(time.time()) - 1}
    tokens_file(tmp_path).write_text(json.dumps(data))
    out = generate(stack, tmp_path, tmp_path / "out")
    assert out.returncode == 1
    assert f"your sign-in at {stack.url} has ended" in out.stderr and f"text2image login --api {stack.url}" in out.stderr
    assert json.loads(tokens_file(tmp_path).read_text()) == {}


def test_over_the_quota_generate_says_when_it_resets(stack: SignedInStack, tmp_path: Path) -> None:
    username, password = stack.add_user()
    stack.use_up_quota(username)
    assert login(stack, tmp_path, username, password).returncode == 0
    for route in ([], ["--sync"]):
        out = generate(stack, tmp_path, tmp_path / "out", *route)
        assert out.returncode == 1
        assert re.search(r"429 QuotaExceeded: daily quota of 200 images: 200 used, 2 asked; resets at \d{4}-\d\d-\d\dT00:00:00Z", out.stderr), out.stderr


def test_history_lists_the_runs_newest_first_a_page_at_a_time(stack: SignedInStack, tmp_path: Path) -> None:
    username, password = stack.add_user()
    assert login(stack, tmp_path, username, password).returncode == 0
    request_ids = []
    for prompt in ("first run", "second run", "third run"):
        out = cli(stack, tmp_path, "generate", prompt, "-n", "1", "--width", "256", "--height", "256", "--seed", "5", "--out", str(tmp_path / "out"))
        assert out.returncode == 0, out.stderr
        request_ids.append(Path(out.stdout.split()[0]).parent.name)
    out = cli(stack, tmp_path, "history", "--limit", "2")
    assert out.returncode == 0, out.stderr
    heads = re.findall(r"^\S+  succeeded  1 image\(s\) in [\d.]+ s  (\S+)$", out.stdout, re.MULTILINE)
    assert heads == [request_ids[2], request_ids[1]]
    assert '"third run"  256x256, seed 5' in out.stdout
    assert re.search(rf"^  {re.escape(stack.url)}/images/{request_ids[2]}/0\.jpeg$", out.stdout, re.MULTILINE)
    more = re.search(r"^more: text2image history --api \S+ --limit 2 --cursor (\S+)$", out.stderr, re.MULTILINE)
    assert more, out.stderr
    out = cli(stack, tmp_path, "history", "--limit", "2", "--cursor", more.group(1))
    assert re.findall(r"^\S+  succeeded  1 image\(s\) in [\d.]+ s  (\S+)$", out.stdout, re.MULTILINE) == [request_ids[0]]
    assert "more:" not in out.stderr


def test_history_without_login_says_to_log_in(stack: SignedInStack, tmp_path: Path) -> None:
    out = cli(stack, tmp_path, "history")
    assert out.returncode == 1 and f"sign in first: text2image login --api {stack.url}" in out.stderr
