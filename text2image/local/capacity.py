"""The capacity of a local endpoint that scales to zero: the stand-in for an inference component on
an endpoint with ``MinInstanceCount`` 0 (docs: "Scale an endpoint to zero instances").

An endpoint starts warm (one copy). After ``idle`` seconds without a call its copy is gone (cold),
as the idle scale-in takes it on AWS. A call while cold is refused, and the first refused call asks
for a copy, as the ``NoCapacityInvocationFailures`` alarm's step scaling does; so does
UpdateInferenceComponentRuntimeConfig. The copy serves ``cold_start`` seconds after it was asked for
(warming meanwhile: calls are still refused). The state is worked out from the clock at each look,
so no thread keeps it and tests move a fake clock instead of sleeping.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

from text2image.paths import STATE_MACHINE

# A cold start here, unless `up --cold-start` says otherwise: long enough to see the warming state,
# far shorter than a GPU instance's (cdk.json's text2image:endpointColdStartSeconds).
DEFAULT_COLD_START = 10.0
WARM, COLD, WARMING = "warm", "cold", "warming"
# state -> (desired, current) copies, as DescribeInferenceComponent's RuntimeConfig gives them
COPIES = {WARM: (1, 1), WARMING: (1, 0), COLD: (0, 0)}


@cache
def warming_retry_interval() -> float:
    """Seconds between a job's calls to a warming endpoint: the request workflow's Retry on
    EndpointWarming, read from the ASL file that runs here and on AWS."""
    intervals = {
        float(retry["IntervalSeconds"])
        for retry in _retriers(json.loads(STATE_MACHINE.read_text(encoding="utf-8")))
        if retry["ErrorEquals"] == ["EndpointWarming"]
    }
    if len(intervals) != 1:
        raise ValueError(f"{STATE_MACHINE.name} should retry EndpointWarming at one interval, not {sorted(intervals)}")
    return intervals.pop()


def _retriers(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield from node.get("Retry", [])
        for value in node.values():
            yield from _retriers(value)
    elif isinstance(node, list):
        for value in node:
            yield from _retriers(value)


def fitted_retry_time_scale(idle: float) -> float:
    """The Retry time scale at which a job calls a warming endpoint again within half the idle
    window, so that a copy which comes is used before it goes. On AWS the window (15 min) is 60
    times the 15 s interval; locally it is seconds (`up --scale-to-zero 2`), and at the deployed
    interval every copy would go idle before the next try."""
    return min(1.0, idle / (2 * warming_retry_interval()))


def check_retry_fits_idle(idle: float, retry_time_scale: float) -> None:
    """Refuse a Retry time scale at which a copy goes idle before a job's next call could use it:
    a job started while cold would then never finish."""
    every = warming_retry_interval() * retry_time_scale
    if every >= idle:
        raise ValueError(
            f"--retry-time-scale {retry_time_scale:g} calls a warming endpoint every {every:g} s, "
            f"not within --scale-to-zero's {idle:g} s idle: a copy would go before a job used it; "
            f"give less than {idle / warming_retry_interval():.3g}, or leave it out for {fitted_retry_time_scale(idle):.3g}"
        )


@dataclass(frozen=True)
class ScaleToZero:
    idle: float  # seconds without a call before an endpoint's copy goes
    cold_start: float  # seconds from asking for a copy to its first answer
    clock: Callable[[], float] = time.monotonic

    def __post_init__(self) -> None:
        for option, value in (("--scale-to-zero", self.idle), ("--cold-start", self.cold_start)):
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{option} must be a positive number of seconds, not {value:g}")


class Capacity:
    """One endpoint's inference component. Not thread-safe: its server holds a lock around each use."""

    def __init__(self, settings: ScaleToZero) -> None:
        self.settings = settings
        self.refusals = 0  # calls refused for want of a copy (NoCapacityInvocationFailures on AWS)
        self._idle_since = settings.clock()  # the last call's end, or when the copy came
        self._ready_at: float | None = None  # when the copy asked for serves (None: none asked for)
        self._busy = 0  # calls being served: a copy at work is not idle, however long a call takes

    def state(self) -> str:
        now = self.settings.clock()
        if self._ready_at is not None:
            if now < self._ready_at:
                return WARMING
            self._idle_since, self._ready_at = self._ready_at, None  # the copy came: idle from then
        return WARM if self._busy or now - self._idle_since < self.settings.idle else COLD

    def admit(self) -> bool:
        """A call arrives: True if a copy takes it (``finish`` must follow), False if it is refused
        (and, the first time while cold, a copy is asked for)."""
        state = self.state()
        if state == WARM:
            self._busy += 1
            return True
        self.refusals += 1
        if state == COLD:
            self.ask_for_copy()
        return False

    def finish(self) -> None:
        """A call admitted has been answered: the idle time counts from now."""
        self._busy -= 1
        self._idle_since = self.settings.clock()

    def ask_for_copy(self) -> None:
        """Scale out from zero (the alarm's step scaling, or UpdateInferenceComponentRuntimeConfig
        with a copy): a copy serves ``cold_start`` seconds from now. Warm or warming: nothing changes."""
        if self.state() == COLD:
            self._ready_at = self.settings.clock() + self.settings.cold_start
