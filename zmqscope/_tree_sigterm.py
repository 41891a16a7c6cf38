"""A child of a ``zmqscope run`` tree delivers its report on SIGTERM, and still dies of it.

Only while the process leaves SIGTERM to its default action (death), and
only from its main thread (where handlers are set): an application with its
own handler keeps it, and one that sets its own later replaces ours.

A Python handler runs only when the main thread next runs Python code. A
main thread inside a long C loop (pyzmq's ``ProcessDevice``: ``zmq_proxy``
forwards messages in C and polls again) may never do so: a SIGTERM that
arrives between two polls interrupts nothing, and a process that its default
action would have killed at once would live on, its parent waiting in
``join()`` (measured: about one ``terminate()`` in six of a busy device). So
a thread of zmqscope's also hears the signal, through Python's wakeup file
descriptor (``signal.set_wakeup_fd``, when nobody else uses it): if the main
thread has not begun handling it within :data:`MAIN_THREAD_WAIT`, the thread
delivers the report and puts SIGTERM back to its default action itself
(``signal()`` of the C library: Python allows ``signal.signal`` only in the
main thread), then sends it again. Either way the process dies of SIGTERM, as
its parent expects (multiprocessing's ``exitcode`` is -15).
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable

from zmqscope import _native

# Seconds the main thread has to begin handling SIGTERM before the watcher does.
MAIN_THREAD_WAIT = 0.25
# Seconds the report may take before the process dies anyway (a lock it needs
# may be held by the interrupted main thread, which will never release it).
REPORT_WAIT = 5.0

_deliver: Callable[[], None] = lambda: None  # noqa: E731  (set by install())
_began = _native.Wakeup()  # the main thread's handler has begun
_watching: tuple[int, int, int] | None = None  # (pid, read end, write end) of the wakeup pipe


def install(deliver: Callable[[], None]) -> None:
    """Call ``deliver`` on SIGTERM, if SIGTERM is at its default (main thread only)."""
    global _deliver
    import threading

    if threading.current_thread() is not threading.main_thread():
        return
    _deliver = deliver
    with contextlib.suppress(ValueError, OSError):
        current = signal.getsignal(signal.SIGTERM)
        if current == signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _report_then_die)
        if signal.getsignal(signal.SIGTERM) is _report_then_die:  # ours, or inherited in a fork
            _watch()


def _report_then_die(number: int, frame: object) -> None:
    """The handler, in the main thread: report (on a thread of ours), then die of SIGTERM."""
    _began.set()
    _deliver_within(REPORT_WAIT)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)


def _deliver_within(seconds: float) -> None:
    worker = _native.Thread(_deliver, "zmqscope-tree-report").start()
    worker.join(seconds)


def _watch() -> None:
    """Hear SIGTERM on a thread of ours too (see the module's docstring), if the fd is free."""
    global _watching
    if _watching is not None and _watching[0] == os.getpid():
        return
    read_end, write_end = os.pipe()  # not inherited by exec'd children (O_CLOEXEC)
    os.set_blocking(write_end, False)  # as set_wakeup_fd requires
    previous = signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)
    if previous != -1:  # the application's (asyncio's): its loop wakes the main thread
        signal.set_wakeup_fd(previous)
        os.close(read_end)
        os.close(write_end)
        return
    _watching = (os.getpid(), read_end, write_end)
    pid = os.getpid()
    _native.Thread(lambda: _listen(read_end, pid), "zmqscope-sigterm").start()


def _listen(read_end: int, pid: int) -> None:
    while True:
        try:
            heard = os.read(read_end, 512)
        except OSError:
            return
        if not heard or os.getpid() != pid:
            return
        if signal.SIGTERM not in heard:
            continue  # another signal with a Python handler (SIGINT's, say)
        if signal.getsignal(signal.SIGTERM) is not _report_then_die:
            continue  # the application's own handler now: its business
        if _began.wait(MAIN_THREAD_WAIT):
            return  # the main thread handles it
        _deliver_within(REPORT_WAIT)
        _die_of_sigterm_from_a_thread()
        return


def _die_of_sigterm_from_a_thread() -> None:
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.signal.restype = ctypes.c_void_p
        libc.signal.argtypes = (ctypes.c_int, ctypes.c_void_p)
        libc.signal(int(signal.SIGTERM), None)  # SIG_DFL is 0
        os.kill(os.getpid(), signal.SIGTERM)
    except Exception:
        pass
    os.kill(os.getpid(), signal.SIGKILL)  # without ctypes: dead all the same


def _after_fork_in_child() -> None:
    # The pipe and its thread are the parent's; a child that joins the tree
    # watches with its own (the inherited wakeup fd would tell the parent).
    global _watching, _began
    _began = _native.Wakeup()
    if _watching is not None:
        _, read_end, write_end = _watching
        _watching = None
        with contextlib.suppress(ValueError, OSError):
            previous = signal.set_wakeup_fd(-1)
            if previous != write_end:  # the application's since: it keeps it
                signal.set_wakeup_fd(previous)
        for end in (read_end, write_end):
            with contextlib.suppress(OSError):
                os.close(end)


os.register_at_fork(after_in_child=_after_fork_in_child)
