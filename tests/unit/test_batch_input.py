"""A batch file checked on its own (functions/prepare/batch_input.py): the lines stored for a good
file, and for a bad one every bad line by number, field and message. The function around it is
tests/unit/test_batches_handler.py."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from batch_input import CSV, JSONL, MESSAGE_LINES, Batch, BatchRefused, Limits, initial_status, invalid_status, media_type_of, parse_batch
from request_validation import FIELDS

LIMITS = Limits(max_lines=100, max_bytes=10_000, default_num_images=4)
ALLOWED = ", ".join(FIELDS)


def jsonl(*lines: Any) -> bytes:
    """A JSONL file: a str line as written, anything else as its JSON."""
    return "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines).encode()


def refused(body: bytes, media_type: str = JSONL, limits: Limits = LIMITS) -> dict[str, Any]:
    with pytest.raises(BatchRefused) as raised:
        parse_batch(body, media_type, limits)
    assert json.loads(str(raised.value)) == raised.value.body  # the exception's text is the 400 body
    return dict(raised.value.body)


def test_each_request_line_is_stored_with_its_line_number_request_id_and_deal() -> None:
    body = jsonl({"text": "a fox", "num_images": 2}, "", "   ", {"text": "a hen"}, {"text": "an owl", "num_images": 3, "seed": 0})
    batch = parse_batch(body, JSONL, LIMITS)
    assert batch.batch_id.startswith("batch-") and len(batch.batch_id) == len("batch-") + 32
    assert batch.lines == (
        {"line": 1, "request_id": f"{batch.batch_id}-1", "request": {"text": "a fox", "num_images": 2}, "deal_from": 0},
        # blank lines are skipped, their numbers kept; a line without num_images makes DEFAULT_NUM_IMAGES (4)
        {"line": 4, "request_id": f"{batch.batch_id}-4", "request": {"text": "a hen"}, "deal_from": 2},
        {"line": 5, "request_id": f"{batch.batch_id}-5", "request": {"text": "an owl", "num_images": 3, "seed": 0}, "deal_from": 6},
    )
    assert batch.total == 3
    stored = batch.input_jsonl()
    assert stored.endswith(b"\n") and [json.loads(line) for line in stored.splitlines()] == list(batch.lines)


def test_the_batch_id_is_the_digest_of_the_stored_lines_without_their_ids() -> None:
    batch = parse_batch(jsonl({"text": "un café"}), JSONL, LIMITS)
    unnamed = json.dumps({"line": 1, "request": {"text": "un café"}, "deal_from": 0}, ensure_ascii=False, separators=(",", ":")) + "\n"
    assert batch.batch_id == "batch-" + hashlib.sha256(unnamed.encode()).hexdigest()[:32]
    assert batch.input_jsonl().decode() == unnamed.replace('{"line":1,', f'{{"line":1,"request_id":"{batch.batch_id}-1",')


def test_the_same_requests_are_the_same_batch_and_other_requests_another() -> None:
    first = parse_batch(jsonl({"text": "a", "num_images": 2}), JSONL, LIMITS)
    assert parse_batch(b'{ "text" : "a",\t"num_images": 2 }\n', JSONL, LIMITS).batch_id == first.batch_id
    assert parse_batch(jsonl({"text": "a", "num_images": 3}), JSONL, LIMITS).batch_id != first.batch_id
    on_line_2 = parse_batch(jsonl("", {"text": "a", "num_images": 2}), JSONL, LIMITS).batch_id
    assert on_line_2 != first.batch_id  # another request id
    assert parse_batch(b"text,num_images\na,2\n", CSV, LIMITS).batch_id == on_line_2  # the same request on the same line
    other_default = Limits(max_lines=100, max_bytes=10_000, default_num_images=2)
    two = jsonl({"text": "a"}, {"text": "b"})
    assert parse_batch(two, JSONL, other_default).batch_id != parse_batch(two, JSONL, LIMITS).batch_id  # the second line is dealt elsewhere


def test_every_bad_line_is_named_in_line_order_with_its_field() -> None:
    lines: list[Any] = [{"text": f"prompt {n}"} for n in range(1, 21)]
    lines[2] = {"num_images": 2}
    lines[16] = {"text": "x", "colour": "red"}
    lines[9] = {"text": "y", "width": 100}
    body = refused(jsonl(*lines))
    assert body == {
        "error": "ValidationError",
        "message": (
            "3 of 20 lines are invalid: line 3: text: is required; line 10: width: must be at least 256 (got 100); "
            f"line 17: colour: unknown field; allowed: {ALLOWED}"
        ),
        "field": "body",
        "lines": [
            {"line": 3, "field": "text", "message": "text: is required"},
            {"line": 10, "field": "width", "message": "width: must be at least 256 (got 100)"},
            {"line": 17, "field": "colour", "message": f"colour: unknown field; allowed: {ALLOWED}"},
        ],
    }


@pytest.mark.parametrize(
    ("line", "field", "message"),
    [
        ('{"text": "a"', "body", "body: is not a JSON object on one line (Expecting ',' delimiter: line 1 column 13 (char 12))"),
        ('["text", "a"]', "body", "body: must be a JSON object"),
        ('"a prompt"', "body", "body: must be a JSON object"),
        ('{"text": "a", "guidance_scale": NaN}', "body", "body: is not a JSON object on one line (NaN is not a JSON number)"),
        ('{"text": "\\ud800"}', "body", "body: holds an unpaired surrogate (\\ud800-\\udfff): not Unicode text"),
    ],
)
def test_a_line_that_is_not_a_request_object_is_named(line: str, field: str, message: str) -> None:
    body = refused(jsonl({"text": "fine"}, line))
    assert body["lines"] == [{"line": 2, "field": field, "message": message}]
    assert body["message"] == f"1 of 2 lines are invalid: line 2: {message}"


def test_the_message_names_the_first_bad_lines_and_the_list_has_them_all() -> None:
    body = refused(jsonl(*[{"text": ""}] * (MESSAGE_LINES + 3)))
    assert len(body["lines"]) == MESSAGE_LINES + 3
    assert body["message"].count("text: must not be empty") == MESSAGE_LINES
    assert body["message"].startswith(f"{MESSAGE_LINES + 3} of {MESSAGE_LINES + 3} lines are invalid: line 1: ")
    assert body["message"].endswith("; and 3 more")


@pytest.mark.parametrize("body", [b"", b"\n \n\t\n", b"\xef\xbb\xbf"])
def test_a_file_without_a_request_line_is_refused_as_empty(body: bytes) -> None:
    assert refused(body) == {"error": "ValidationError", "message": "body: has no request line (an empty file)", "field": "body", "lines": []}


def test_a_csv_with_only_its_header_is_empty() -> None:
    assert refused(b"text,seed\n", CSV)["message"] == "body: has no request line (an empty file)"


def test_more_lines_than_the_limit_are_refused_naming_it() -> None:
    limits = Limits(max_lines=3, max_bytes=10_000, default_num_images=4)
    assert parse_batch(jsonl(*[{"text": "a"}] * 3), JSONL, limits).total == 3
    body = refused(jsonl(*[{"text": "a"}] * 4), limits=limits)
    assert (body["message"], body["lines"]) == ("body: has 4 request lines; the limit is 3", [])


def test_a_file_over_the_byte_limit_is_refused_unread() -> None:
    limits = Limits(max_lines=100, max_bytes=20, default_num_images=4)
    assert parse_batch(b'{"text": "a"}\n', JSONL, limits).total == 1
    assert refused(b'{"text": "abcdef"}\n\xff\xff', limits=limits)["message"] == "body: is 21 bytes; the limit is 20"


def test_a_file_that_is_not_utf8_names_the_line() -> None:
    body = refused(jsonl({"text": "a"}, {"text": "b"}) + b'{"text": "caf\xe9"}\n')
    assert body["lines"] == [{"line": 3, "field": "body", "message": "body: is not UTF-8 text (byte 0xe9)"}]
    assert body["message"] == "line 3: body: is not UTF-8 text (byte 0xe9)"


def test_a_byte_order_mark_is_not_part_of_the_first_line() -> None:
    assert parse_batch(b"\xef\xbb\xbf" + jsonl({"text": "a"}), JSONL, LIMITS).lines[0]["request"] == {"text": "a"}
    assert parse_batch(b"\xef\xbb\xbftext\r\na\r\n", CSV, LIMITS).lines[0]["request"] == {"text": "a"}


def test_a_line_break_inside_a_json_string_other_than_newline_keeps_the_line_whole() -> None:
    batch = parse_batch('{"text": "one\u2028two"}\n'.encode(), JSONL, LIMITS)
    assert batch.lines[0]["request"] == {"text": "one\u2028two"}


def test_csv_columns_are_request_fields_numbers_read_by_the_schemas_type() -> None:
    body = b'text,num_images,guidance_scale,negative_prompt,seed\r\n"a fox, red",2,7.5,,\r\n\r\n"two\nlines",,3, blur ,0\r\nan owl\r\n'
    batch = parse_batch(body, CSV, LIMITS)
    assert [(line["line"], line["request"], line["deal_from"]) for line in batch.lines] == [
        (2, {"text": "a fox, red", "num_images": 2, "guidance_scale": 7.5}, 0),  # an empty cell leaves its field out
        (4, {"text": "two\nlines", "guidance_scale": 3.0, "negative_prompt": " blur ", "seed": 0}, 2),  # a row starts on line 4
        (6, {"text": "an owl"}, 6),  # a short row: the missing cells are empty
    ]
    assert isinstance(batch.lines[1]["request"]["guidance_scale"], float) and isinstance(batch.lines[0]["request"]["num_images"], int)


@pytest.mark.parametrize(
    ("header", "errors"),
    [
        ("prompt,seed", [("prompt", f"prompt: unknown column; allowed: {ALLOWED}"), ("text", "text: the header must name a text column")]),
        ("seed", [("text", "text: the header must name a text column")]),
        ("text, width ,text", [("text", "text: column named twice")]),
    ],
)
def test_a_csv_header_must_name_a_text_column_and_only_request_fields(header: str, errors: list[tuple[str, str]]) -> None:
    body = refused(f"{header}\na,1,b\n".encode(), CSV)
    assert body["lines"] == [{"line": 1, "field": field, "message": message} for field, message in errors]
    assert body["message"] == "line 1 (the header): " + "; ".join(message for _, message in errors)


@pytest.mark.parametrize(
    ("cell", "column", "message"),
    [
        ("two", "num_images", 'num_images: must be a whole number (got "two")'),
        ("2.0", "num_images", 'num_images: must be a whole number (got "2.0")'),
        ("1_000", "seed", 'seed: must be a whole number (got "1_000")'),
        ("7,5", "guidance_scale", 'guidance_scale: must be a number (got "7,5")'),
        ("nan", "guidance_scale", 'guidance_scale: must be a number (got "nan")'),
        ("17", "num_images", "num_images: must be at most 16 (got 17)"),
    ],
)
def test_a_csv_cell_that_is_not_its_columns_number_is_its_lines_error(cell: str, column: str, message: str) -> None:
    body = refused(f'text,{column}\na,1\nb,"{cell}"\n'.encode(), CSV)
    assert body["lines"] == [{"line": 3, "field": column, "message": message}]


def test_a_csv_row_with_more_cells_than_columns_is_refused() -> None:
    assert refused(b"text\na,b\n", CSV)["lines"] == [{"line": 2, "field": "body", "message": "body: has 2 cells; the header names 1 columns"}]


def test_a_csv_that_cannot_be_read_as_csv_is_refused() -> None:
    assert refused(b'text\n"open quote\n', CSV)["message"] == "body: is not CSV (line 2: unexpected end of data)"


@pytest.mark.parametrize(
    ("content_type", "media_type"),
    [
        ("application/x-ndjson", JSONL),
        ("application/x-ndjson; charset=utf-8", JSONL),
        ("Text/CSV;charset=UTF-8", CSV),
        ("application/json", None),
        ("text/plain", None),
        ("", None),
        (None, None),
    ],
)
def test_the_content_type_names_the_batchs_format(content_type: str | None, media_type: str | None) -> None:
    assert media_type_of(content_type) == media_type


def test_the_first_status_has_every_line_pending() -> None:
    batch = parse_batch(jsonl({"text": "a"}, {"text": "b"}), JSONL, LIMITS)
    assert initial_status(batch, "2026-11-25T12:00:00+00:00") == {
        "batch_id": batch.batch_id,
        "status": "running",
        "total": 2,
        "done": 0,
        "failed": 0,
        "images": 0,
        "lines": [
            {"line": 1, "request_id": f"{batch.batch_id}-1", "status": "pending", "images": [], "errors": 0},
            {"line": 2, "request_id": f"{batch.batch_id}-2", "status": "pending", "images": [], "errors": 0},
        ],
        "updated": "2026-11-25T12:00:00+00:00",
    }


def test_a_refused_files_status_says_invalid_with_its_bad_lines() -> None:
    error = BatchRefused("1 of 1 lines are invalid: line 1: text: is required", [{"line": 1, "field": "text", "message": "text: is required"}])
    assert invalid_status("batch-x", error, "2026-11-25T12:00:00+00:00") == {
        "batch_id": "batch-x",
        "status": "invalid",
        "total": 0,
        "done": 0,
        "failed": 0,
        "images": 0,
        "error": "ValidationError",
        "message": "1 of 1 lines are invalid: line 1: text: is required",
        "field": "body",
        "lines": [{"line": 1, "field": "text", "message": "text: is required"}],
        "updated": "2026-11-25T12:00:00+00:00",
    }


def test_a_batch_is_a_value() -> None:
    batch = parse_batch(jsonl({"text": "a"}), JSONL, LIMITS)
    assert batch == Batch(batch.batch_id, batch.lines, batch.images)


def test_a_batch_counts_the_images_its_lines_make() -> None:
    batch = parse_batch(jsonl({"text": "a", "num_images": 3}, {"text": "b"}, {"text": "c", "num_images": 1}), JSONL, LIMITS)
    assert batch.images == 3 + LIMITS.default_num_images + 1
