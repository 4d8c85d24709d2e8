"""The local user pool (``text2image up --auth``): moto's Cognito, set up as the deployed stack's
pool is: no self sign-up (users are created by an administrator), one app client without a
secret for the page and the CLI (``USER_PASSWORD_AUTH``, ``REFRESH_TOKEN_AUTH``), and one user
whose random password is permanent, so it signs in at once."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from text2image.discovery import CognitoAuth, cognito_endpoint

POOL_NAME = "text2image-local"
CLIENT_NAME = "text2image-web"
USERNAME = "demo"


@dataclass(frozen=True)
class LocalUserPool:
    region: str
    pool_id: str
    client_id: str
    username: str
    password: str

    @property
    def issuer(self) -> str:
        """The ``iss`` of the pool's tokens: Cognito's URL for the pool, which moto's tokens carry too."""
        return f"{cognito_endpoint(self.region)}{self.pool_id}"

    def jwks_url(self, cognito_url: str) -> str:
        """Where the pool's public keys are served (``cognito_url``: moto's, Cognito's on AWS)."""
        return f"{cognito_url.rstrip('/')}/{self.pool_id}/.well-known/jwks.json"

    def discovery(self, cognito_url: str) -> CognitoAuth:
        """The pool as /config.json names it, with ``cognito_url`` where the page signs in."""
        return CognitoAuth(region=self.region, userPoolId=self.pool_id, clientId=self.client_id, endpoint=f"{cognito_url.rstrip('/')}/")


def new_password() -> str:
    """Random, and of every class Cognito's default password policy asks for."""
    return f"{secrets.token_urlsafe(15)}-Aa1"


def bind_revoke_token() -> None:
    """moto 5.2 has no RevokeToken (the page's and the CLI's sign-out call it; moto answered 500):
    revoke a refresh token of the client as Cognito does, so that refreshing with it then fails
    (``NotAuthorizedException``); a token Cognito does not know is answered 200, as RFC 7009 asks.
    Bound only where moto lacks it (tests/e2e/test_auth_api.py checks the revocation)."""
    from moto.cognitoidp.responses import CognitoIdpResponse
    from moto.core.responses import EmptyResult

    if hasattr(CognitoIdpResponse, "revoke_token"):
        return

    def revoke_token(self: CognitoIdpResponse) -> EmptyResult:
        token, client_id = self._get_param("Token"), self._get_param("ClientId")
        for pool in self.backend.user_pools.values():
            issued = pool.refresh_tokens.get(token)
            if issued is not None and issued[0] == client_id:
                pool.refresh_tokens[token] = None  # what moto's own sign-out does to a refresh token
        return EmptyResult()

    CognitoIdpResponse.revoke_token = revoke_token  # type: ignore[attr-defined]


def create_user_pool(cognito: Any, region: str) -> LocalUserPool:
    bind_revoke_token()
    pool_id = cognito.create_user_pool(PoolName=POOL_NAME, AdminCreateUserConfig={"AllowAdminCreateUserOnly": True})["UserPool"]["Id"]
    client = cognito.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName=CLIENT_NAME,
        GenerateSecret=False,
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]
    password = new_password()
    cognito.admin_create_user(UserPoolId=pool_id, Username=USERNAME, MessageAction="SUPPRESS")
    cognito.admin_set_user_password(UserPoolId=pool_id, Username=USERNAME, Password=password, Permanent=True)
    return LocalUserPool(region=region, pool_id=pool_id, client_id=client["ClientId"], username=USERNAME, password=password)
