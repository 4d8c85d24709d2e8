"""How ``text2image batch --wait`` shows a batch while it runs (on stderr), from each version of its
status.json.

A batch that fits the terminal gets a bar per line (its images made of those asked for, full once
the line has ended), redrawn in place, under them an overall bar. A batch that does not fit (think
10,000 lines), or output that is not a terminal, gets the overall bar and, at each new version,
the lines that ended since the one before, grouped by outcome and reason ("succeeded: lines 1-37,
40"): a few rows a look, never one per line of the file.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterable
from typing import Any, TextIO

LINE_BAR, OVERALL_BAR = 12, 24
PENDING = "pending"
# ANSI: the cursor to the start of the line n rows up; clear the whole row.
UP = "\x1b[{}F"
CLEAR = "\x1b[2K"


def bar(done: int, total: int, width: int) -> str:
    filled = round(width * done / total) if total else 0
    return f"[{'#' * filled}{'-' * (width - filled)}]"


def plain(text: str) -> str:
    """The API's text as one row of plain characters: no line break or escape sequence reaches the terminal."""
    return "".join(character if character.isprintable() else " " for character in text)


def line_row(entry: dict[str, Any], number_width: int) -> str:
    """One line of the batch: ``line  3  [############] 2/2 images  succeeded``, with why images
    were lost or the line failed."""
    head = f"line {entry['line']:>{number_width}}  "
    if entry["status"] == PENDING:
        return f"{head}{bar(0, 0, LINE_BAR)}  {PENDING}"
    made, lost = len(entry["images"]), entry["errors"]
    reason = f": {plain(entry['reason'])}" if entry.get("reason") else ""
    return f"{head}{bar(made, made + lost, LINE_BAR)} {made}/{made + lost} images  {plain(entry['status'])}{reason}"


def overall_row(document: dict[str, Any], seconds: float | None = None) -> str:
    failed = f", {document['failed']} failed" if document["failed"] else ""
    elapsed = "" if seconds is None else f"  {seconds:.0f} s"
    return (
        f"{bar(document['done'], document['total'], OVERALL_BAR)} {document['done']}/{document['total']} lines{failed}, "
        f"{document['images']} images  {document['status']}{elapsed}"
    )


def ranges(numbers: Iterable[int], limit: int) -> str:
    """Sorted line numbers as runs ("1-37, 40"), cut to about ``limit`` characters ("..., and 12 more")."""
    runs: list[tuple[int, int]] = []
    for number in sorted(numbers):
        if runs and number == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], number)
        else:
            runs.append((number, number))
    parts = [str(first) if first == last else f"{first}-{last}" for first, last in runs]
    shown: list[str] = []
    for position, part in enumerate(parts):
        if shown and len(", ".join([*shown, part])) > limit:
            left = sum(last - first + 1 for first, last in runs[position:])
            return ", ".join(shown) + f", and {left} more"
        shown.append(part)
    return ", ".join(shown)


def ended_rows(entries: list[dict[str, Any]], limit: int) -> list[str]:
    """The lines that ended, one row per outcome and reason, in the order of their first line."""
    groups: dict[tuple[str, str], list[int]] = {}
    for entry in sorted(entries, key=lambda entry: entry["line"]):
        groups.setdefault((plain(entry["status"]), plain(entry.get("reason", ""))), []).append(entry["line"])
    rows = []
    for (status, reason), lines in groups.items():
        why = f" ({reason})" if reason else ""
        rows.append(f"{status}: line{'' if len(lines) == 1 else 's'} {ranges(lines, limit)}{why}")
    return rows


class BatchView:
    """Shows each version of a batch's status.json on ``stream``; ``interactive`` (a terminal of
    ``size``) redraws in place, anything else only appends rows, with no control characters."""

    def __init__(self, stream: TextIO, clock: Callable[[], float], *, interactive: bool, size: os.terminal_size) -> None:
        self.stream, self.clock, self.interactive, self.size = stream, clock, interactive, size
        self.started = clock()
        self.grid: bool | None = None  # a bar per line: decided at the first version
        self.drawn = 0  # rows of the grid on screen
        self.shown: dict[int, str] = {}  # line -> the status last shown
        self.last_overall = ""  # the overall row last written (not counting the time)
        self.overall_open = False  # the overall row waits at the end of the output, without a newline

    def show(self, document: dict[str, Any]) -> None:
        if self.grid is None:
            # The grid, the overall row and the cursor's own row must fit, or scrolling breaks the redraw.
            self.grid = self.interactive and document["total"] + 2 <= self.size.lines
        if self.grid:
            self._redraw(document)
        else:
            self._append(document)

    def finish(self) -> None:
        """The output ends with a whole row."""
        if self.overall_open:
            self.stream.write("\n")
            self.overall_open = False
        self.stream.flush()

    def _fit(self, row: str) -> str:
        """A row never wraps (a wrapped row would throw the redraw out)."""
        return row[: self.size.columns - 1] if self.interactive else row

    def _redraw(self, document: dict[str, Any]) -> None:
        width = len(str(max((entry["line"] for entry in document["lines"]), default=0)))
        rows = [line_row(entry, width) for entry in document["lines"]] + [overall_row(document, self.clock() - self.started)]
        self.stream.write((UP.format(self.drawn) if self.drawn else "") + "".join(f"{CLEAR}{self._fit(row)}\n" for row in rows))
        self.drawn = len(rows)
        self.stream.flush()

    def _append(self, document: dict[str, Any]) -> None:
        ended = [entry for entry in document["lines"] if entry["status"] != PENDING and self.shown.get(entry["line"]) != entry["status"]]
        self.shown.update((entry["line"], entry["status"]) for entry in ended)
        rows = ended_rows(ended, max(40, self.size.columns - 40))
        overall = overall_row(document)
        if not rows and overall == self.last_overall:
            return
        self.last_overall = overall
        if self.interactive:
            # The overall row stays last: cleared, the new rows above it, drawn again with the time.
            self.stream.write("\r" + CLEAR + "".join(f"{self._fit(row)}\n" for row in rows) + self._fit(overall_row(document, self.clock() - self.started)))
            self.overall_open = True
        else:
            self.stream.write("".join(f"{row}\n" for row in [*rows, overall]))
        self.stream.flush()


def view_for(stream: TextIO, clock: Callable[[], float]) -> BatchView:
    """The view for ``stream`` as it is: a terminal (of its own size: stdout may be a pipe) or not."""
    interactive = stream.isatty()
    try:
        size = os.get_terminal_size(stream.fileno()) if interactive else shutil.get_terminal_size()
    except OSError:
        size = shutil.get_terminal_size()
    return BatchView(stream, clock, interactive=interactive, size=size)
