"""Where zmqscope's own reports go: the standard error the process started with.

The exit report and a blocked ``term()``'s culprits are for the person who
started the process, wherever the application sends its own output by
then: ipykernel points fd 2 at a pipe it forwards to the notebook (and the
text is lost when the kernel exits) and sets ``FORCE_COLOR``. So
``zmqscope run`` and ``ZMQSCOPE=1`` keep a duplicate of fd 2 when they set
up (:func:`keep`), and reports are written there, in colour only when it is
a terminal. Without a kept stream (the API, the pytest plugin) reports go
to ``sys.stderr`` as any library's would.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from rich.console import Console

_kept: TextIO | None = None


def keep() -> None:
    """Remember fd 2 as it is now (a duplicate, not inherited by exec'd programs)."""
    global _kept
    if _kept is not None:
        return
    try:
        descriptor = os.dup(2)
    except OSError:
        return  # no fd 2 (a daemon): sys.stderr it is
    encoding = getattr(sys.__stderr__, "encoding", None) or "utf-8"
    _kept = open(descriptor, "w", encoding=encoding, errors="backslashreplace")  # noqa: SIM115


def stream() -> TextIO:
    """The kept stderr, else the current ``sys.stderr``; what was written before is flushed."""
    if _kept is None:
        return sys.stderr
    for other in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            if other is not None:
                other.flush()  # what the application wrote comes first
    return _kept


def console() -> Console:
    """A rich console on :func:`stream`: on a kept stderr, colours only if it is a terminal."""
    from rich.console import Console

    if _kept is None:
        return Console(stderr=True, highlight=False)
    out = stream()
    try:
        terminal = out.isatty()
    except ValueError:  # closed
        terminal = False
    # Explicit: rich would otherwise follow FORCE_COLOR (set by ipykernel) or
    # render into the notebook, where nobody reads it after the kernel exits.
    return Console(file=out, force_terminal=terminal, force_jupyter=False, highlight=False)
