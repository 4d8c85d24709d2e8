"""Wait for Ctrl-C or SIGTERM, however many arrive and however close together.

A Python signal handler runs between two bytecodes of the main thread, so a second signal
can run the handler again inside the first one. A handler that takes a lock (``Event.set``
does) then waits for the lock its own outer frame holds, for good: ``timeout 40 uv run
text2image up`` hung that way when ``timeout`` and ``uv`` each sent a SIGTERM. This handler
takes no lock: it writes a byte to a non-blocking pipe, and the waiter reads it.

The pipe is also the interpreter's wakeup fd: a signal may be delivered to any thread, and a
Python handler runs only in the main thread between bytecodes, so a main thread blocked in
``os.read`` could wait for good when another thread took the signal (seen: ``up`` stopped by
SIGTERM right after its banner hung). The C-level handler writes to the wakeup fd from whatever
thread the signal lands on, which ends the read at once.
"""

from __future__ import annotations

import contextlib
import os
import signal
from types import FrameType

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopSignals:
    """Installed at construction (main thread only), so a signal during start-up is kept."""

    def __init__(self) -> None:
        self._read_end, self._write_end = os.pipe()
        # Never block in a handler: once the pipe is full, more signals add nothing.
        os.set_blocking(self._write_end, False)
        signal.set_wakeup_fd(self._write_end, warn_on_full_buffer=False)
        for signum in STOP_SIGNALS:
            signal.signal(signum, self._on_signal)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        with contextlib.suppress(BlockingIOError):
            os.write(self._write_end, b"\0")

    def wait(self) -> None:
        """Block until a stop signal has arrived (at once if one already did)."""
        os.read(self._read_end, 1)
