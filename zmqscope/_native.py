"""Real OS threads, locks and sleeps for zmqscope's own work, even under gevent or eventlet.

gevent's and eventlet's monkey-patching turn ``threading``'s threads into
greenlets and its locks, events and ``time.sleep`` into cooperative ones
that only make progress when the application's hub runs. zmqscope's server,
``term()`` watchdog and traffic clock must keep running while the
application's one OS thread is blocked inside libzmq (a hung ``term()``), so
they are real threads waiting on real locks. Both libraries keep the
originals (``gevent.monkey.get_original``, ``eventlet.patcher.original``);
without either loaded, everything here is the standard library's own object.

The threads started here are not ``threading.Thread`` objects: they never
appear in ``threading.enumerate()``, so an application (or gevent, which
only re-owns the import locks when it sees a single thread) finds the
threads it made itself and nothing else. Their code must therefore never
call ``threading.current_thread()``, which would register a stand-in.
"""

from __future__ import annotations

import _thread
import contextlib
import importlib
import os
import sys
from collections.abc import Callable, Iterator
from typing import Any

# threading.TIMEOUT_MAX without importing threading's patched view of it.
_TIMEOUT_MAX = _thread.TIMEOUT_MAX


def original(module: str, name: str) -> Any:
    """``module.name`` as it was before gevent or eventlet patched it."""
    monkey = sys.modules.get("gevent.monkey")
    if monkey is not None:
        return monkey.get_original(module, name)
    patcher = sys.modules.get("eventlet.patcher")
    if patcher is not None:
        return getattr(patcher.original(module), name)
    return getattr(sys.modules.get(module) or __import__(module), name)


def green_threads() -> bool:
    """True when gevent or eventlet has turned ``threading``'s threads into greenlets."""
    monkey = sys.modules.get("gevent.monkey")
    if monkey is not None and monkey.is_module_patched("threading"):
        return True
    patcher = sys.modules.get("eventlet.patcher")
    return patcher is not None and bool(patcher.is_monkey_patched("thread"))


def allocate_lock() -> Any:
    """A real lock (``_thread.allocate_lock``)."""
    return original("_thread", "allocate_lock")()


def rlock() -> Any:
    """A real reentrant lock, owned by an OS thread."""
    return original("_thread", "RLock")()


def get_ident() -> int:
    """The calling OS thread's ident (greenlets of one thread share it)."""
    ident: int = original("_thread", "get_ident")()
    return ident


def sleep(seconds: float) -> None:
    """Block the calling OS thread for ``seconds``."""
    original("time", "sleep")(seconds)


class Wakeup:
    """A flag one thread waits for and others raise: a real-lock Condition for one waiter.

    ``set()`` before ``wait()`` is remembered; ``wait()`` lowers it again.
    """

    def __init__(self) -> None:
        self._lock = allocate_lock()
        self._lock.acquire()  # held: not raised

    def set(self) -> None:
        with contextlib.suppress(RuntimeError):  # raised already, and not yet seen
            self._lock.release()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until raised or ``timeout`` seconds passed; True when raised."""
        if timeout is None:
            return bool(self._lock.acquire())
        return bool(self._lock.acquire(True, min(max(timeout, 0.0), _TIMEOUT_MAX)))


class Thread:
    """A daemon OS thread running ``target``, invisible to ``threading``.

    ``prepare`` runs first, on the new thread, while a fork waits
    (:func:`fork_waits`): it imports whatever the thread's work needs, so
    that no import of zmqscope's threads is ever under way when the
    application forks. An exception from ``prepare`` or ``target`` is counted
    in ``failures`` and dropped: a thread of zmqscope's never prints into the
    application's stderr. ``target`` runs even when ``prepare`` failed (an
    application that ran out of file descriptors while the thread was
    importing): what it lacks, it imports when it needs it, or fails there.
    """

    def __init__(
        self, target: Callable[[], None], name: str, prepare: Callable[[], None] | None = None
    ) -> None:
        self.name = name
        self.ident: int | None = None
        self.failures = 0
        self._target = target
        self._prepare = prepare
        self._done: Any = None
        self._pid = 0

    def start(self) -> Thread:
        self._done = allocate_lock()
        self._done.acquire()
        self._pid = os.getpid()
        try:
            original("_thread", "start_new_thread")(self._bootstrap, ())
        except BaseException:
            self._done.release()
            raise
        return self

    def _bootstrap(self) -> None:
        self.ident = get_ident()
        _running[self.ident] = self.name
        try:
            if self._prepare is not None:
                try:
                    with fork_waits():
                        self._prepare()
                except Exception:
                    self.failures += 1
            self._target()
        except BaseException:
            self.failures += 1
        finally:
            _running.pop(self.ident, None)
            self._done.release()

    def is_alive(self) -> bool:
        # A forked child has none of its parent's threads.
        return self._done is not None and self._pid == os.getpid() and self._done.locked()

    def join(self, timeout: float | None = None) -> None:
        if not self.is_alive() or self.ident == get_ident():
            return
        if timeout is None:
            acquired = self._done.acquire()
        else:
            acquired = self._done.acquire(True, min(max(timeout, 0.0), _TIMEOUT_MAX))
        if acquired:
            self._done.release()


# ident -> name of zmqscope's own running threads (for thread listings).
_running: dict[int, str] = {}


def own_thread_names() -> dict[int, str]:
    """zmqscope's own running threads, by OS ident."""
    return dict(_running)


# -- forks wait for zmqscope's imports -------------------------------------------
#
# A thread importing a module holds that module's import lock until the
# import is done. A fork meanwhile copies the lock, held, into a child where
# that thread does not exist: the child's own import of the module (its exit
# report's, say) waits forever (measured: a fork during the server's first
# report answer hung most such children). So zmqscope imports what it loads
# late (its server, its reports) holding this lock, on its own threads when
# they start and in the application's thread alike, and a fork waits for it
# (at most _FORK_WAIT seconds: a fork is never held up for good). Reentrant:
# a guarded import may lead to another.

_FORK_WAIT = 10.0
_imports = rlock()
_held_for_fork = False


@contextlib.contextmanager
def fork_waits() -> Iterator[None]:
    """A section (imports) during which the process does not fork."""
    with _imports:
        yield


def import_modules(*names: str) -> None:
    """Import ``names`` (if not yet) while forks wait (see :func:`fork_waits`)."""
    if all(name in sys.modules for name in names):
        return
    with _imports:
        for name in names:
            importlib.import_module(name)


def imports_under_way() -> bool:
    """True when the calling thread is inside :func:`fork_waits` (for tests)."""
    return bool(_imports._is_owned())


def _before_fork() -> None:
    global _held_for_fork
    _held_for_fork = bool(_imports.acquire(True, _FORK_WAIT))


def _after_fork_in_parent() -> None:
    global _held_for_fork
    if _held_for_fork:
        _held_for_fork = False
        _imports.release()


def _after_fork_in_child() -> None:
    global _imports, _held_for_fork
    _imports = rlock()
    _held_for_fork = False
    _running.clear()


os.register_at_fork(
    before=_before_fork,
    after_in_parent=_after_fork_in_parent,
    after_in_child=_after_fork_in_child,
)
