"""zmqscope's own ZeroMQ contexts: never recorded, nor their sockets.

The server and the client talk over a context of their own. The hooks
(:mod:`zmqscope.instrument.hooks`) ask :func:`is_own` and :func:`making_one`
to leave it alone; this module is low enough that the client and the TUI use
it without loading the instrumentation.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import zmq

# Handles of zmqscope's own live contexts (changed in place, never rebound).
own_handles: set[int] = set()
_making = threading.local()


def private_context() -> zmq.Context[Any]:
    """A context zmqscope uses itself: never recorded, its sockets neither."""
    _making.on = True
    try:
        ctx: zmq.Context[Any] = zmq.Context()
    finally:
        _making.on = False
    own_handles.add(ctx.underlying)
    return ctx


def term_private_context(ctx: zmq.Context[Any]) -> None:
    """Terminate a :func:`private_context` and stop ignoring its handle.

    libzmq hands a freed context's address to the next context made: an
    application context there must be recorded, not ignored as zmqscope's.
    """
    handle = ctx.underlying
    ctx.term()
    own_handles.discard(handle)


def is_own(handle: int) -> bool:
    """Whether the context at ``handle`` is one of zmqscope's own."""
    return handle in own_handles


def making_one() -> bool:
    """Whether this thread is inside :func:`private_context` (its context's __init__)."""
    return getattr(_making, "on", False)


def _forget_in_child() -> None:
    # The parent's own contexts are not this process's (as the hooks' state,
    # which held these handles before, started over in a child).
    own_handles.clear()


os.register_at_fork(after_in_child=_forget_in_child)
