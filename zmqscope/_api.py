"""The public entry points: hooks, the shutdown watchdog, its reports and the server, wired.

``zmqscope.install()`` is :func:`zmqscope.instrument.hooks.install` plus the term()
watchdog, whose default listener prints the culprit report to stderr when a
``term()`` outlives the grace period (and how long it took when it returns).
``zmqscope.serve()`` starts the process's one introspection server
(:class:`zmqscope.instrument.answers.ProcessServer`), again in a forked child
of a serving parent.
"""

from __future__ import annotations

import atexit
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zmqscope import _bounds as bounds
from zmqscope import _native, _stderr
from zmqscope._defaults import DEFAULT_GRACE, DEFAULT_STACK_DEPTH
from zmqscope.instrument import hooks, origins
from zmqscope.instrument.watchdog import BlockedTerm, Listener, TermDone, TermWatchdog
from zmqscope.model import Snapshot
from zmqscope.model.wording import duration, tool_name

if TYPE_CHECKING:
    import zmq

    from zmqscope.remote.server import Server
    from zmqscope.reporting import Report

_lock = _native.allocate_lock()  # real: the watchdog's thread takes it too
_watchdog: TermWatchdog | None = None


def watchdog() -> TermWatchdog:
    """The process's term() watchdog (made on first use)."""
    global _watchdog
    with _lock:
        if _watchdog is None:
            _watchdog = TermWatchdog(DEFAULT_GRACE)
            _watchdog.add_listener(print_shutdown_event, prepare_reports)
        hooks.set_term_observer(_watchdog)
        return _watchdog


def _set_grace(grace: float | None) -> None:
    if grace is None:
        return
    watchdog().grace = bounds.grace(grace)


def install(
    traffic: bool = False,
    stack_depth: int = DEFAULT_STACK_DEPTH,
    grace: float | None = None,
) -> None:
    """Record every socket and context in this process from now on.

    ``grace`` (seconds, default 5) is how long a ``term()``/``destroy()`` may
    block before zmqscope reports the sockets it is waiting for.
    ``traffic=True`` also counts messages and bytes per socket (a cost on
    every send and recv).
    """
    _set_grace(grace)
    hooks.install(traffic=traffic, stack_depth=stack_depth)
    _load_resource()
    watchdog()


def uninstall() -> None:
    """Remove every hook: pyzmq is exactly as it was. Records are kept."""
    hooks.uninstall()
    hooks.set_term_observer(None)


def watch(ctx: zmq.Context[Any], grace: float | None = None) -> None:
    """Record the sockets of one existing context (e.g. ``Context.instance()``).

    Sockets it already has are adopted: their type is known, their creation
    site, endpoints and LINGER are not.
    """
    _set_grace(grace)
    hooks.watch(ctx)
    _load_resource()
    watchdog()


def snapshot() -> Snapshot:
    """Frozen copies of every socket and context record, taken now."""
    return hooks.registry().snapshot(hooks.process_info())


def report() -> Report:
    """The report of this process now (rich-renderable, JSON, Markdown).

    The process is running: its open sockets are its inventory, and leaks
    are only what really leaked (collected without ``close()``, keeping a
    ``term()`` waiting).
    """
    return _report(live=True)


def exit_report() -> Report:
    """The report as the process exits (what ``zmqscope run`` prints): open sockets leaked.

    An application that died of "Too many open files" leaves no descriptor
    free, and the report's own imports need one: the soft limit is raised
    (towards the hard one) first, the report showing the application's own.
    """
    soft_limit = _room_to_report()
    return _report(at_exit=True, fd_limit=soft_limit)


@dataclass(frozen=True)
class ReportFile:
    """A file the exit report is also written to.

    ``setting`` names it in the line said when it cannot be written
    (``ZMQSCOPE_JSON: cannot write ...``); None: the error names the path.
    """

    path: Path | str
    markdown: bool = False
    setting: str | None = None


def emit_exit_report(
    report: Report, files: Sequence[ReportFile] = (), notes: Sequence[str] = ()
) -> None:
    """Print ``report`` as the process exits, then write it to each of ``files``.

    The summary line (and the report, when sockets leaked) goes to the stderr
    the process started with (:mod:`zmqscope._stderr`), then ``notes`` (why a
    file asked for is not written). Every file that can be written is; one
    line for each that cannot, and the others still are. What ``zmqscope
    run`` and ``ZMQSCOPE=1`` both do at exit.
    """
    from zmqscope.reporting import render_exit

    _stderr.console().print(render_exit(report), crop=False)
    for note in notes:
        print(note, file=_stderr.stream(), flush=True)
    write_report_files(report, files)


def write_report_files(report: Report, files: Sequence[ReportFile]) -> None:
    """Write ``report`` to each of ``files``; one line on stderr for each that cannot be."""
    from zmqscope._files import FileWriteError, write_whole

    for file in files:
        try:
            write_whole(file.path, report.to_markdown() if file.markdown else report.to_json())
        except Exception as error:  # OSError, or a renderer's failure: the next file still
            if file.setting is not None:
                message = f"zmqscope: {file.setting}: {error}"
            elif isinstance(error, FileWriteError):
                message = f"zmqscope: error: {error}"
            else:
                message = f"zmqscope: error: {file.path}: {error}"
            print(message, file=_stderr.stream(), flush=True)


def _report(live: bool = False, at_exit: bool = False, fd_limit: int | None = None) -> Report:
    # Imported here so that ``import zmqscope`` does not pay for rich; while
    # forks wait (another thread of the application may fork meanwhile).
    prepare_reports()
    from zmqscope.reporting import build_report, fd_usage

    fds, soft = fd_usage()
    limit = fd_limit or soft
    return build_report(snapshot(), live=live, at_exit=at_exit, fds=fds, fd_limit=limit)


# The resource module, imported while descriptors are surely free (an
# extension module: importing it opens a file). None on Windows.
_resource: Any = None


def _load_resource() -> None:
    global _resource
    if _resource is None:
        try:
            import resource
        except ImportError:
            return
        _resource = resource


def _room_to_report() -> int | None:
    """When no file descriptor is free, raise the soft limit a little; the old one, or None.

    Only at exit, once the application's code has run: a report that cannot
    import or write would be lost (and ``zmqscope run`` would crash).
    """
    resource = _resource
    if resource is None or not hooks.fds_exhausted():
        return None
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        room = soft + _FDS_FOR_THE_REPORT
        if hard != resource.RLIM_INFINITY:
            room = min(room, hard)
        if room > soft:
            resource.setrlimit(resource.RLIMIT_NOFILE, (room, hard))
        return int(soft)
    except (OSError, ValueError):
        return None


_FDS_FOR_THE_REPORT = 64


def serve(
    endpoint: str | None = None, curve_secret_key: bytes | None = None, insecure: bool = False
) -> Server:
    """Start the introspection server (``zmqscope attach``/``ls``/``report`` use it).

    Default endpoint ``ipc://<runtime dir>/zmqscope/<pid>.ipc``, with
    ``<pid>.json`` beside it for ``zmqscope ls``; both are removed at exit.
    On loopback TCP (or an abstract ipc name) clients must present this
    user's CURVE key (made in the runtime folder), unless ``insecure=True``:
    then every local user can read what it answers. Beyond loopback only with
    ``curve_secret_key``. Returns the running server (``.endpoint``,
    ``.stop()``), the one already running if there is one; raises
    ``ServerError`` if it cannot start.
    """
    global _server
    # Imported here: the server needs psutil, which ``import zmqscope`` avoids.
    _native.import_modules(_SERVER_MODULE)  # while forks wait (see _native.fork_waits)
    from zmqscope.instrument.answers import ProcessServer

    with _server_lock:
        if _server is not None and _server.running:
            return _server
        _register_server_handlers()
        _server = ProcessServer(endpoint, curve_secret_key, insecure).start()
        _stop_with_multiprocessing()
        return _server


def serve_when_needed(wanted: bool = True) -> None:
    """Start the introspection server once this process makes its first context.

    What ``zmqscope run`` and ``ZMQSCOPE=1`` do: a process that never uses
    ZeroMQ starts no thread and leaves no files, and no thread of zmqscope's
    runs before an application monkey-patches with gevent or eventlet.
    ``wanted=False`` takes the request back.
    """
    if wanted:
        hooks.when_first_context(_serve_now)
    else:
        hooks.forget_first_context(_serve_now)


def _serve_now() -> None:
    from zmqscope.remote.server import ServerError

    try:
        serve()
    except ServerError as error:
        print(f"zmqscope: not serving introspection: {error}", file=_stderr.stream(), flush=True)


# The server's module and what it answers with (psutil): not imported by
# ``import zmqscope`` nor by install().
_SERVER_MODULE = "zmqscope.instrument.answers"
_server_lock = _native.allocate_lock()
_server: Server | None = None


def _stop_server_at_exit() -> None:
    # No join: the thread is a daemon; what must not outlive us are the files.
    if _server is not None:
        _server.stop(timeout=0)


def _stop_with_multiprocessing() -> None:
    """In a multiprocessing child (a pool worker), remove the files before its os._exit().

    Such a child ends with ``os._exit()``: atexit never runs there, but
    multiprocessing runs its own finalizers first. Not imported here: a
    process that does not use multiprocessing is left alone.
    """
    util = sys.modules.get("multiprocessing.util")
    if util is not None:
        # Lowest priority: after multiprocessing has joined the child's own children.
        util.Finalize(None, _stop_server_at_exit, exitpriority=-100)


def _restart_server_in_child() -> None:
    # The parent's server thread does not exist here and its context must not
    # be touched; leave them be. A child of a serving parent serves too, from
    # the first context it makes: a child that only execs or exits leaves no
    # files behind.
    global _server, _server_lock
    _server_lock = _native.allocate_lock()  # a thread of the parent may have held it
    parent = _server
    _server = None
    if parent is not None:
        parent.forget_in_child()
    if parent is not None and parent.requested is None:
        serve_when_needed()


_handlers_registered = False


def _register_server_handlers() -> None:
    """At the first server (the server's own module did this when it was imported)."""
    global _handlers_registered
    if not _handlers_registered:
        _handlers_registered = True
        atexit.register(_stop_server_at_exit)
        os.register_at_fork(after_in_child=_restart_server_in_child)


_last_blocked: tuple[BlockedTerm, Report] | None = None


def blocked_report(event: BlockedTerm) -> Report:
    """The report for a blocked term(), made once for every listener of ``event``.

    What is printed and what is written (``zmqscope run --json``) is then
    one and the same snapshot.
    """
    global _last_blocked
    with _lock:
        if _last_blocked is None or _last_blocked[0] is not event:
            # Written as the exit report would be (the process may never get
            # there): its open sockets are leaks.
            _last_blocked = (event, _report())
        return _last_blocked[1]


def add_shutdown_listener(listener: Listener) -> None:
    """Also call ``listener`` when a term() is reported blocked, and when it returns.

    It may make and render a report (:func:`blocked_report`): what that
    needs is imported when the watchdog's thread starts.
    """
    watchdog().add_listener(listener, prepare_reports)


def prepare_reports() -> None:
    """Import what making, rendering and writing a report needs, while forks wait.

    On the watchdog's thread when it starts (see TermWatchdog.add_listener),
    in the application's thread before its first report: a fork never
    catches zmqscope in the middle of these imports (:func:`_native.fork_waits`).
    The list was found by recording every import on the watchdog's thread
    while it reports a blocked term() (tests/integration/test_fork_safety.py).
    """
    with _native.fork_waits():
        _native.import_modules(*_REPORT_MODULES)
        origins.origins()  # the standard library's folders (sysconfig), to classify frames


# psutil: the report's count of file descriptors; rich loads its emoji table
# on the first print of a Text; _files writes the report's files.
_REPORT_MODULES = (
    "psutil",
    "rich.console",
    "rich._emoji_codes",
    "zmqscope.reporting",
    "zmqscope._files",
)


def _new_lock_in_child() -> None:
    # The watchdog's thread holds it while it makes a report; it is not in the child.
    global _lock, _last_blocked
    _lock = _native.allocate_lock()
    _last_blocked = None


os.register_at_fork(after_in_child=_new_lock_in_child)


def print_shutdown_event(event: BlockedTerm | TermDone) -> None:
    """The default listener: the culprit report, or how long term() took, on stderr.

    The stderr the process started with, under ``zmqscope run`` and
    ``ZMQSCOPE=1`` (:mod:`zmqscope._stderr`).
    """
    if isinstance(event, TermDone):
        print(
            f"{tool_name(hooks.process_info())}: term() of context {event.context}"
            f" returned after {duration(event.waited)}",
            file=_stderr.stream(),
            flush=True,
        )
        return
    from zmqscope.reporting import render_blocked

    _stderr.console().print(render_blocked(blocked_report(event), event.context, event.since))
