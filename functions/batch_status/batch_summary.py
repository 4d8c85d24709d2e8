"""A batch's status document, ``batches/<batch_id>/status.json``, brought up to date from its lines'
manifests (``requests/<request_id>.json``, Collect's). Pure: no client, no clock (batch_status.py
lists, reads and writes).

The submit function writes the first document (every line pending: batch_input.initial_status,
held to this shape by tests/unit/test_batch_status.py); each look after that reads only the
manifests it has not read in their current version (:func:`stale`, by ETag: a redriven line
rewrites its manifest, which is then read again), and a final look ends the lines no manifest
ended: the run failed before Collect, or the batch's map failed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NotRequired, TypedDict

MANIFEST_PREFIX = "requests/"
MANIFEST_SUFFIX = ".json"
RUNNING = "running"
PENDING = "pending"
# A line's status once ended: a manifest's (Collect's succeeded|partial|failed, Prepare's refused).
LINE_ENDS = frozenset({"succeeded", "partial", "failed", "refused"})
FAILED_LINES = frozenset({"failed", "refused"})
NO_MANIFEST = "no manifest: the run failed before Collect"
MAX_REASON = 300


class LineEntry(TypedDict):
    line: int
    request_id: str
    status: str  # pending | succeeded | partial | failed | refused
    images: list[str]  # the URLs of the images made, in index order
    errors: int  # images lost
    reason: NotRequired[str]  # why images were lost, or why the line failed
    manifest: NotRequired[str]  # the ETag of the manifest this entry was made from


class StatusDocument(TypedDict):
    batch_id: str
    status: str  # running | succeeded | partial | failed (| invalid: a refused dropped file, never summarized)
    total: int
    done: int  # lines ended, whatever their outcome
    failed: int  # lines failed or refused
    images: int  # images made
    lines: list[LineEntry]
    updated: str  # ISO 8601, UTC


class MapError(TypedDict):
    """Step Functions' error output, as the batch workflow's Catch passes it."""

    Error: str
    Cause: NotRequired[str]


class Summary(TypedDict):
    """The function's output: the document without its lines (a state holds at most 256 KiB)."""

    batch_id: str
    status: str
    total: int
    done: int
    failed: int
    images: int
    ended: bool  # every line has ended: the status is no longer running


def manifest_key(request_id: str) -> str:
    """Where a run's manifest is (Collect's collect_response.manifest_key: the same layout)."""
    return f"{MANIFEST_PREFIX}{request_id}{MANIFEST_SUFFIX}"


def manifests_prefix(batch_id: str) -> str:
    """The prefix of this batch's manifests: its request ids are ``<batch_id>-<line>``."""
    return manifest_key(f"{batch_id}-").removesuffix(MANIFEST_SUFFIX)


def request_id_of(key: str) -> str:
    return key.removeprefix(MANIFEST_PREFIX).removesuffix(MANIFEST_SUFFIX)


def stale(document: StatusDocument, listed: Mapping[str, str]) -> list[str]:
    """The request ids whose manifest (request id -> ETag, as listed) the document has not read
    in this version, in line order; a listed key of no line of the batch is not one."""
    return [line["request_id"] for line in document["lines"] if line["request_id"] in listed and listed[line["request_id"]] != line.get("manifest")]


def updated(document: StatusDocument, manifests: Mapping[str, tuple[str, dict[str, Any]]], *, final: bool, error: MapError | None, now: str) -> StatusDocument:
    """The document with the lines of ``manifests`` (request id -> (ETag, manifest)) ended as their
    manifests say. While not ``final`` the batch is running; at the end its lines still pending
    fail, and the batch is succeeded (every line succeeded), failed (no image, or the map failed)
    or partial."""
    lines = [_from_manifest(line, *manifests[line["request_id"]]) if line["request_id"] in manifests else line for line in document["lines"]]
    if final:
        why = NO_MANIFEST if error is None else _map_failure(error)
        lines = [{**line, "status": "failed", "reason": why} if line["status"] == PENDING else line for line in lines]
    images = sum(len(line["images"]) for line in lines)
    if not final:
        status = RUNNING
    elif error is not None or images == 0:
        status = "failed"
    else:
        status = "succeeded" if all(line["status"] == "succeeded" for line in lines) else "partial"
    return {
        "batch_id": document["batch_id"],
        "status": status,
        "total": document["total"],
        "done": sum(line["status"] != PENDING for line in lines),
        "failed": sum(line["status"] in FAILED_LINES for line in lines),
        "images": images,
        "lines": lines,
        "updated": now,
    }


def summary_of(document: StatusDocument) -> Summary:
    return {
        "batch_id": document["batch_id"],
        "status": document["status"],
        "total": document["total"],
        "done": document["done"],
        "failed": document["failed"],
        "images": document["images"],
        "ended": document["status"] != RUNNING,
    }


def _from_manifest(line: LineEntry, etag: str, manifest: dict[str, Any]) -> LineEntry:
    status = manifest.get("status")
    errors = manifest.get("errors") or []
    entry: LineEntry = {
        "line": line["line"],
        "request_id": line["request_id"],
        "status": status if status in LINE_ENDS else "failed",
        "images": [image["url"] for image in manifest.get("images") or []],
        "errors": len(errors),
        "manifest": etag,
    }
    if status == "refused":
        entry["reason"] = str(manifest.get("message", "refused"))[:MAX_REASON]
    elif status not in LINE_ENDS:
        entry["reason"] = f"the manifest's status is {status!r}"
    elif errors:
        # Each lost image is in the manifest; here, which endpoints lost how many and why.
        counts: dict[str, int] = {}
        for error in errors:
            name = f"{error.get('endpoint')}: {error.get('error')}"
            counts[name] = counts.get(name, 0) + 1
        entry["reason"] = "; ".join(f"{name} ({count} image{'' if count == 1 else 's'} lost)" for name, count in counts.items())[:MAX_REASON]
    return entry


def _map_failure(error: MapError) -> str:
    cause = error.get("Cause")
    return f"the batch's map failed: {error['Error']}{': ' + cause if cause else ''}"[:MAX_REASON]
