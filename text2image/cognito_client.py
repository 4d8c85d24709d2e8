"""Sign-in against a Cognito user pool, as the page does it: the user pools API's JSON 1.1
operations (``X-Amz-Target``) POSTed to the endpoint /config.json names (Cognito's own regional
endpoint on AWS, moto's locally), for an app client without a secret. These operations take no
AWS credentials (Cognito authorizes them by the client id and the user's password or tokens), so
urllib is all the CLI needs: no boto3 in the client.
"""

from __future__ import annotations

import base64
import json
import urllib.request
from dataclasses import dataclass
from typing import Any

from text2image.client import fetch

TARGET_PREFIX = "AWSCognitoIdentityProviderService."
CONTENT_TYPE = "application/x-amz-json-1.1"
NEW_PASSWORD_REQUIRED = "NEW_PASSWORD_REQUIRED"


class SignInFailed(Exception):
    """Cognito refused (``kind``: its exception name, such as NotAuthorizedException)."""

    def __init__(self, kind: str, message: str) -> None:
        self.kind = kind
        super().__init__(f"{kind}: {message}" if message else kind)


@dataclass(frozen=True)
class Tokens:
    id_token: str
    refresh_token: str

    @property
    def claims(self) -> dict[str, Any]:
        return token_claims(self.id_token)

    @property
    def expires(self) -> int:
        """When the ID token stops being accepted (its ``exp``, seconds since the epoch)."""
        return int(self.claims["exp"])

    @property
    def username(self) -> str:
        return str(self.claims["cognito:username"])


@dataclass(frozen=True)
class Challenge:
    """A further step Cognito asks for before it issues tokens (``name``, such as NEW_PASSWORD_REQUIRED)."""

    name: str
    session: str
    username: str


def token_claims(token: str) -> dict[str, Any]:
    """A JWT's claims, read without checking the signature: only to know when it expires and whose
    it is; the API checks the token itself."""
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return claims


class UserPoolClient:
    """One app client of one user pool, at ``endpoint``."""

    def __init__(self, endpoint: str, client_id: str) -> None:
        self.endpoint, self.client_id = endpoint, client_id

    def call(self, operation: str, body: dict[str, Any]) -> dict[str, Any]:
        request = urllib.request.Request(
            self.endpoint,
            data=json.dumps(body).encode(),
            method="POST",
            headers={"Content-Type": CONTENT_TYPE, "X-Amz-Target": TARGET_PREFIX + operation},
        )
        status, _, raw = fetch(request)
        try:
            answer = json.loads(raw) if raw else {}
        except json.JSONDecodeError:
            answer = {}
        if status != 200:
            # JSON 1.1 errors: "__type" is the exception's name, sometimes namespaced ("ns#Name").
            kind = str(answer.get("__type", f"HTTP {status}")).rsplit("#", 1)[-1]
            raise SignInFailed(kind, str(answer.get("message") or answer.get("Message") or ""))
        return dict(answer)

    def sign_in(self, username: str, password: str) -> Tokens | Challenge:
        answer = self.call(
            "InitiateAuth", {"AuthFlow": "USER_PASSWORD_AUTH", "ClientId": self.client_id, "AuthParameters": {"USERNAME": username, "PASSWORD": password}}
        )
        return self._outcome(answer, username)

    def set_new_password(self, challenge: Challenge, new_password: str) -> Tokens | Challenge:
        """NEW_PASSWORD_REQUIRED: a user an administrator created signs in first with a temporary password."""
        answer = self.call(
            "RespondToAuthChallenge",
            {
                "ChallengeName": NEW_PASSWORD_REQUIRED,
                "ClientId": self.client_id,
                "Session": challenge.session,
                "ChallengeResponses": {"USERNAME": challenge.username, "NEW_PASSWORD": new_password},
            },
        )
        return self._outcome(answer, challenge.username)

    def refresh(self, refresh_token: str) -> Tokens:
        """New tokens from the refresh token (which Cognito hands back only where it rotates them)."""
        answer = self.call("InitiateAuth", {"AuthFlow": "REFRESH_TOKEN_AUTH", "ClientId": self.client_id, "AuthParameters": {"REFRESH_TOKEN": refresh_token}})
        result = answer["AuthenticationResult"]
        return Tokens(id_token=result["IdToken"], refresh_token=result.get("RefreshToken") or refresh_token)

    def revoke(self, refresh_token: str) -> None:
        """RevokeToken: the refresh token, and the tokens made from it, stop working at Cognito."""
        self.call("RevokeToken", {"ClientId": self.client_id, "Token": refresh_token})

    @staticmethod
    def _outcome(answer: dict[str, Any], username: str) -> Tokens | Challenge:
        if "AuthenticationResult" in answer:
            result = answer["AuthenticationResult"]
            return Tokens(id_token=result["IdToken"], refresh_token=result["RefreshToken"])
        parameters = answer.get("ChallengeParameters") or {}
        return Challenge(name=answer["ChallengeName"], session=answer.get("Session", ""), username=parameters.get("USERNAME", username))
