"""The discovery document ``GET /config.json``: what the page and the CLI need to know before
they call the API (whether to sign in, and against which user pool; whether the endpoints can be
warmed, and how long that takes; how large a batch file may be). Built here once, for the deployed stack (infra/cdn.py writes it
under site/ at deploy, with CloudFormation's values in place) and for the local gateway (which
serves it with moto's pool)."""

from __future__ import annotations

from typing import Any, TypedDict

from text2image.routes import BATCH_MAX_BYTES

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


class Warm(TypedDict):
    # About how long cold endpoints take to serve once asked (text2image:endpointColdStartSeconds).
    coldStartSeconds: int


def config_document(auth: CognitoAuth | None, daily_images_per_user: int, *, warm_cold_start_seconds: int | None = None) -> dict[str, Any]:
    """``{"auth": null, "warm": null, "batchMaxBytes"}`` for an open stack whose endpoints do not
    scale to zero (``batchMaxBytes``: the largest file POST /text2image/batches takes).
    ``auth``: the pool to sign in with, and the daily quota each user has (the quota counts per
    signed-in user, so an open stack has none). ``warm``: where the endpoints scale to zero
    (``warm_cold_start_seconds`` given), POST /text2image/warm exists and a cold start takes about
    that long; elsewhere there is nothing to warm."""
    warm = Warm(coldStartSeconds=warm_cold_start_seconds) if warm_cold_start_seconds is not None else None
    if auth is None:
        return {"auth": None, "warm": warm, "batchMaxBytes": BATCH_MAX_BYTES}
    return {"auth": dict(auth), "dailyImagesPerUser": daily_images_per_user, "warm": warm, "batchMaxBytes": BATCH_MAX_BYTES}
