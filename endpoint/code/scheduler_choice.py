"""Schedulers by name: a diffusers class name (``EulerDiscreteScheduler``) or a short alias."""

from __future__ import annotations

from typing import Any

import diffusers
from diffusers import SchedulerMixin

ALIASES = {
    "ddim": "DDIMScheduler",
    "pndm": "PNDMScheduler",
    "lms": "LMSDiscreteScheduler",
    "euler": "EulerDiscreteScheduler",
    "euler_a": "EulerAncestralDiscreteScheduler",
    "heun": "HeunDiscreteScheduler",
    "dpm++": "DPMSolverMultistepScheduler",
    "unipc": "UniPCMultistepScheduler",
    "lcm": "LCMScheduler",
}


def scheduler_class(name: str) -> Any:
    """The scheduler class for ``name``; ValueError listing the choices when there is none."""
    found = getattr(diffusers, ALIASES.get(name.lower(), name), None)
    if not (isinstance(found, type) and issubclass(found, SchedulerMixin)):
        raise ValueError(f"unknown scheduler {name!r}: use a diffusers scheduler class name or one of {', '.join(ALIASES)}")
    return found
