"""Which CORS origins may be listed, and what an answer to one carries (text2image/cors.py)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from text2image.cors import checked_origins, cors_headers

LISTED = ("https://pages.example.org", "http://127.0.0.1:5173")


@pytest.mark.parametrize("origin", ["https://example.org", "http://localhost:8080", "http://127.0.0.1:5173", "http://[::1]:3000", "https://a-b.c-d.example"])
def test_an_origin_a_browser_sends_is_taken(origin: str) -> None:
    assert checked_origins([origin]) == (origin,)


@pytest.mark.parametrize(
    "origin",
    ["https://example.org/", "https://example.org/page", "https://Example.org", "example.org", "ftp://example.org", "*", "https://", "https://a.org?x", ""],
)
def test_anything_no_browser_would_send_is_refused_by_name(origin: str) -> None:
    with pytest.raises(ValueError, match="CORS origin"):
        checked_origins(["https://fine.example", origin])


def test_a_listed_origin_gets_every_cors_header() -> None:
    assert cors_headers("http://127.0.0.1:5173", LISTED) == {
        "Access-Control-Allow-Origin": "http://127.0.0.1:5173",
        "Vary": "Origin",
        "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
        "Access-Control-Allow-Headers": "Authorization, Content-Type",
        "Access-Control-Max-Age": "600",
        "Access-Control-Expose-Headers": "Retry-After",  # a 429's wait, readable by the page
    }


@pytest.mark.parametrize("origin", [None, "https://elsewhere.example.org", "https://pages.example.org.evil.example", "null", "https://PAGES.example.org"])
def test_any_other_origin_gets_none(origin: str | None) -> None:
    assert cors_headers(origin, LISTED) == {}


def test_up_refuses_a_bad_origin_with_a_message() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "text2image.cli", "up", "--port", "0", "--cors-origin", "https://example.org/"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 2 and "CORS origin 'https://example.org/': must be scheme://host[:port]" in out.stderr
