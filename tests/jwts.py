"""JWTs for the sign-in tests: the good ones come from a user pool, the bad ones are made here."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from joserfc import jwt
from joserfc.jwk import RSAKey


def _segment(data: Any) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def claims_of(token: str) -> dict[str, Any]:
    """A token's claims, read without checking anything."""
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return claims


def signed(claims: dict[str, Any], key: RSAKey, kid: str = "dummy") -> str:
    """RS256, as Cognito signs (moto's pool key has the kid "dummy")."""
    return jwt.encode({"alg": "RS256", "kid": kid, "typ": "JWT"}, claims, key)


def unsigned(claims: dict[str, Any]) -> str:
    """``alg: none``: the claims with no signature at all."""
    return f"{_segment({'alg': 'none', 'typ': 'JWT'})}.{_segment(claims)}."


def hmac_with_public_key(claims: dict[str, Any], public_key: RSAKey, kid: str = "dummy") -> str:
    """The algorithm confusion attack: HS256 keyed with the pool's public key (which anyone has)."""
    signing_input = f"{_segment({'alg': 'HS256', 'kid': kid, 'typ': 'JWT'})}.{_segment(claims)}"
    secret = json.dumps(public_key.as_dict(private=False), sort_keys=True).encode()
    return f"{signing_input}.{_segment(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())}"


def moto_pool_key() -> RSAKey:
    """The private key moto signs every pool's tokens with: for tokens the local pool would issue
    but does not on demand (an expired one, one of another pool)."""
    from moto.utilities.utils import load_resource

    return RSAKey.import_key(load_resource("cognitoidp/resources/jwks-private.json"))
