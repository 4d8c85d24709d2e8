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

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

# A cold start here, unless `up --cold-start` says otherwise: long enough to see the warming state,
# far shorter than a GPU instance's (cdk.json's text2image:endpointColdStartSeconds).
DEFAULT_COLD_START = 10.0
WARM, COLD, WARMING = "warm", "cold", "warming"
# state -> (desired, current) copies, as DescribeInferenceComponent's RuntimeConfig gives them
COPIES = {WARM: (1, 1), WARMING: (1, 0), COLD: (0, 0)}


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
