"""The numbers a user can give zmqscope, and the bounds they are held to.

One home for each rule, used by every way in (``zmqscope run``'s options,
``ZMQSCOPE_*`` variables, ``install()``, the pytest plugin, ``attach``): a
value outside its bounds is refused with one line naming the setting, never
clamped in silence and never left to fail later in a thread of zmqscope's
(``float("inf")`` seconds made the ``term()`` watchdog's wait overflow, and
``nan`` compared false with every deadline, so a hang was never reported).

- grace (seconds a ``term()`` may block before its culprits are reported):
  0 to 86,400 (a day);
- stack depth (frames kept per call site): 1 to 1,000;
- refresh interval of ``attach`` (seconds): 0.1 to 3,600;
- seconds ``topology`` waits for each process's answer: 0.1 to 60.
"""

from __future__ import annotations

import math

GRACE_MAX = 86_400.0
STACK_DEPTH_MAX = 1_000
INTERVAL_MIN = 0.1
INTERVAL_MAX = 3_600.0
ANSWER_TIMEOUT_MIN = 0.1
ANSWER_TIMEOUT_MAX = 60.0
# The largest pid any supported system hands out fits in a C int (pid_t).
PID_MAX = 2**31 - 1


def grace(value: object, name: str = "grace") -> float:
    """Seconds from 0 to a day; ``ValueError`` naming ``name`` otherwise."""
    seconds = _number(value, name, "a number of seconds")
    if not 0 <= seconds <= GRACE_MAX:  # also false for nan
        raise ValueError(f"{name} must be from 0 to {GRACE_MAX:,.0f} seconds, not {value}")
    return seconds


def stack_depth(value: object, name: str = "stack_depth") -> int:
    """A whole number of frames from 1 to 1,000; ``ValueError`` naming ``name`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"{name} must be a whole number of frames, not {value!r}")
    try:
        depth = int(value)
    except ValueError:
        raise ValueError(f"{name} must be a whole number of frames, not {value!r}") from None
    if not 1 <= depth <= STACK_DEPTH_MAX:
        raise ValueError(f"{name} must be from 1 to {STACK_DEPTH_MAX:,} frames, not {value}")
    return depth


def interval(value: object, name: str = "interval") -> float:
    """A refresh interval from 0.1 s to an hour; ``ValueError`` naming ``name`` otherwise."""
    seconds = _number(value, name, "a number of seconds")
    if not INTERVAL_MIN <= seconds <= INTERVAL_MAX:
        raise ValueError(
            f"{name} must be from {INTERVAL_MIN:g} to {INTERVAL_MAX:,.0f} seconds, not {value}"
        )
    return seconds


def answer_timeout(value: object, name: str = "timeout") -> float:
    """Seconds to wait for an answer, 0.1 to 60; ``ValueError`` naming ``name`` otherwise."""
    seconds = _number(value, name, "a number of seconds")
    if not ANSWER_TIMEOUT_MIN <= seconds <= ANSWER_TIMEOUT_MAX:
        raise ValueError(
            f"{name} must be from {ANSWER_TIMEOUT_MIN:g} to {ANSWER_TIMEOUT_MAX:g} seconds, "
            f"not {value}"
        )
    return seconds


def _number(value: object, name: str, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"{name} must be {what}, not {value!r}")
    try:
        number = float(value)
    except (ValueError, OverflowError):
        raise ValueError(f"{name} must be {what}, not {value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"{name} must be {what}, not {value}")
    return number
