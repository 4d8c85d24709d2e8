"""The local Cognito authorizer (text2image/local/auth.py) on tokens made here: which it lets
through, as API Gateway's COGNITO_USER_POOLS authorizer without scopes does."""

from __future__ import annotations

from typing import Any

import pytest
from joserfc.jwk import RSAKey
from jwts import hmac_with_public_key, signed, unsigned

from text2image.local.auth import Caller, CognitoAuthorizer, Unauthorized

NOW = 1_800_000_000
ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_pool"
CLIENT = "theclient"
POOL_KEY = RSAKey.generate_key(2048, parameters={"kid": "pool"})
OTHER_KEY = RSAKey.generate_key(2048, parameters={"kid": "pool"})  # same kid, another key


def id_claims(**changes: Any) -> dict[str, Any]:
    claims = {
        "iss": ISSUER,
        "sub": "5b1c-sub",
        "aud": CLIENT,
        "token_use": "id",
        "iat": NOW - 60,
        "exp": NOW + 3540,
        "cognito:username": "demo",
    } | changes
    return {name: value for name, value in claims.items() if value is not None}


@pytest.fixture
def authorizer() -> CognitoAuthorizer:
    return CognitoAuthorizer({"keys": [POOL_KEY.as_dict(private=False)]}, ISSUER, CLIENT, now=lambda: NOW)


@pytest.mark.parametrize("header", [lambda token: token, lambda token: f"Bearer {token}"], ids=["raw", "bearer"])
def test_a_valid_id_token_names_the_caller(authorizer: CognitoAuthorizer, header: Any) -> None:
    assert authorizer.authorize(header(signed(id_claims(), POOL_KEY, "pool"))) == Caller(sub="5b1c-sub", username="demo")


def test_the_caller_is_what_the_execution_input_carries() -> None:
    assert Caller(sub="s", username="u").execution_input() == {"sub": "s", "username": "u"}


GOOD = signed(id_claims(), POOL_KEY, "pool")
REFUSED = {
    "no header": None,
    "empty header": "",
    "Bearer alone": "Bearer ",
    "not a JWT": "hello",
    "three segments of junk": "a.b.c",
    "bad base64 in the payload": GOOD.split(".")[0] + ".!!!." + GOOD.split(".")[2],
    "a payload that is not an object": GOOD.split(".")[0] + ".WzEsMl0." + GOOD.split(".")[2],  # [1,2]
    "a signature of other claims": GOOD.rsplit(".", 1)[0] + "." + signed(id_claims(sub="other"), POOL_KEY, "pool").rsplit(".", 1)[1],
    "signed by another key": signed(id_claims(), OTHER_KEY, "pool"),
    "a key id the pool lacks": signed(id_claims(), POOL_KEY, "nokey"),
    "alg none": unsigned(id_claims()),
    "HS256 keyed with the public key": hmac_with_public_key(id_claims(), POOL_KEY, "pool"),
    "expired": signed(id_claims(exp=NOW - 1), POOL_KEY, "pool"),
    "expiring this second": signed(id_claims(exp=NOW), POOL_KEY, "pool"),
    "no expiry": signed(id_claims(exp=None), POOL_KEY, "pool"),
    "an access token": signed(id_claims(token_use="access", aud=None, client_id=CLIENT), POOL_KEY, "pool"),
    "no token_use": signed(id_claims(token_use=None), POOL_KEY, "pool"),
    "another client": signed(id_claims(aud="otherclient"), POOL_KEY, "pool"),
    "no audience": signed(id_claims(aud=None), POOL_KEY, "pool"),
    "another pool": signed(id_claims(iss=ISSUER + "x"), POOL_KEY, "pool"),
    "no subject": signed(id_claims(sub=None), POOL_KEY, "pool"),
    "no username": signed(id_claims(**{"cognito:username": None}), POOL_KEY, "pool"),
    "the token twice": f"{GOOD} {GOOD}",
}


@pytest.mark.parametrize("header", list(REFUSED.values()), ids=list(REFUSED))
def test_anything_else_is_refused(authorizer: CognitoAuthorizer, header: str | None) -> None:
    with pytest.raises(Unauthorized):
        authorizer.authorize(header)
