"""Turn a ``term()`` that hangs inside a test into a failure of that test.

zmqscope's watchdog (:mod:`zmqscope.instrument.watchdog`) tells us when a ``term()`` or
``destroy()`` outlives the grace period and which sockets it waits for. Then
the blocked call has to give control back, and there is only one way in:

- libzmq's ``zmq_ctx_term()`` returns ``EINTR`` when a signal interrupts its
  wait, and pyzmq's ``Context.term()`` calls ``PyErr_CheckSignals()`` before
  looking at the result. An exception raised by a Python signal handler
  therefore propagates out of ``term()``; a handler that returns normally
  lets ``term()`` return (pyzmq ignores ``EINTR`` there). Measured on pyzmq
  27 / libzmq 4.3.5, for the main thread and, with ``pthread_kill``, for
  any other thread.
- ``PyThreadState_SetAsyncExc`` does not work: it is delivered only when the
  thread runs Python bytecode again, and a thread blocked in libzmq never does.

So the plugin owns a handler for ``SIGURG`` (ignored by default and, unlike
``SIGWINCH`` or ``SIGALRM``, sent by neither terminals nor pytest-timeout),
and sends it to the blocked thread. In the main thread the handler raises
:class:`pytest.fail.Exception` with the culprit report, so the test fails
there and then; in any other thread ``term()`` simply returns and the test
fails at its teardown. Python runs signal handlers only in the main thread
and only between bytecodes, which is why the handler checks that it landed
in pyzmq's ``term()`` before raising. Either way the context is left
half-terminated (libzmq keeps the culprit sockets): the price of going on.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from types import FrameType
from typing import Any

import pytest
import zmq

from zmqscope import _api, _native
from zmqscope.instrument import hooks
from zmqscope.instrument.watchdog import BlockedTerm, TermDone
from zmqscope.model import ContextState

_SIGNAL = getattr(signal, "SIGURG", None)
_ZMQ_DIR = os.path.dirname(os.path.abspath(zmq.__file__ or "")) + os.sep

# (event, thread ident that called term()) -> the failure text, or None when
# the term() is not inside a test (no one to fail: just let it return).
OnBlocked = Callable[[BlockedTerm, int | None], str | None]


class TermInterrupter:
    """Listens to the watchdog; interrupts blocked ``term()`` calls with a signal.

    ``on_blocked`` gives the failure text; ``on_failing`` is told, in the
    main thread, just before the handler fails the test with it.
    """

    def __init__(self, on_blocked: OnBlocked, on_failing: Callable[[], None]) -> None:
        self._on_blocked = on_blocked
        self._on_failing = on_failing
        self._lock = _native.allocate_lock()  # real: the watchdog's thread takes it
        self._armed: dict[str, str] = {}  # context id -> failure text for the main thread
        self._sent = 0  # signals we sent whose handler has not run yet
        self._previous: Any = None
        self._installed = False
        self._main_ident: int | None = None

    def start(self) -> None:
        """Install the signal handler (main thread only) and listen to the watchdog."""
        _api.add_shutdown_listener(self._heard)
        if _SIGNAL is None or not hasattr(signal, "pthread_kill"):
            return  # Windows: a hung term() is reported, the run still hangs
        try:
            self._previous = signal.signal(_SIGNAL, self._handle)
        except ValueError:
            return  # not the main thread: pytest embedded somewhere unusual
        # The OS ident, as the hooks record it (under gevent threading's
        # main thread carries its main greenlet's ident instead).
        self._main_ident = _native.get_ident()
        self._installed = True

    def stop(self) -> None:
        _api.watchdog().remove_listener(self._heard)
        if self._installed and _SIGNAL is not None:
            # None: the previous handler was not set from Python; restore the default.
            previous = signal.SIG_DFL if self._previous is None else self._previous
            signal.signal(_SIGNAL, previous)
            self._installed = False

    # -- the watchdog's thread ---------------------------------------------

    def _heard(self, event: BlockedTerm | TermDone) -> None:
        if not isinstance(event, BlockedTerm):
            return
        thread = _terming_thread(event.context)
        text = self._on_blocked(event, thread)
        if not self._installed or thread is None or _SIGNAL is None:
            return
        with self._lock:
            if text is not None and thread == self._main_ident:
                self._armed[event.context] = text
            self._sent += 1
        try:
            signal.pthread_kill(thread, _SIGNAL)
        except (OSError, ValueError):  # the thread is gone: nothing to interrupt
            with self._lock:
                self._sent -= 1
                self._armed.pop(event.context, None)

    # -- the main thread ---------------------------------------------------

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        with self._lock:
            ours = self._sent > 0
            if ours:
                self._sent -= 1
            armed = list(self._armed.items())
        if not ours:
            if callable(self._previous):
                self._previous(signum, frame)
            return
        if not _in_pyzmq_term(frame):
            return
        for context_id, text in armed:
            if _still_terminating(context_id):
                with self._lock:
                    self._armed.pop(context_id, None)
                self._on_failing()
                __tracebackhide__ = True
                pytest.fail(text, pytrace=False)


def _terming_thread(context_id: str) -> int | None:
    for context in hooks.registry().contexts():
        if context.id == context_id and context.term_called and context.term_called.thread:
            return context.term_called.thread[0]
    return None


def _still_terminating(context_id: str) -> bool:
    return any(
        c.id == context_id and c.state is ContextState.TERMINATING
        for c in hooks.registry().contexts()
    )


def _in_pyzmq_term(frame: FrameType | None) -> bool:
    """True when the handler interrupts pyzmq's ``Context.term()`` (what it was sent for)."""
    if frame is None:
        return False
    code = frame.f_code
    return code.co_name == "term" and os.path.abspath(code.co_filename).startswith(_ZMQ_DIR)
