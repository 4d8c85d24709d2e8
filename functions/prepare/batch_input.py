"""A batch file -> the lines to store, or every bad line: what ``POST /text2image/batches`` and a
file dropped under ``batches/inbox/`` are both checked with (batches.py does the I/O). Pure: no
client, no clock.

- JSONL (``application/x-ndjson``, ``.jsonl``): one request per line, the request contract.
- CSV (``text/csv``, ``.csv``): the first row names the columns, ``text`` among them, the others
  named like the request's fields; an empty cell leaves its field out; a number column's cells
  are read as the schema's type says (integer or number).

Blank lines (white space only) are skipped; lines keep their number in the file (a CSV row, the
line it starts on), so an error names the line an editor shows. Every line is validated with the
one schema (request_validation): any bad line refuses the whole file, listing each bad line
(:class:`BatchRefused`), and nothing is stored or started.

A good file is stored as ``batches/<batch_id>/input.jsonl`` (:meth:`Batch.input_jsonl`), one
:class:`StoredLine` per request, which the batch workflow's Distributed Map reads line by line.
The batch id derives from the stored lines, so the same file sent twice is one batch.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from dataclasses import dataclass
from typing import Any, TypedDict

from request_validation import FIELDS, SCHEMA, ValidationError, validated_request

JSONL = "application/x-ndjson"
CSV = "text/csv"
UNSUPPORTED_MEDIA_TYPE_MESSAGE = f"Content-Type: must be {JSONL} or {CSV}"
# A dropped file's type, by its name.
SUFFIX_MEDIA_TYPES = {".jsonl": JSONL, ".csv": CSV}
BATCH_ID_PREFIX = "batch-"
# The refusal's message names the first few bad lines; its "lines" lists them all.
MESSAGE_LINES = 10
_WHOLE = re.compile(r"[+-]?[0-9]+")
_NUMBER = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")


class LineError(TypedDict):
    line: int  # the line's number in the file, from 1
    field: str
    message: str  # "<field>: <why>", as the API's ValidationError words it


class StoredLine(TypedDict):
    """One line of ``batches/<batch_id>/input.jsonl``: one child run of the batch workflow."""

    line: int
    request_id: str  # "<batch_id>-<line>": the child run's execution name and request id
    request: dict[str, Any]  # as sent: Prepare fills the defaults in, as for any request
    deal_from: int  # the images of the lines before it (planning.assign)


class RefusalBody(TypedDict):
    error: str
    message: str
    field: str
    lines: list[LineError]


class BatchRefused(Exception):
    """The file is refused as a whole. ``body`` is the API's 400 ValidationError body, with each
    bad line in ``lines`` (empty when the file itself breaks a rule: empty, too large ...)."""

    def __init__(self, message: str, lines: list[LineError] | None = None) -> None:
        self.body: RefusalBody = {"error": "ValidationError", "message": message, "field": "body", "lines": lines or []}
        super().__init__(json.dumps(self.body, ensure_ascii=False))


@dataclass(frozen=True)
class Limits:
    max_lines: int  # request lines per file (text2image:maxBatchLines)
    max_bytes: int  # the file's size
    default_num_images: int  # a line without num_images makes this many (for deal_from)


@dataclass(frozen=True)
class Batch:
    batch_id: str
    lines: tuple[StoredLine, ...]
    images: int  # what its lines make in all, a line without num_images counting as Prepare fills it in

    @property
    def total(self) -> int:
        return len(self.lines)

    def input_jsonl(self) -> bytes:
        return b"".join(_json_line(line) for line in self.lines)


def media_type_of(content_type: str | None) -> str | None:
    """The batch media type a Content-Type names (parameters such as charset aside), or None."""
    bare = (content_type or "").split(";", 1)[0].strip().lower()
    return bare if bare in (JSONL, CSV) else None


def parse_batch(body: bytes, media_type: str, limits: Limits, owner: str | None = None) -> Batch:
    """The batch of a file of ``media_type`` (:data:`JSONL` or :data:`CSV`); ``BatchRefused``
    when the file or any of its lines breaks a rule. ``owner``: the signed-in caller's id, part of
    the batch id (the same file from two users is two batches, each counted against its user)."""
    if len(body) > limits.max_bytes:
        raise BatchRefused(f"body: is {len(body)} bytes; the limit is {limits.max_bytes}")
    text = _text(body)
    candidates = _jsonl_lines(text) if media_type == JSONL else _csv_lines(text)
    if not candidates:
        raise BatchRefused("body: has no request line (an empty file)")
    if len(candidates) > limits.max_lines:
        raise BatchRefused(f"body: has {len(candidates)} request lines; the limit is {limits.max_lines}")
    errors: list[LineError] = []
    accepted: list[tuple[int, dict[str, Any]]] = []
    for number, candidate in candidates:
        try:
            accepted.append((number, _checked(candidate)))
        except ValidationError as exc:
            errors.append({"line": number, "field": exc.field, "message": exc.body["message"]})
    if errors:
        raise BatchRefused(_summary(errors, len(candidates)), errors)
    return _stored(accepted, limits.default_num_images, owner)


def batch_id_of(content: bytes) -> str:
    return BATCH_ID_PREFIX + hashlib.sha256(content).hexdigest()[:32]


def refused_batch_id(body: bytes) -> str:
    """The id a refused file's status is kept under (a dropped file: it has no caller to answer):
    from its bytes, apart from every stored batch's."""
    return batch_id_of(b"refused\n" + body)


def input_key(batch_id: str) -> str:
    return f"batches/{batch_id}/input.jsonl"


def status_key(batch_id: str) -> str:
    """Where the batch's status document is (the batch_status function writes it from then on:
    tests/unit/test_batch_status.py holds the two folders' keys together)."""
    return f"batches/{batch_id}/status.json"


def initial_status(batch: Batch, updated: str) -> dict[str, Any]:
    """The status document before any line has run (batch_status.StatusDocument's shape)."""
    lines = [{"line": line["line"], "request_id": line["request_id"], "status": "pending", "images": [], "errors": 0} for line in batch.lines]
    return {"batch_id": batch.batch_id, "status": "running", "total": batch.total, "done": 0, "failed": 0, "images": 0, "lines": lines, "updated": updated}


def invalid_status(batch_id: str, refused: BatchRefused, updated: str) -> dict[str, Any]:
    """The status document of a dropped file that was refused: why, and each bad line."""
    return {"batch_id": batch_id, "status": "invalid", "total": 0, "done": 0, "failed": 0, "images": 0, **refused.body, "updated": updated}


def _text(body: bytes) -> str:
    try:
        # A byte-order mark (spreadsheets write one) is not part of the first line.
        return body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = body[: exc.start].count(b"\n") + 1
        error: LineError = {"line": line, "field": "body", "message": f"body: is not UTF-8 text (byte 0x{body[exc.start]:02x})"}
        raise BatchRefused(f"line {line}: {error['message']}", [error]) from None


def _jsonl_lines(text: str) -> list[tuple[int, Any]]:
    """(line number, the line's request or the ValidationError it is) per non-blank line. Split at
    \\n only: other line breaks (U+2028 ...) may stand in a JSON string."""
    lines: list[tuple[int, Any]] = []
    for number, line in enumerate(text.split("\n"), start=1):
        if line.strip():
            try:
                lines.append((number, json.loads(line, parse_constant=_no_constant)))
            except ValueError as exc:  # json.JSONDecodeError and NaN/Infinity, which are not JSON
                lines.append((number, ValidationError("body", f"is not a JSON object on one line ({exc})")))
    return lines


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _csv_lines(text: str) -> list[tuple[int, Any]]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header: list[str] | None = None
    lines: list[tuple[int, Any]] = []
    start = 1  # the line the next row starts on
    try:
        for row in reader:
            number, start = start, reader.line_num + 1
            if not any(cell.strip() for cell in row):
                continue
            if header is None:
                header = _header(number, row)
            else:
                lines.append((number, _csv_request(header, row)))
    except csv.Error as exc:
        raise BatchRefused(f"body: is not CSV (line {reader.line_num}: {exc})") from None
    return lines


def _header(number: int, row: list[str]) -> list[str]:
    names = [cell.strip() for cell in row]
    errors: list[LineError] = []
    for position, name in enumerate(names):
        if name not in FIELDS:
            errors.append({"line": number, "field": name, "message": f"{name}: unknown column; allowed: {', '.join(FIELDS)}"})
        elif name in names[:position]:
            errors.append({"line": number, "field": name, "message": f"{name}: column named twice"})
    if "text" not in names:
        errors.append({"line": number, "field": "text", "message": "text: the header must name a text column"})
    if errors:
        raise BatchRefused(f"line {number} (the header): " + "; ".join(error["message"] for error in errors), errors)
    return names


def _csv_request(header: list[str], row: list[str]) -> Any:
    """The request of a CSV row, or the ValidationError of its first cell that cannot be one."""
    if len(row) > len(header):
        return ValidationError("body", f"has {len(row)} cells; the header names {len(header)} columns")
    request: dict[str, Any] = {}
    for name, cell in zip(header, row, strict=False):
        if cell.strip():
            try:
                request[name] = _cell_value(name, cell)
            except ValidationError as exc:
                return exc
    return request


def _cell_value(name: str, cell: str) -> Any:
    kind = SCHEMA["properties"][name]["type"]
    if kind == "integer":
        if not _WHOLE.fullmatch(cell.strip()):
            raise ValidationError(name, f"must be a whole number (got {json.dumps(cell, ensure_ascii=False)})")
        return int(cell)
    if kind == "number":
        if not _NUMBER.fullmatch(cell.strip()):
            raise ValidationError(name, f"must be a number (got {json.dumps(cell, ensure_ascii=False)})")
        return float(cell)
    return cell  # a string field: as written, white space included


def _checked(candidate: Any) -> dict[str, Any]:
    """The line's request as sent, once the schema accepts it."""
    if isinstance(candidate, ValidationError):
        raise candidate
    validated_request(candidate)
    try:
        json.dumps(candidate, ensure_ascii=False).encode()
    except UnicodeEncodeError:  # "\ud800" is JSON, but no UTF-8 text: no S3 object or manifest could hold it
        raise ValidationError("body", "holds an unpaired surrogate (\\ud800-\\udfff): not Unicode text") from None
    request: dict[str, Any] = candidate
    return request


def _summary(errors: list[LineError], total: int) -> str:
    named = "; ".join(f"line {error['line']}: {error['message']}" for error in errors[:MESSAGE_LINES])
    more = f"; and {len(errors) - MESSAGE_LINES} more" if len(errors) > MESSAGE_LINES else ""
    return f"{len(errors)} of {total} lines are invalid: {named}{more}"


def _stored(accepted: list[tuple[int, dict[str, Any]]], default_num_images: int, owner: str | None) -> Batch:
    # The id is a digest of the lines without their request ids, which are made of it.
    unnamed: list[dict[str, Any]] = []
    dealt = 0
    for number, request in accepted:
        unnamed.append({"line": number, "request": request, "deal_from": dealt})
        dealt += request.get("num_images", default_num_images)
    batch_id = batch_id_of((_json_line({"owner": owner}) if owner else b"") + b"".join(_json_line(line) for line in unnamed))
    lines = tuple(
        StoredLine(line=line["line"], request_id=f"{batch_id}-{line['line']}", request=line["request"], deal_from=line["deal_from"]) for line in unnamed
    )
    return Batch(batch_id, lines, dealt)


def _json_line(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
