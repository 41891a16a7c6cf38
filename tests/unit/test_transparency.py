"""Instrumentation changes nothing an application can observe."""

from __future__ import annotations

import gc
import inspect
import pickle
import threading
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import zmq

import zmqscope
from tests.helpers.call_site import here
from zmqscope.instrument import hooks, state

Ctx = zmq.Context[zmq.Socket[bytes]]
PATCHED: list[tuple[type, str]] = [
    (zmq.Socket, name)
    for name in (
        "__init__",
        "close",
        "bind",
        "connect",
        "unbind",
        "disconnect",
        "set",
        "setsockopt",
    )
] + [(zmq.Context, name) for name in ("__init__", "term", "destroy")]
PATCHED.append((threading.Thread, "start"))  # where each thread is started


def class_state() -> dict[tuple[type, str], tuple[bool, Any]]:
    return {(cls, name): (name in cls.__dict__, cls.__dict__.get(name)) for cls, name in PATCHED}


@pytest.fixture
def pristine() -> Iterator[dict[tuple[type, str], tuple[bool, Any]]]:
    """pyzmq's classes as they were before zmqscope touched them."""
    zmqscope.uninstall()
    before = class_state()
    yield before
    zmqscope.uninstall()
    hooks.reset_registry()


def test_uninstall_restores_pyzmq_exactly(pristine: dict[Any, Any]) -> None:
    zmqscope.install()
    assert class_state() != pristine
    zmqscope.uninstall()
    assert class_state() == pristine


def test_watch_then_uninstall_restores_pyzmq_exactly(pristine: dict[Any, Any]) -> None:
    ctx: Ctx = zmq.Context()
    zmqscope.watch(ctx)
    zmqscope.uninstall()
    assert class_state() == pristine
    ctx.term()


def test_signatures_and_docs_are_unchanged(pristine: dict[Any, Any]) -> None:
    before = {(c, n): (inspect.signature(getattr(c, n)), getattr(c, n).__doc__) for c, n in PATCHED}
    zmqscope.install()
    after = {(c, n): (inspect.signature(getattr(c, n)), getattr(c, n).__doc__) for c, n in PATCHED}
    assert after == before


def observe(ctx: Ctx) -> dict[str, Any]:
    """What an application sees from a typical sequence of lifecycle calls."""
    seen: dict[str, Any] = {}
    sock = ctx.socket(zmq.PUSH)
    seen["repr"] = repr(sock).split(" at ")[0]
    cm = sock.bind("tcp://127.0.0.1:0")
    seen["bind"] = (type(cm).__name__, cm.kind)
    seen["port"] = sock.bind_to_random_port("tcp://127.0.0.1") > 0
    seen["connect"] = type(sock.connect("inproc://nowhere")).__name__
    seen["set"] = sock.setsockopt(zmq.SNDHWM, 10)
    # What each call returns is what the application sees, None included.
    seen["linger_attr"] = (setattr(sock, "linger", 5), sock.linger)  # type: ignore[func-returns-value]  # None, as seen
    calls: dict[str, Callable[[], object]] = {
        "bad_bind": lambda: sock.bind("tcp://not an address"),
        "bad_option": lambda: sock.setsockopt(999999, 1),
        "bad_kwarg": lambda: sock.close(lingr=0),  # type: ignore[call-arg]  # misspelt on purpose
        "bad_unbind": lambda: sock.unbind("tcp://127.0.0.1:1"),
        "pickle": lambda: pickle.dumps(sock),
        "bad_socket_type": lambda: ctx.socket(12345),
    }
    for name, call in calls.items():
        try:
            call()
        except Exception as error:  # the exact type and text must not change
            seen[name] = (type(error).__name__, str(error))
    seen["close"] = sock.close(linger=0)  # type: ignore[func-returns-value]  # None, as seen
    seen["closed"] = sock.closed
    seen["close_again"] = sock.close()  # type: ignore[func-returns-value]  # None, as seen
    return seen


def test_return_values_and_exceptions_are_unchanged(pristine: dict[Any, Any]) -> None:
    ctx: Ctx = zmq.Context()
    plain = observe(ctx)
    zmqscope.install()
    instrumented = observe(ctx)
    ctx.term()
    assert instrumented == plain
    assert "bad_bind" in plain and "pickle" in plain  # the comparison covered errors


def collect_unclosed_socket_warning() -> warnings.WarningMessage:
    ctx: Ctx = zmq.Context()

    def leak() -> None:
        ctx.socket(zmq.PAIR)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        leak()
        gc.collect()
    ctx.term()
    (warning,) = [w for w in caught if issubclass(w.category, ResourceWarning)]
    return warning


def test_pyzmq_resource_warning_is_unchanged(pristine: dict[Any, Any]) -> None:
    plain = collect_unclosed_socket_warning()
    zmqscope.install()
    instrumented = collect_unclosed_socket_warning()
    assert str(instrumented.message).split(" at ")[0] == str(plain.message).split(" at ")[0]
    assert (instrumented.filename, instrumented.category) == (plain.filename, plain.category)


def test_watch_adopts_existing_sockets_and_records_new_ones(pristine: dict[Any, Any]) -> None:
    ctx: Ctx = zmq.Context()
    other: Ctx = zmq.Context()
    early = ctx.socket(zmq.SUB)
    zmqscope.watch(ctx)
    late = ctx.socket(zmq.PUB)
    late_line = here() - 1
    ignored = other.socket(zmq.PUB)
    records = zmqscope.snapshot().sockets
    assert [(r.type, r.adopted) for r in records] == [("SUB", True), ("PUB", False)]
    adopted = records[0]
    assert adopted.created.stack == () and adopted.created.thread is None
    assert adopted.linger is None  # unknown: zmqscope never asks the socket itself
    # Watch-only mode walks the stack after pyzmq's __init__ (install() walks before).
    site = records[1].created.site
    assert site is not None and (site.file, site.line) == (__file__, late_line)
    for sock in (early, late, ignored):
        sock.close()
    ctx.term()
    other.term()


def test_watch_context_instance(pristine: dict[Any, Any]) -> None:
    ctx: Ctx = zmq.Context.instance()
    try:
        sock = ctx.socket(zmq.REQ)
        zmqscope.watch(zmq.Context.instance())
        (record,) = zmqscope.snapshot().sockets
        assert (record.type, record.adopted) == ("REQ", True)
        sock.close()
    finally:
        ctx.term()
        zmq.Context._instance = None


def test_watch_rejects_what_it_cannot_watch(pristine: dict[Any, Any]) -> None:
    with pytest.raises(TypeError, match=r"zmq\.Context"):
        zmqscope.watch(object())  # type: ignore[arg-type]  # not a context, on purpose
    ctx: Ctx = zmq.Context()
    ctx.term()
    with pytest.raises(ValueError, match="terminated"):
        zmqscope.watch(ctx)


def broken(*args: Any, **kwargs: Any) -> None:
    """Stands in for a zmqscope method with a bug."""
    raise RuntimeError("zmqscope bug")


def test_a_failing_hook_never_reaches_the_application(
    pristine: dict[Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    zmqscope.install()

    # The bind is recorded raw (call_seen) or, had its entry been built, at once.
    monkeypatch.setattr(state.current.registry, "call_seen", broken)
    monkeypatch.setattr(state.current.registry, "endpoint_added", broken)
    ctx: Ctx = zmq.Context()
    sock = ctx.socket(zmq.PAIR)
    before = hooks.internal_errors()
    sock.bind("inproc://still-works")  # must not raise
    assert hooks.internal_errors() == before + 1
    sock.close()
    ctx.term()


class _Broken(dict[Any, Any]):
    """Stands in for one of the registry's lock-free tables, with a bug."""

    pop = append = broken


@pytest.mark.parametrize("table", ["raw", "journal"])
def test_a_failing_close_hook_still_closes_the_socket(
    pristine: dict[Any, Any], monkeypatch: pytest.MonkeyPatch, table: str
) -> None:
    # The close hook takes the socket's raw record out of registry.raw before
    # pyzmq's close() and appends it to the journal (registry.lazy) after.
    zmqscope.install()
    ctx: Ctx = zmq.Context()
    sock = ctx.socket(zmq.PAIR)

    reg = state.current.registry
    if table == "raw":
        monkeypatch.setattr(reg, "raw", _Broken())
    else:
        monkeypatch.setattr(reg.lazy, "items", _Broken())
    before = hooks.internal_errors()
    sock.close()  # must not raise
    assert sock.closed
    assert hooks.internal_errors() == before + 1
    ctx.term()


@pytest.mark.parametrize("method", ["term_returned", "term_called"])
def test_a_failing_term_hook_never_reaches_the_application(
    pristine: dict[Any, Any], monkeypatch: pytest.MonkeyPatch, method: str
) -> None:
    zmqscope.install()
    ctx: Ctx = zmq.Context()

    monkeypatch.setattr(state.current.registry, method, broken)
    before = hooks.internal_errors()
    ctx.term()  # must not raise
    assert ctx.closed
    assert hooks.internal_errors() == before + 1
