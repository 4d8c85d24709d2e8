"""`text2image up --auth --cors-origin URL` as a user runs it: moto's user pool, the gateway's
token check as API Gateway's Cognito authorizer makes it, /config.json, CORS, the caller in the
run's input, and the quota's 429. Its own process: LocalAWS is one per process."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from jwts import claims_of, moto_pool_key, signed, unsigned
from signed_in import SignedInStack
from support import http, jpeg_dimensions

from text2image.routes import BATCH_MAX_BYTES, CORS_ALLOW_HEADERS, CORS_ALLOW_METHODS, UNAUTHORIZED_MESSAGE

LISTED = "https://pages.example.org"
UNLISTED = "https://elsewhere.example.org"
UNAUTHORIZED = {"error": "Unauthorized", "message": UNAUTHORIZED_MESSAGE}
OTHER_POOL = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_other"  # moto signs every pool's tokens with one key
SMALL = {"text": "a small red cube", "num_images": 2, "width": 256, "height": 256}


@pytest.fixture(scope="module")
def signed_in() -> Iterator[SignedInStack]:
    running = SignedInStack.start("--cors-origin", LISTED)
    with running.process:
        yield running


def call(url: str, route: str, token: str | None = None, origin: str | None = None, body: Any = SMALL, method: str = "POST") -> tuple[int, dict[str, str], Any]:
    headers = {"Content-Type": "application/json"} | ({"Authorization": token} if token is not None else {}) | ({"Origin": origin} if origin else {})
    data = json.dumps(body).encode() if method == "POST" else None
    request = urllib.request.Request(f"{url}{route}", data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            status, answer_headers, raw = response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        status, answer_headers, raw = exc.code, dict(exc.headers), exc.read()
    return status, answer_headers, json.loads(raw) if raw else None


# -- the banner and /config.json -------------------------------------------------------------


def test_the_banner_names_a_user_who_signs_in_with_the_printed_password(signed_in: SignedInStack) -> None:
    assert signed_in.username == "demo" and len(signed_in.password) >= 12
    tokens = signed_in.tokens()
    assert claims_of(tokens["IdToken"])["cognito:username"] == "demo"
    assert claims_of(tokens["IdToken"])["token_use"] == "id"


def test_the_pool_has_no_self_sign_up_and_the_client_no_secret(signed_in: SignedInStack) -> None:
    cognito = signed_in.client("cognito-idp")
    pool = cognito.describe_user_pool(UserPoolId=signed_in.pool_id)["UserPool"]
    client = cognito.describe_user_pool_client(UserPoolId=signed_in.pool_id, ClientId=signed_in.client_id)["UserPoolClient"]
    assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    assert "ClientSecret" not in client
    assert sorted(client["ExplicitAuthFlows"]) == ["ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_USER_PASSWORD_AUTH"]


def test_config_json_names_the_pool_the_client_and_where_to_sign_in(signed_in: SignedInStack) -> None:
    status, headers, body = http("GET", f"{signed_in.url}/config.json", content_type=None)
    assert status == 200 and headers["Content-Type"] == "application/json"
    assert json.loads(body) == {
        "auth": {"region": "us-east-1", "userPoolId": signed_in.pool_id, "clientId": signed_in.client_id, "endpoint": f"{signed_in.aws_url}/"},
        "dailyImagesPerUser": 200,
        "warm": None,  # the local endpoints of this stack do not scale to zero
        "batchMaxBytes": BATCH_MAX_BYTES,
    }


def test_a_page_of_the_gateways_origin_can_sign_in_at_the_endpoint(signed_in: SignedInStack) -> None:
    """What the page does: InitiateAuth (JSON 1.1) POSTed cross-origin to config.json's endpoint,
    which moto answers with CORS (its preflight too), so no gateway path is needed."""
    endpoint = json.loads(http("GET", f"{signed_in.url}/config.json", content_type=None)[2])["auth"]["endpoint"]
    target = "AWSCognitoIdentityProviderService.InitiateAuth"
    preflight = urllib.request.Request(
        endpoint,
        method="OPTIONS",
        headers={"Origin": signed_in.url, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type,x-amz-target"},
    )
    with urllib.request.urlopen(preflight, timeout=10) as response:
        assert response.headers["Access-Control-Allow-Origin"] == signed_in.url
        assert {"content-type", "x-amz-target"} <= {name.strip().lower() for name in response.headers["Access-Control-Allow-Headers"].split(",")}
    body = {"AuthFlow": "USER_PASSWORD_AUTH", "ClientId": signed_in.client_id, "AuthParameters": {"USERNAME": "demo", "PASSWORD": signed_in.password}}
    request = urllib.request.Request(
        endpoint,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Origin": signed_in.url, "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": target},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.headers["Access-Control-Allow-Origin"] == signed_in.url
        assert claims_of(json.loads(response.read())["AuthenticationResult"]["IdToken"])["aud"] == signed_in.client_id


# -- refused tokens ----------------------------------------------------------------------------


def other_client_token(stack: SignedInStack) -> str:
    other = stack.client("cognito-idp").create_user_pool_client(
        UserPoolId=stack.pool_id, ClientName="other", GenerateSecret=False, ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
    )
    return stack.tokens(client_id=other["UserPoolClient"]["ClientId"])["IdToken"]


def forged(claims_change: dict[str, Any], key: Any = None) -> Any:
    def make(stack: SignedInStack) -> str:
        from joserfc.jwk import RSAKey

        claims = claims_of(stack.tokens()["IdToken"]) | claims_change
        return signed(claims, key or RSAKey.generate_key(2048))

    return make


BAD_TOKENS = {
    "none": lambda stack: None,
    "malformed": lambda stack: "not.a-jwt",
    "another key": forged({}),
    "alg none": lambda stack: unsigned(claims_of(stack.tokens()["IdToken"])),
    "expired": lambda stack: signed(claims_of(stack.tokens()["IdToken"]) | {"exp": int(time.time()) - 5}, moto_pool_key()),
    "another pool": lambda stack: signed(claims_of(stack.tokens()["IdToken"]) | {"iss": OTHER_POOL}, moto_pool_key()),
    "an access token": lambda stack: stack.tokens()["AccessToken"],
    "another client": other_client_token,
    "Bearer and another key": lambda stack: "Bearer " + forged({})(stack),
}


def test_the_pool_key_makes_tokens_the_gateway_accepts(signed_in: SignedInStack) -> None:
    """The forged tokens below fail for what they change, not for the key they are signed with."""
    token = signed(claims_of(signed_in.tokens()["IdToken"]), moto_pool_key())
    assert call(signed_in.url, "/text2image", token)[0] == 200


@pytest.mark.parametrize("route", ["/text2image", "/text2image/jobs"])
@pytest.mark.parametrize("make_token", list(BAD_TOKENS.values()), ids=list(BAD_TOKENS))
def test_a_bad_token_is_refused_with_401_and_nothing_runs(signed_in: SignedInStack, route: str, make_token: Any) -> None:
    token = make_token(signed_in)
    before = (signed_in.invocations(), signed_in.executions())
    status, _, answer = call(signed_in.url, route, token)
    assert (status, answer) == (401, UNAUTHORIZED)
    assert (signed_in.invocations(), signed_in.executions()) == before


def test_the_token_is_checked_before_the_body(signed_in: SignedInStack) -> None:
    """As API Gateway runs its authorizer before the request validator: no token, no 400."""
    status, _, answer = call(signed_in.url, "/text2image", None, body={"text": "a", "width": 7})
    assert (status, answer) == (401, UNAUTHORIZED)


# -- signed in -----------------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["", "Bearer "], ids=["raw", "bearer"])
def test_a_signed_in_caller_gets_images_and_the_run_names_them(signed_in: SignedInStack, scheme: str) -> None:
    token = signed_in.tokens()["IdToken"]
    status, _, answer = call(signed_in.url, "/text2image", scheme + token)
    assert status == 200, answer
    urls = json.loads(answer["body"])
    assert len(urls) == 2 and all(jpeg_dimensions(http("GET", url, content_type=None)[2]) == (256, 256) for url in urls)
    caller = {"sub": claims_of(token)["sub"], "username": "demo"}
    assert signed_in.execution_input(answer["request_id"]) == {"request": SMALL, "caller": caller, "route": "sync"}


def test_a_signed_in_job_starts_with_the_caller(signed_in: SignedInStack) -> None:
    token = signed_in.tokens()["IdToken"]
    status, _, job = call(signed_in.url, "/text2image/jobs", token)
    assert status == 202, job
    assert signed_in.execution_input(job["request_id"]) == {"request": SMALL, "caller": {"sub": claims_of(token)["sub"], "username": "demo"}}


def test_over_the_daily_quota_the_sync_route_answers_429_with_retry_after(signed_in: SignedInStack) -> None:
    """A user of their own (the quota counts per user): 12 runs of 16 images pass the 200 a day,
    the 13th would not."""
    cognito = signed_in.client("cognito-idp")
    cognito.admin_create_user(UserPoolId=signed_in.pool_id, Username="quota-user", MessageAction="SUPPRESS")
    cognito.admin_set_user_password(UserPoolId=signed_in.pool_id, Username="quota-user", Password="Quota-user-1234", Permanent=True)
    token = signed_in.tokens("quota-user", "Quota-user-1234")["IdToken"]
    request = SMALL | {"num_images": 16}
    for _ in range(12):
        assert call(signed_in.url, "/text2image", token, body=request)[0] == 200
    before = signed_in.invocations()
    status, headers, answer = call(signed_in.url, "/text2image", token, body=request)
    assert status == 429 and answer["error"] == "QuotaExceeded", answer
    assert headers["Retry-After"] == str(answer["retry_after"]) and answer["retry_after"] > 0
    assert signed_in.invocations() == before


def post_batch(url: str, token: str, body: bytes) -> tuple[int, dict[str, str], Any]:
    request = urllib.request.Request(
        f"{url}/text2image/batches", data=body, method="POST", headers={"Content-Type": "application/x-ndjson", "Authorization": token}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), json.loads(exc.read())


def test_a_signed_in_batch_past_what_is_left_of_the_day_is_refused_whole_before_it_starts(signed_in: SignedInStack) -> None:
    """Refused up front rather than line by line: 429 with Retry-After, no batch stored or
    started; a batch that fits what is left starts; one larger than a whole day is a 400."""
    username, password = signed_in.add_user()
    token = signed_in.tokens(username, password)["IdToken"]
    signed_in.use_up_quota(username, 195)
    s3 = signed_in.client("s3")
    (bucket,) = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    stored_before = s3.list_objects_v2(Bucket=bucket, Prefix="batches/").get("KeyCount", 0)
    status, headers, answer = post_batch(signed_in.url, token, b'{"text": "a fox", "num_images": 4}\n{"text": "a hen", "num_images": 2}\n')
    assert (status, answer["error"]) == (429, "QuotaExceeded"), answer
    assert answer["message"].startswith("daily quota of 200 images: 195 used, 6 asked; resets at ")
    assert headers["Retry-After"] == str(answer["retry_after"])
    assert s3.list_objects_v2(Bucket=bucket, Prefix="batches/").get("KeyCount", 0) == stored_before
    status, _, answer = post_batch(signed_in.url, token, b'{"text": "a fox", "num_images": 3}\n{"text": "a hen", "num_images": 2}\n')
    assert status == 202 and answer["lines"] == 2, answer
    status, _, answer = post_batch(signed_in.url, token, b'{"text": "a fox", "num_images": 16}\n' * 13)
    assert (status, answer["message"]) == (400, "body: asks for 208 images in all; a user's daily quota is 200: send files of at most 200 images"), answer


def test_signing_out_revokes_the_refresh_token(signed_in: SignedInStack) -> None:
    """What the page's and the CLI's sign-out call: afterwards the refresh token gets no new tokens."""
    cognito, refresh = signed_in.client("cognito-idp"), signed_in.tokens()["RefreshToken"]
    renew = {"AuthFlow": "REFRESH_TOKEN_AUTH", "ClientId": signed_in.client_id, "AuthParameters": {"REFRESH_TOKEN": refresh}}
    assert "IdToken" in cognito.initiate_auth(**renew)["AuthenticationResult"]
    cognito.revoke_token(Token=refresh, ClientId=signed_in.client_id)
    with pytest.raises(cognito.exceptions.NotAuthorizedException):
        cognito.initiate_auth(**renew)


# -- my runs -------------------------------------------------------------------------------------


def test_my_runs_lists_a_signed_in_callers_runs_newest_first(signed_in: SignedInStack) -> None:
    cognito = signed_in.client("cognito-idp")
    cognito.admin_create_user(UserPoolId=signed_in.pool_id, Username="history-user", MessageAction="SUPPRESS")
    cognito.admin_set_user_password(UserPoolId=signed_in.pool_id, Username="history-user", Password="History-user-1234", Permanent=True)
    token = signed_in.tokens("history-user", "History-user-1234")["IdToken"]
    firsts = [call(signed_in.url, "/text2image", token, body=SMALL | {"text": f"run {n}", "seed": n})[2] for n in (1, 2)]
    status, _, page = call(signed_in.url, "/text2image/history?limit=1", token, method="GET")
    assert status == 200 and [run["request_id"] for run in page["runs"]] == [firsts[1]["request_id"]]
    run = page["runs"][0]
    assert run["request"]["text"] == "run 2" and run["request"]["seed"] == 2 and run["status"] == "succeeded"
    assert run["images"] == json.loads(firsts[1]["body"]) and run["manifest"].endswith(f"/requests/{firsts[1]['request_id']}.json")
    status, _, rest = call(signed_in.url, f"/text2image/history?limit=1&cursor={page['next']}", token, method="GET")
    assert status == 200 and [r["request_id"] for r in rest["runs"]] == [firsts[0]["request_id"]]
    assert call(signed_in.url, "/text2image/history", signed_in.tokens()["IdToken"], method="GET")[2]["runs"] != page["runs"]  # demo's own


def test_my_runs_needs_a_token_and_a_good_query(signed_in: SignedInStack) -> None:
    assert call(signed_in.url, "/text2image/history", None, method="GET")[:3:2] == (401, UNAUTHORIZED)
    status, _, answer = call(signed_in.url, "/text2image/history?limit=0", signed_in.tokens()["IdToken"], method="GET")
    assert status == 400 and answer["field"] == "limit"


# -- CORS ----------------------------------------------------------------------------------------

CORS = {
    "Access-Control-Allow-Origin": LISTED,
    "Vary": "Origin",
    "Access-Control-Allow-Methods": CORS_ALLOW_METHODS,
    "Access-Control-Allow-Headers": CORS_ALLOW_HEADERS,
    "Access-Control-Max-Age": "600",
    "Access-Control-Expose-Headers": "Retry-After",
}


def cors_of(headers: dict[str, str]) -> dict[str, str]:
    return {name: value for name, value in headers.items() if name.startswith("Access-Control-") or name == "Vary"}


def preflight(url: str, route: str, origin: str) -> tuple[int, dict[str, str]]:
    request = urllib.request.Request(
        f"{url}{route}",
        method="OPTIONS",
        headers={"Origin": origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization,content-type"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, dict(response.headers)


@pytest.mark.parametrize("route", ["/text2image", "/text2image/jobs"])
def test_a_preflight_from_a_listed_origin_is_allowed_without_a_token(signed_in: SignedInStack, route: str) -> None:
    status, headers = preflight(signed_in.url, route, LISTED)
    assert status == 204 and cors_of(headers) == CORS


@pytest.mark.parametrize("route", ["/text2image", "/text2image/jobs"])
def test_a_preflight_from_an_unlisted_origin_gets_no_cors_header(signed_in: SignedInStack, route: str) -> None:
    status, headers = preflight(signed_in.url, route, UNLISTED)
    assert status == 204 and cors_of(headers) == {}


@pytest.mark.parametrize(("origin", "expected"), [(LISTED, CORS), (UNLISTED, {}), (None, {})], ids=["listed", "unlisted", "no origin"])
def test_a_401_carries_the_cors_headers_for_a_listed_origin_only(signed_in: SignedInStack, origin: str | None, expected: dict[str, str]) -> None:
    status, headers, answer = call(signed_in.url, "/text2image", None, origin)
    assert (status, answer) == (401, UNAUTHORIZED)
    assert cors_of(headers) == expected


def test_a_400_and_a_200_carry_them_too(signed_in: SignedInStack) -> None:
    token = signed_in.tokens()["IdToken"]
    bad = call(signed_in.url, "/text2image", token, LISTED, body={"text": "a", "width": 7})
    good = call(signed_in.url, "/text2image/jobs", token, LISTED)
    assert (bad[0], good[0]) == (400, 202)
    assert cors_of(bad[1]) == cors_of(good[1]) == CORS


def test_config_json_tells_a_listed_origin_where_to_sign_in_and_the_page_files_get_no_cors(signed_in: SignedInStack) -> None:
    status, headers, config = call(signed_in.url, "/config.json", origin=LISTED, method="GET")
    assert status == 200 and cors_of(headers) == CORS and config["auth"]["clientId"] == signed_in.client_id
    assert cors_of(call(signed_in.url, "/config.json", origin=UNLISTED, method="GET")[1]) == {}
    request = urllib.request.Request(f"{signed_in.url}/text2image.js", headers={"Origin": LISTED})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200 and cors_of(dict(response.headers)) == {}
