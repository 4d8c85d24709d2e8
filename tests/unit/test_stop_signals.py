"""`text2image up` stops on SIGINT/SIGTERM however the signals arrive (text2image/stop_signals.py)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

# A second SIGTERM raised at every line the first one's handler runs (and every line of what
# it calls): each runs the handler again, nested, at the next bytecode. A handler that takes
# a lock blocks there for good; the child then never prints "stopped".
NESTED_SIGNALS = textwrap.dedent(
    """
    import signal, sys
    from text2image.stop_signals import StopSignals

    stop = StopSignals()
    nested = 0

    def each_line(frame, event, arg):
        global nested
        if event == "line" and nested < 200:
            nested += 1
            signal.raise_signal(signal.SIGTERM)
        return each_line

    sys.settrace(lambda frame, event, arg: each_line)
    signal.raise_signal(signal.SIGTERM)
    stop.wait()
    sys.settrace(None)
    print("stopped", nested)
    """
)


def test_a_signal_inside_the_stop_handler_does_not_block_it() -> None:
    try:
        done = subprocess.run([sys.executable, "-c", NESTED_SIGNALS], capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        raise AssertionError("the stop handler blocked when a second signal arrived inside it") from None
    assert done.returncode == 0, done.stderr
    stopped, nested = done.stdout.split()
    assert stopped == "stopped" and int(nested) > 0


def test_many_signals_before_the_wait_neither_block_nor_are_lost() -> None:
    """More signals than the pipe holds (64 KiB on Linux) before anyone waits."""
    script = "import os, signal\nfrom text2image.stop_signals import StopSignals\nstop = StopSignals()\n"
    script += "for _ in range(70_000): signal.raise_signal(signal.SIGINT)\nstop.wait()\nprint('stopped')\n"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout.strip()) == (0, "stopped"), done.stderr
