"""Where the calling test is, to assert the call sites zmqscope records."""

from __future__ import annotations

import sys


def here() -> int:
    """The line number of the caller (to assert recorded call sites)."""
    return sys._getframe(1).f_lineno
