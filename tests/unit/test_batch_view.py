"""How `text2image batch --wait` shows a batch: on a terminal it fits, a bar per line redrawn in place;
a batch of 10,000 lines (or output that is not a terminal) gets an overall bar and the lines that
ended, grouped, a few rows a look; the API's text never reaches the terminal as control characters."""

from __future__ import annotations

import io
import os
from typing import Any

from text2image.batch_view import BatchView, ranges

URL = "https://example.org/images/batch-1"


def entry(line: int, status: str = "pending", made: int = 0, lost: int = 0, reason: str = "") -> dict[str, Any]:
    images = [f"{URL}-{line}/{index}.jpeg" for index in range(made)]
    return {"line": line, "request_id": f"batch-1-{line}", "status": status, "images": images, "errors": lost} | ({"reason": reason} if reason else {})


def document(lines: list[dict[str, Any]], status: str = "running") -> dict[str, Any]:
    return {
        "batch_id": "batch-1",
        "status": status,
        "total": len(lines),
        "done": sum(line["status"] != "pending" for line in lines),
        "failed": sum(line["status"] in ("failed", "refused") for line in lines),
        "images": sum(len(line["images"]) for line in lines),
        "lines": lines,
    }


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def view(interactive: bool, lines: int = 30, columns: int = 100) -> tuple[BatchView, io.StringIO, Clock]:
    stream, clock = io.StringIO(), Clock()
    return BatchView(stream, clock, interactive=interactive, size=os.terminal_size((columns, lines))), stream, clock


def test_a_batch_that_fits_the_terminal_gets_a_bar_per_line_redrawn_in_place() -> None:
    shown, stream, clock = view(interactive=True)
    shown.show(document([entry(1), entry(9), entry(10)]))
    first = stream.getvalue()
    assert first == (
        "\x1b[2Kline  1  [------------]  pending\n"
        "\x1b[2Kline  9  [------------]  pending\n"
        "\x1b[2Kline 10  [------------]  pending\n"
        "\x1b[2K[------------------------] 0/3 lines, 0 images  running  0 s\n"
    )
    clock.now = 12.0
    shown.show(document([entry(1, "succeeded", 2), entry(9, "partial", 1, 1, "sd-1: EndpointError (1 image lost)"), entry(10)]))
    assert stream.getvalue()[len(first) :] == (
        "\x1b[4F"  # back to the first row of the grid
        "\x1b[2Kline  1  [############] 2/2 images  succeeded\n"
        "\x1b[2Kline  9  [######------] 1/2 images  partial: sd-1: EndpointError (1 image lost)\n"
        "\x1b[2Kline 10  [------------]  pending\n"
        "\x1b[2K[################--------] 2/3 lines, 3 images  running  12 s\n"
    )


def test_a_row_is_cut_to_the_terminal_width_and_never_carries_control_characters() -> None:
    shown, stream, _ = view(interactive=True, columns=200)
    shown.show(document([entry(1, "refused", reason="QuotaExceeded:\n\x1b[31mred")]))
    assert stream.getvalue().split("\n")[0] == "\x1b[2Kline 1  [------------] 0/0 images  refused: QuotaExceeded:  [31mred"
    narrow, stream, _ = view(interactive=True, columns=30)
    narrow.show(document([entry(1, "refused", reason="QuotaExceeded")]))
    assert stream.getvalue().split("\n")[0] == "\x1b[2K" + "line 1  [------------] 0/0 im"  # 29 characters: the cursor never wraps


def test_ten_thousand_lines_get_an_overall_bar_and_the_lines_that_ended_a_few_rows_a_look() -> None:
    shown, stream, clock = view(interactive=True, lines=40, columns=120)
    total = 10_000
    shown.show(document([entry(n) for n in range(1, total + 1)]))
    assert stream.getvalue() == "\r\x1b[2K[------------------------] 0/10000 lines, 0 images  running  0 s"
    start = len(stream.getvalue())
    lost = "sd-2: EndpointError (2 images lost)"
    ended = [entry(n, "succeeded", 2) if n <= 5000 and n % 1000 else entry(n, "failed", 0, 2, lost) if n <= 5000 else entry(n) for n in range(1, total + 1)]
    clock.now = 30.0
    shown.show(document(ended))
    assert stream.getvalue()[start:].split("\n") == [
        "\r\x1b[2Ksucceeded: lines 1-999, 1001-1999, 2001-2999, 3001-3999, 4001-4999",
        f"failed: lines 1000, 2000, 3000, 4000, 5000 ({lost})",
        "[############------------] 5000/10000 lines, 5 failed, 9990 images  running  30 s",
    ]
    start = len(stream.getvalue())
    shown.show(document(ended))  # nothing new: nothing written
    assert stream.getvalue()[start:] == ""
    shown.finish()
    assert stream.getvalue().endswith("running  30 s\n")


def test_output_that_is_not_a_terminal_only_appends_rows() -> None:
    shown, stream, _ = view(interactive=False, lines=100)
    shown.show(document([entry(1), entry(2)]))
    shown.show(document([entry(1, "succeeded", 1), entry(2)]))
    shown.show(document([entry(1, "succeeded", 1), entry(2, "succeeded", 1)], "succeeded"))
    shown.finish()
    assert stream.getvalue() == (
        "[------------------------] 0/2 lines, 0 images  running\n"
        "succeeded: line 1\n"
        "[############------------] 1/2 lines, 1 images  running\n"
        "succeeded: line 2\n"
        "[########################] 2/2 lines, 2 images  succeeded\n"
    )


def test_line_numbers_are_runs_cut_to_a_length() -> None:
    assert ranges([5, 1, 2, 3, 7, 8], 80) == "1-3, 5, 7-8"
    assert ranges(range(1, 10_000, 2), 20) == "1, 3, 5, 7, 9, 11, and 4994 more"
