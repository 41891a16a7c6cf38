"""An older import path, kept working: the home is
:mod:`zmqscope.instrument.hooks`.

Most code wants :func:`zmqscope.install`, :func:`zmqscope.uninstall` and
:func:`zmqscope.watch`, which also start the term() watchdog.
"""

from zmqscope._own_context import private_context, term_private_context
from zmqscope.instrument.hooks import (
    DEFAULT_STACK_DEPTH,
    TermObserver,
    fds_exhausted,
    forget_first_context,
    ignore_file,
    install,
    internal_errors,
    is_installed,
    note_handed_to,
    note_thread_by_object,
    process_info,
    registry,
    reset_registry,
    set_term_observer,
    stop_walks_at,
    uninstall,
    watch,
    when_first_context,
)
from zmqscope.instrument.state import (
    call_site,
    captured_site,
    context_recorded,
    max_sockets_of,
    note_thread,
)

__all__ = [
    "DEFAULT_STACK_DEPTH",
    "TermObserver",
    "call_site",
    "captured_site",
    "context_recorded",
    "fds_exhausted",
    "forget_first_context",
    "ignore_file",
    "install",
    "internal_errors",
    "is_installed",
    "max_sockets_of",
    "note_handed_to",
    "note_thread",
    "note_thread_by_object",
    "private_context",
    "process_info",
    "registry",
    "reset_registry",
    "set_term_observer",
    "stop_walks_at",
    "term_private_context",
    "uninstall",
    "watch",
    "when_first_context",
]
