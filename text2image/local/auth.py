"""The local stand-in of API Gateway's Cognito user pool authorizer (COGNITO_USER_POOLS, no
OAuth scopes): who may call a signed-in route, and who they are.

As on AWS, the token is the ``Authorization`` header: the raw JWT, or ``Bearer <JWT>`` (AWS's
Amplify docs send the ID token that way to a REST API with a user pool authorizer, and API
Gateway's authorizer test takes it). It passes only as an ID token (``token_use`` ``id``; an
access token is for methods with scopes) signed with RS256 by a key of the pool's JWKS,
unexpired, issued by the pool (``iss``) to the stack's app client (``aud``). Anything else is
refused without saying which check failed, as API Gateway's 401 does.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

BEARER = "Bearer "


class Unauthorized(Exception):
    """The request has no token the authorizer accepts (the reason is for logs, not the caller)."""


@dataclass(frozen=True)
class Caller:
    """The signed-in user, from the ID token's claims."""

    sub: str
    username: str

    def execution_input(self) -> dict[str, str]:
        """The ``caller`` of the execution input (docs: the request template's ``$context.authorizer.claims``)."""
        return {"sub": self.sub, "username": self.username}


class CognitoAuthorizer:
    def __init__(self, jwks: dict[str, Any], issuer: str, client_id: str, now: Callable[[], float] = time.time) -> None:
        self.keys = KeySet.import_key_set(jwks)  # type: ignore[arg-type]
        self.claims = jwt.JWTClaimsRegistry(
            now=lambda: int(now()),
            iss={"essential": True, "value": issuer},
            aud={"essential": True, "value": client_id},
            token_use={"essential": True, "value": "id"},
            exp={"essential": True},
            sub={"essential": True},
        )

    @classmethod
    def fetch(cls, jwks_url: str, issuer: str, client_id: str) -> CognitoAuthorizer:
        """With the pool's public keys read once from its JWKS URL, as API Gateway reads Cognito's."""
        with urllib.request.urlopen(jwks_url, timeout=10) as response:
            return cls(json.loads(response.read()), issuer, client_id)

    def authorize(self, authorization: str | None) -> Caller:
        """The caller named by a valid ID token in the ``Authorization`` header; ``Unauthorized`` otherwise."""
        token = (authorization or "").removeprefix(BEARER)
        if not token:
            raise Unauthorized("no token")
        try:
            claims = jwt.decode(token, self.keys, algorithms=["RS256"]).claims
            self.claims.validate(claims)
        except (JoseError, ValueError, TypeError) as exc:  # malformed base64/JSON surfaces as ValueError
            raise Unauthorized(f"{type(exc).__name__}: {exc}") from None
        username = claims.get("cognito:username")
        if not isinstance(username, str) or not username:  # every ID token of a user pool names its user
            raise Unauthorized("no cognito:username claim")
        return Caller(sub=str(claims["sub"]), username=username)
