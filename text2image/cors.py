"""CORS for pages on other origins (``text2image:corsOrigins``, ``text2image up --cors-origin``):
which origins may be listed, and the headers an answer to a listed one carries
(text2image/routes.py declares their values for infra and the local gateway)."""

from __future__ import annotations

import re
from collections.abc import Iterable

from text2image.routes import CORS_ALLOW_HEADERS, CORS_ALLOW_METHODS, CORS_EXPOSE_HEADERS, CORS_MAX_AGE_SECONDS

# An origin as a browser sends it: scheme, host and optional port, lower case, nothing after.
# Anything else ("https://example.org/", a path, "*") would never equal an Origin header, or would
# open the API to every page: refused by name instead of silently matching nothing (or all).
_ORIGIN = re.compile(r"https?://([a-z0-9-]+(\.[a-z0-9-]+)*|\[[0-9a-f:.]+\])(:[0-9]{1,5})?")


def checked_origins(origins: Iterable[str]) -> tuple[str, ...]:
    """The origins as given, each checked to be one a browser could send."""
    checked = tuple(origins)
    for origin in checked:
        if not _ORIGIN.fullmatch(origin):
            raise ValueError(f"CORS origin {origin!r}: must be scheme://host[:port] in lower case, as a browser sends it (such as https://example.org)")
    return checked


def cors_headers(origin: str | None, allowed: Iterable[str]) -> dict[str, str]:
    """The CORS headers of an answer to a request from ``origin``: none unless it is listed."""
    if origin is None or origin not in allowed:
        return {}
    return {
        "Access-Control-Allow-Origin": origin,
        "Vary": "Origin",
        "Access-Control-Allow-Methods": CORS_ALLOW_METHODS,
        "Access-Control-Allow-Headers": CORS_ALLOW_HEADERS,
        "Access-Control-Max-Age": str(CORS_MAX_AGE_SECONDS),
        "Access-Control-Expose-Headers": CORS_EXPOSE_HEADERS,
    }
