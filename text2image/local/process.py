"""`text2image up` in a child process, for tests and benchmarks: started on free ports,
ready when it prints its banner, stopped with Ctrl-C (SIGINT) as a user would."""

from __future__ import annotations

import queue
import re
import signal
import subprocess
import sys
import threading
import time
from types import TracebackType

READY_WITHIN = 30.0


class LocalStackProcess:
    def __init__(self, *args: str, ready_within: float = READY_WITHIN) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "text2image.cli", "up", "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()
        try:
            self.banner = self.wait_for("Ctrl-C stops it", ready_within)
        except AssertionError:
            self.process.kill()
            raise
        match = re.search(r"web page \+ API\s+(http://[\d.]+:\d+)/", self.banner)
        assert match, self.banner
        self.url = match.group(1)

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put("")  # end of output

    def wait_for(self, marker: str, timeout: float) -> str:
        """Output up to and including the first line containing ``marker``."""
        seen: list[str] = []
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no {marker!r} within {timeout} s; output so far:\n{''.join(seen)}") from None
            if line == "":
                raise AssertionError(f"the process ended before {marker!r}:\n{''.join(seen)}")
            seen.append(line)
            if marker in line:
                return "".join(seen)

    def stop(self, timeout: float = 60) -> int:
        """Ctrl-C, then wait for the exit: about 2.5 s here, but a machine busy with other test
        runs once took past 20 s."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise

    def __enter__(self) -> LocalStackProcess:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        if self.process.poll() is None:
            self.stop()
