"""The discovery document ``GET /config.json``: what the page and the CLI need to know before
they call the API (whether to sign in, and against which user pool). Built here once, for the
deployed stack (infra/cdn.py writes it under site/ at deploy, with CloudFormation's values in
place) and for the local gateway (which serves it with moto's pool)."""

from __future__ import annotations

from typing import Any, TypedDict

# Its key under site/, and so its path on the distribution and the local gateway.
CONFIG_FILE = "config.json"


class CognitoAuth(TypedDict):
    region: str
    userPoolId: str
    clientId: str
    # Where InitiateAuth / RespondToAuthChallenge are POSTed (JSON 1.1, X-Amz-Target):
    # Cognito's own regional endpoint on AWS, moto's URL locally.
    endpoint: str


def cognito_endpoint(region: str, url_suffix: str = "amazonaws.com") -> str:
    """Cognito's user-pool API in ``region`` (``url_suffix``: ``amazonaws.com.cn`` in China)."""
    return f"https://cognito-idp.{region}.{url_suffix}/"


def config_document(auth: CognitoAuth | None, daily_images_per_user: int) -> dict[str, Any]:
    """``{"auth": null}`` for an open stack; otherwise the pool to sign in with and the daily
    quota each user has (the quota counts per signed-in user, so an open stack has none)."""
    if auth is None:
        return {"auth": None}
    return {"auth": dict(auth), "dailyImagesPerUser": daily_images_per_user}
