"""Class-level hooks on pyzmq: every socket's life, whatever made it.

Only lifecycle methods are wrapped (``__init__``, ``close``, ``bind``,
``connect``, ``unbind``, ``disconnect``, option setters, ``term`` and
``destroy``); ``send``/``recv`` are touched only in the opt-in traffic mode
(:mod:`zmqscope._traffic`), so by default the message path costs nothing.
Wrappers call the original first and record afterwards, so return values and
exceptions are pyzmq's own; a failure inside zmqscope is counted and
swallowed, never raised into the application.
"""

from __future__ import annotations

import functools
import os
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType
from typing import Any, Protocol, TypeVar

import zmq

from zmqscope import _traffic
from zmqscope._frames import FrameFilter, RawFrame, current_thread_ref
from zmqscope.model import EndpointOp, ProcessInfo, UsageWarning
from zmqscope.registry import ContextEntry, Registry, SocketEntry, make_site

DEFAULT_STACK_DEPTH = 12
# A close is explained by where it was called from; a short stack keeps the
# close path cheap (socket()+close() is measured in benchmarks/).
CLOSE_STACK_DEPTH = 3

F = TypeVar("F", bound=Callable[..., Any])

# A close() from pyzmq's finalizer means the application never closed it.
_SOCKET_DEL_CODE = zmq.Socket.__del__.__code__
# pyzmq's code objects that tell where a LINGER value came from.
_LINGER_SOURCES = {
    zmq.Context.socket.__code__: "context",  # ctx.sockopts applied to a new socket
    zmq.Context.destroy.__code__: "destroy",  # ctx.destroy(linger=...)
}
_LINGER = int(zmq.LINGER)
_SUBSCRIBE, _UNSUBSCRIBE = int(zmq.SUBSCRIBE), int(zmq.UNSUBSCRIBE)
_MAX_OPTION_TEXT = 80


class TermObserver(Protocol):
    """Told when a ``term()``/``destroy()`` starts and ends (the shutdown watchdog)."""

    def term_started(self, entry: ContextEntry) -> object: ...

    def term_finished(self, token: object) -> None: ...


@dataclass
class _State:
    """What is installed. One per process (reset in a forked child)."""

    registry: Registry = field(default_factory=Registry)
    installed: bool = False  # record every context
    watched: set[int] = field(default_factory=set)  # context handles (watch mode)
    ignored: set[int] = field(default_factory=set)  # zmqscope's own contexts
    stack_depth: int = DEFAULT_STACK_DEPTH
    originals: list[tuple[type, str, bool, Any]] = field(default_factory=list)
    frames: FrameFilter | None = None
    term_observer: TermObserver | None = None
    warning_listeners: list[Callable[[UsageWarning], None]] = field(default_factory=list)
    internal_errors: int = 0
    lock: threading.RLock = field(default_factory=threading.RLock)

    @property
    def patched(self) -> bool:
        return bool(self.originals)


_state = _State()


def registry() -> Registry:
    """The process's registry (shared by install and watch)."""
    return _state.registry


def internal_errors() -> int:
    """How many times a hook failed inside zmqscope (and was swallowed)."""
    return _state.internal_errors


def _guarded(record: Callable[..., None]) -> Callable[..., None]:
    """Run a recording step; zmqscope's own failure never reaches the app."""

    @functools.wraps(record)
    def run(*args: Any) -> None:
        try:
            record(*args)
        except Exception:
            _state.internal_errors += 1

    return run


def _capture() -> tuple[RawFrame, ...]:
    frames = _state.frames
    return frames.capture(_state.stack_depth) if frames is not None else ()


def call_site() -> RawFrame | None:
    """The application frame that made the current call into pyzmq."""
    frames = _state.frames
    if frames is None:
        return None
    stack = frames.capture(1)
    return stack[0] if stack else None


def _text(addr: Any) -> str:
    return addr.decode("utf-8", "replace") if isinstance(addr, bytes) else str(addr)


def _context_entry(ctx: Any) -> ContextEntry | None:
    """The record of ``ctx`` if zmqscope is looking at it, else None.

    A context made before zmqscope was installed is adopted on first sight.
    """
    if ctx is None:
        return None
    handle = ctx.underlying
    if not _looking_at(handle):
        return None
    reg = _state.registry
    return reg.context(handle) or reg.context_created(handle, None, adopted=True)


def _looking_at(context_handle: int) -> bool:
    if context_handle in _state.ignored:
        return False
    return _state.installed or context_handle in _state.watched


def _entry_of(sock: Any) -> SocketEntry | None:
    try:
        handle = sock.underlying
    except Exception:
        return None
    return _state.registry.open_socket(handle)


def _thread_alive(ident: int) -> bool:
    return any(thread.ident == ident for thread in threading.enumerate())


def note_thread(
    entry: SocketEntry, site: RawFrame | None, thread: tuple[int, str] | None = None
) -> None:
    """Record which thread called into ``entry`` (and warn if it is shared)."""
    thread = thread or current_thread_ref()
    if entry.owner == thread:
        entry.owner_site = site  # the usual case: the owner again, nothing to check
        return
    warning = _state.registry.thread_used(entry, thread, site, _thread_alive)
    if warning is not None:
        for listener in list(_state.warning_listeners):
            listener(warning)


# -- what each wrapper records ------------------------------------------------


def _record_socket(sock: Any) -> None:
    reg = _state.registry
    handle = sock.underlying
    existing = reg.open_socket(handle)
    if existing is not None:
        # A shadow (Socket.shadow, asyncio's internal shadow): same socket.
        _traffic.follow(sock, existing)
        return
    ctx = getattr(sock, "context", None)
    context = _context_entry(ctx)
    if context is None and not (ctx is None and _state.installed):
        return  # a context nobody asked zmqscope to watch
    site = make_site(current_thread_ref(), _capture())
    entry = reg.socket_created(sock, handle, context, sock._type_name, site, adopted=False)
    _traffic.follow(sock, entry)


def _record_close(entry: SocketEntry, linger: Any, collected: bool) -> None:
    if linger is not None:
        entry.linger, entry.linger_source = int(linger), "close"
    thread = current_thread_ref()
    stack: tuple[RawFrame, ...] = ()
    frames = _state.frames
    if not collected and frames is not None:
        stack = frames.capture(min(CLOSE_STACK_DEPTH, _state.stack_depth))
        note_thread(entry, stack[0] if stack else None, thread)
    _state.registry.socket_closed(entry, make_site(thread, stack), collected)


def _called_from_finalizer(frame: FrameType | None) -> bool:
    """True when pyzmq's ``Socket.__del__`` is closing a socket being collected.

    Looks a few frames up: ``_AsyncSocket.close`` sits between ``__del__``
    and this ``close`` for asyncio sockets.
    """
    for _ in range(3):
        if frame is None:
            return False
        if frame.f_code is _SOCKET_DEL_CODE:
            return True
        frame = frame.f_back
    return False


@_guarded
def _record_endpoint(sock: Any, op: EndpointOp, addr: Any, result: Any) -> None:
    entry = _entry_of(sock)
    if entry is None:
        return
    requested = _text(addr)
    # pyzmq's bind() returns a context manager holding LAST_ENDPOINT, which
    # is the resolved address of a wildcard bind; no extra libzmq call.
    url = _text(getattr(result, "addr", None) or requested)
    site = call_site()
    note_thread(entry, site)
    _state.registry.endpoint_added(entry, op, url, requested if requested != url else None, site)


@_guarded
def _record_endpoint_removed(sock: Any, op: EndpointOp, addr: Any) -> None:
    entry = _entry_of(sock)
    if entry is not None:
        note_thread(entry, call_site())
        _state.registry.endpoint_removed(entry, op, _text(addr))


@_guarded
def _record_option(sock: Any, option: Any, value: Any) -> None:
    entry = _entry_of(sock)
    if entry is None:
        return
    option = int(option)
    note_thread(entry, call_site())
    reg = _state.registry
    if option == _LINGER:
        # Frames: this function, its guard, the set() wrapper, its caller.
        caller = sys._getframe(3).f_code
        reg.linger_set(entry, int(value), _LINGER_SOURCES.get(caller, "setsockopt"))
        return
    if option in (_SUBSCRIBE, _UNSUBSCRIBE):
        reg.option_set(entry, "SUBSCRIBE", _subscriptions(entry, option, _text(value)))
        return
    try:
        name = zmq.SocketOption(option).name
    except ValueError:
        name = str(option)
    reg.option_set(entry, name, _text(value)[:_MAX_OPTION_TEXT])


def _subscriptions(entry: SocketEntry, option: int, topic: str) -> str:
    """The SUB socket's current topics, as a short comma-separated list."""
    current = entry.options.get("SUBSCRIBE", "") if entry.options else ""
    topics = [t for t in current.split(",") if t]
    quoted = repr(topic[:_MAX_OPTION_TEXT])
    if option == _SUBSCRIBE:
        topics.append(quoted)
    elif quoted in topics:
        topics.remove(quoted)
    return ",".join(topics[-16:])


_quiet = threading.local()


def private_context() -> zmq.Context[Any]:
    """A context zmqscope uses itself: never recorded, its sockets neither."""
    _quiet.on = True
    try:
        ctx: zmq.Context[Any] = zmq.Context()
    finally:
        _quiet.on = False
    _state.ignored.add(ctx.underlying)
    return ctx


def term_private_context(ctx: zmq.Context[Any]) -> None:
    """Terminate a :func:`private_context` and stop ignoring its handle.

    libzmq hands a freed context's address to the next context made: an
    application context there must be recorded, not ignored as zmqscope's.
    """
    handle = ctx.underlying
    ctx.term()
    _state.ignored.discard(handle)


@_guarded
def _record_context(ctx: Any) -> None:
    if getattr(_quiet, "on", False):
        return
    if _state.installed and ctx.underlying not in _state.ignored:
        site = make_site(current_thread_ref(), _capture())
        _state.registry.context_created(ctx.underlying, site, adopted=False)


# -- the wrappers ----------------------------------------------------------------


def _wrap_socket_init(original: F) -> F:
    @functools.wraps(original)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        try:  # inline rather than @_guarded: socket creation is the busiest hook
            _record_socket(self)
        except Exception:
            _state.internal_errors += 1

    return __init__  # type: ignore[return-value]


def _wrap_close(original: F) -> F:
    @functools.wraps(original)
    def close(self: Any, *args: Any, **kwargs: Any) -> Any:
        entry = None if self.closed else _entry_of(self)
        result = original(self, *args, **kwargs)
        if entry is not None:
            try:
                linger = args[0] if args else kwargs.get("linger")
                _record_close(entry, linger, _called_from_finalizer(sys._getframe(1)))
            except Exception:
                _state.internal_errors += 1
        return result

    return close  # type: ignore[return-value]


def _wrap_endpoint(original: F, op: EndpointOp) -> F:
    @functools.wraps(original)
    def add(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        addr = args[0] if args else kwargs.get("addr")
        _record_endpoint(self, op, addr, result)
        return result

    return add  # type: ignore[return-value]


def _wrap_endpoint_removal(original: F, op: EndpointOp) -> F:
    @functools.wraps(original)
    def remove(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        addr = args[0] if args else kwargs.get("addr")
        _record_endpoint_removed(self, op, addr)
        return result

    return remove  # type: ignore[return-value]


def _wrap_set(original: F) -> F:
    @functools.wraps(original)
    def set(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        option = args[0] if args else kwargs.get("option")
        value = args[1] if len(args) > 1 else kwargs.get("optval", kwargs.get("value"))
        if option is not None:
            _record_option(self, option, value)
        return result

    return set  # type: ignore[return-value]


def _wrap_context_init(original: F) -> F:
    @functools.wraps(original)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        _record_context(self)

    return __init__  # type: ignore[return-value]


def _wrap_term(original: F) -> F:
    @functools.wraps(original)
    def term(self: Any, *args: Any, **kwargs: Any) -> Any:
        entry = _term_starting(self)
        token = _observe_term(entry)
        try:
            result = original(self, *args, **kwargs)
        except BaseException:
            if entry is not None:
                _state.registry.term_failed(entry)
            raise
        finally:
            _observe_term_end(token)
        if entry is not None:
            _state.registry.term_returned(entry)
        return result

    return term  # type: ignore[return-value]


def _term_starting(ctx: Any) -> ContextEntry | None:
    """Mark the context terminating; the outermost of destroy/term owns it."""
    try:
        if ctx.closed:
            return None
        entry = _context_entry(ctx)
        if entry is None:
            return None
        site = make_site(current_thread_ref(), _capture())
        return entry if _state.registry.term_called(entry, site) else None
    except Exception:
        _state.internal_errors += 1
        return None


def _observe_term(entry: ContextEntry | None) -> object:
    observer = _state.term_observer
    if entry is None or observer is None:
        return None
    try:
        return (observer, observer.term_started(entry))
    except Exception:
        _state.internal_errors += 1
        return None


def _observe_term_end(token: object) -> None:
    if isinstance(token, tuple):
        observer, inner = token
        try:
            observer.term_finished(inner)
        except Exception:
            _state.internal_errors += 1


def _lifecycle_patches() -> list[tuple[type, str, Callable[[Any], Any]]]:
    sock, ctx = zmq.Socket, zmq.Context
    return [
        (sock, "__init__", _wrap_socket_init),
        (sock, "close", _wrap_close),
        (sock, "bind", lambda f: _wrap_endpoint(f, EndpointOp.BIND)),
        (sock, "connect", lambda f: _wrap_endpoint(f, EndpointOp.CONNECT)),
        (sock, "unbind", lambda f: _wrap_endpoint_removal(f, EndpointOp.BIND)),
        (sock, "disconnect", lambda f: _wrap_endpoint_removal(f, EndpointOp.CONNECT)),
        (sock, "set", _wrap_set),
        (sock, "setsockopt", _wrap_set),
        (ctx, "__init__", _wrap_context_init),
        (ctx, "term", _wrap_term),
        (ctx, "destroy", _wrap_term),
    ]


def _patch(table: list[tuple[type, str, Callable[[Any], Any]]]) -> None:
    if _state.frames is None:
        _state.frames = FrameFilter()
    for cls, name, wrap in table:
        own = name in cls.__dict__
        original = getattr(cls, name)
        _state.originals.append((cls, name, own, cls.__dict__.get(name)))
        setattr(cls, name, wrap(original))


def _unpatch() -> None:
    for cls, name, own, original in reversed(_state.originals):
        if own:
            setattr(cls, name, original)
        else:
            delattr(cls, name)
    _state.originals.clear()


# -- public entry points (re-exported by zmqscope) -------------------------------


def install(traffic: bool = False, stack_depth: int = DEFAULT_STACK_DEPTH) -> None:
    """Record every socket and context in this process from now on.

    ``traffic=True`` also counts messages and bytes per socket, at a cost on
    every send and recv (see the benchmarks); it can be turned on only before
    the first socket is made or after ``uninstall()``.
    """
    if stack_depth < 1:
        raise ValueError("stack_depth must be at least 1")
    with _state.lock:
        if _state.patched and traffic != _state.registry.traffic:
            # Switching traffic mode re-patches; sockets made before the
            # switch keep what they had (no counters, or frozen counters).
            _unpatch()
        _state.stack_depth = stack_depth
        _state.installed = True
        if not _state.patched:
            _state.registry.traffic = traffic
            _patch(_lifecycle_patches())
            if traffic:
                _patch(_traffic.patches(note_thread_by_object))


def note_thread_by_object(sock: Any) -> None:
    """Traffic mode's slow path: a send/recv from a thread other than the owner."""
    try:
        entry = _entry_of(sock)
        if entry is not None:
            note_thread(entry, call_site())
    except Exception:
        _state.internal_errors += 1


def uninstall() -> None:
    """Remove every hook; pyzmq is exactly as it was. Records are kept."""
    with _state.lock:
        _state.installed = False
        _state.watched.clear()
        _unpatch()
        _traffic.forget_all()


def is_installed() -> bool:
    return _state.installed


def reset_registry() -> None:
    """Forget every record (hooks stay as they are)."""
    with _state.lock:
        traffic = _state.registry.traffic
        _state.registry = Registry()
        _state.registry.traffic = traffic
        _traffic.forget_all()


def ignore_file(path: str) -> None:
    """Treat frames of ``path`` as plumbing (e.g. the ``zmqscope`` launcher)."""
    with _state.lock:
        if _state.frames is None:
            _state.frames = FrameFilter()
        _state.frames.ignore(path)


def set_term_observer(observer: TermObserver | None) -> None:
    _state.term_observer = observer


def add_warning_listener(listener: Callable[[UsageWarning], None]) -> None:
    _state.warning_listeners.append(listener)


def watch(ctx: zmq.Context[Any]) -> None:
    """Record the sockets of one existing context (e.g. ``Context.instance()``).

    Sockets it already has are adopted: their type is known, their creation
    site and endpoints are not.
    """
    if not isinstance(ctx, zmq.Context):
        raise TypeError(f"watch() needs a zmq.Context, not {type(ctx).__name__}")
    if ctx.closed:
        raise ValueError("cannot watch a context that is already terminated")
    with _state.lock:
        _state.watched.add(ctx.underlying)
        if not _state.patched:
            _patch(_lifecycle_patches())
        entry = _context_entry(ctx)
        reg = _state.registry
        for sock in list(ctx._sockets):
            if sock.closed or reg.open_socket(sock.underlying) is not None:
                continue
            site = make_site(None, ())
            reg.socket_created(sock, sock.underlying, entry, sock._type_name, site, adopted=True)


def process_info() -> ProcessInfo:
    return ProcessInfo(
        pid=os.getpid(),
        argv=tuple(sys.argv),
        python=sys.version.split()[0],
        pyzmq=zmq.__version__,
        libzmq=zmq.zmq_version(),
    )


def _after_fork_in_child() -> None:
    # The parent's records describe the parent's sockets, and its lock may be
    # held by a thread that does not exist here: start over.
    global _state
    old = _state
    _state = _State(
        installed=old.installed,
        watched=set(old.watched),
        stack_depth=old.stack_depth,
        originals=old.originals,
        frames=old.frames,
        term_observer=old.term_observer,
        warning_listeners=old.warning_listeners,
    )
    _state.registry.traffic = old.registry.traffic
    _traffic.forget_all()


os.register_at_fork(after_in_child=_after_fork_in_child)
