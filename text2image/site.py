"""The site: the files the default behaviour serves from the bucket's site/ prefix, declared
once for the deployment (infra/cdn.py uploads them and invalidates their paths) and the local
gateway (which serves them)."""

from __future__ import annotations

from collections.abc import Callable

from text2image.openapi import document_bytes
from text2image.paths import WEB

# What CloudFront answers for "/" (the distribution's default root object).
DEFAULT_PAGE = "text2image.html"

# Site files made from the project rather than kept in web/: name -> its content.
GENERATED: dict[str, Callable[[], bytes]] = {"openapi.json": document_bytes}


def site_files() -> dict[str, Callable[[], bytes]]:
    """Every site file by its key under site/ (exact and case-sensitive, as S3 keys are), each
    read when asked for, so the local page reflects edits without a restart."""
    files: dict[str, Callable[[], bytes]] = {path.relative_to(WEB).as_posix(): path.read_bytes for path in sorted(WEB.rglob("*")) if path.is_file()}
    return files | GENERATED


def invalidation_paths() -> list[str]:
    """What a redeploy must drop from CloudFront's caches: "/" (cached under its own path)
    and each site file, one path each. Not a wildcard such as ``/*``: that would also drop
    every cached image, which never changes once written."""
    return ["/", *(f"/{name}" for name in site_files())]
