"""zmqscope's own threads and how the hooks name their callers, without gevent.

(With gevent and eventlet: tests/integration/test_gevent.py.)
"""

from __future__ import annotations

import _thread
import os
import threading

import pytest

from zmqscope import _native
from zmqscope.instrument import threads as _threads

pytestmark = pytest.mark.timeout(30)


def test_a_native_thread_runs_unseen_by_threading() -> None:
    release = _native.Wakeup()
    seen: list[list[str]] = []

    def work() -> None:
        seen.append([t.name for t in threading.enumerate()])
        release.wait(10)

    before = threading.enumerate()
    thread = _native.Thread(work, "zmqscope-test").start()
    assert thread.is_alive()
    release.set()
    thread.join(10)
    assert not thread.is_alive()
    assert threading.enumerate() == before
    assert seen == [[t.name for t in before]]


def test_a_native_thread_swallows_its_exception(capfd: pytest.CaptureFixture[str]) -> None:
    def fail() -> None:
        raise RuntimeError("zmqscope's own failure")

    thread = _native.Thread(fail, "zmqscope-test").start()
    thread.join(10)
    assert thread.failures == 1
    assert capfd.readouterr().err == ""  # no "Exception ignored in thread started by"


def test_a_native_thread_does_its_work_when_its_preparation_failed() -> None:
    """An import that failed (an app out of descriptors) must not cost the server its thread."""
    done: list[str] = []

    def prepare() -> None:
        raise OSError(24, "Too many open files")

    thread = _native.Thread(lambda: done.append("served"), "zmqscope-test", prepare).start()
    thread.join(10)
    assert done == ["served"]
    assert thread.failures == 1


def test_a_wakeup_raised_before_the_wait_is_not_lost() -> None:
    wakeup = _native.Wakeup()
    wakeup.set()
    wakeup.set()  # raised twice: still one wake-up
    assert wakeup.wait(10) is True
    assert wakeup.wait(0.01) is False


def test_a_native_thread_is_not_alive_in_a_forked_child() -> None:
    release = _native.Wakeup()

    def wait() -> None:
        release.wait(10)

    thread = _native.Thread(wait, "zmqscope-test").start()
    try:
        child = os.fork()
        if child == 0:
            os._exit(0 if not thread.is_alive() else 1)
        _, status = os.waitpid(child, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert thread.is_alive()
    finally:
        release.set()
        thread.join(10)


def test_a_thread_threading_does_not_know_is_named_without_a_dummy_thread() -> None:
    """``threading.current_thread()`` would register a Dummy-N the app never made."""
    result: list[tuple[int, str]] = []
    done = _native.Wakeup()

    def raw() -> None:
        result.append(_threads.current_thread_ref())
        done.set()

    active_before = dict(threading._active)  # type: ignore[attr-defined]  # private, unstubbed
    _thread.start_new_thread(raw, ())
    assert done.wait(10)
    ((ident, name),) = result
    assert name == f"thread {ident}"
    assert dict(threading._active) == active_before  # type: ignore[attr-defined]  # private, unstubbed


def test_a_threading_thread_is_named_by_threading() -> None:
    result: list[tuple[int, str]] = []
    worker = threading.Thread(
        target=lambda: result.append(_threads.current_thread_ref()), name="worker-9"
    )
    worker.start()
    worker.join(10)
    assert result == [(worker.ident, "worker-9")]
