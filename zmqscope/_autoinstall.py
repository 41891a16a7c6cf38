"""``ZMQSCOPE=1``: instrument a process that ``zmqscope run`` did not start.

Imported at interpreter start-up by ``zmqscope-autoinstall.pth`` only when the
variable is set. The variable is inherited by every Python child (compilers,
tools, test runners), so at start-up this module only reads the settings and
puts a finder on ``sys.meta_path`` that waits for ``zmq``: it imports nothing
and starts nothing. When the process imports ``zmq`` (also through
``zmq.asyncio`` or ``zmq.green``), the hooks go on right after pyzmq's own
``__init__`` has run, before any context can be made; the introspection
server starts with the first context (unless ``ZMQSCOPE_SERVE=0``).

Settings come from the environment:

- ``ZMQSCOPE_STACK_DEPTH``: frames kept per call site (default 12);
- ``ZMQSCOPE_GRACE``: seconds a term() may block before its culprits are
  reported (default 5);
- ``ZMQSCOPE_TRAFFIC=1``: count messages and bytes per socket;
- ``ZMQSCOPE_SERVE=0``: do not start the introspection server;
- on/off values are ``1``, ``true``, ``yes``, ``on`` and ``0``, ``false``,
  ``no``, ``off`` or empty (any case); another value is an error;
- ``ZMQSCOPE_JSON`` / ``ZMQSCOPE_MARKDOWN``: write the report there at exit
  (``{pid}`` in the path is replaced by the process id);
- ``ZMQSCOPE_TREE``: set by ``zmqscope run`` for the processes its
  application starts: the report goes into that folder for the run's
  report instead of to stderr (:mod:`zmqscope._tree`).

A setting that cannot be read is one line on stderr at start-up, and the
instrumentation stays off. At exit the one-line summary (and the report,
when sockets leaked) goes to the stderr the process started with, as with
``zmqscope run``, if the process used ZeroMQ at all.
"""

# No ``from __future__ import annotations``, no typing: this module runs in
# every Python process that inherits ZMQSCOPE=1, and imports only what the
# interpreter has loaded already (os, sys) plus the builtin atexit.
import atexit
import os
import sys

# typing.TYPE_CHECKING without importing typing (type checkers know the name).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from importlib.abc import Loader
    from importlib.machinery import ModuleSpec
    from types import ModuleType
    from typing import Any

_OFF = {"", "0", "false", "no", "off"}
_ON = {"1", "true", "yes", "on"}
_exit_report = True
_settings: "_Settings | None" = None  # what the environment asked for, once read
_armed = False
_armed_by = 0  # the pid of the process that armed: a file without {pid} is its own


class _Settings:
    __slots__ = ("grace", "serve", "stack_depth", "start_dir", "traffic")

    def __init__(self) -> None:
        # Paths are shown relative to where the process started, even when
        # it imports zmq after changing directory.
        try:
            self.start_dir: str | None = os.getcwd()
        except OSError:
            self.start_dir = None
        depth = os.environ.get("ZMQSCOPE_STACK_DEPTH")
        grace = os.environ.get("ZMQSCOPE_GRACE")
        self.stack_depth: int | None = None  # None: install()'s default
        self.grace: float | None = None  # None: the watchdog's default
        if depth or grace:
            # Loaded only when a number was given: most processes give none.
            from zmqscope import _bounds

            if depth:
                self.stack_depth = _bounds.stack_depth(depth, "ZMQSCOPE_STACK_DEPTH")
            if grace:
                self.grace = _bounds.grace(grace, "ZMQSCOPE_GRACE")
        _switch("ZMQSCOPE", "")  # on, or the .pth would not have imported this module
        self.traffic = _switch("ZMQSCOPE_TRAFFIC", "")
        self.serve = _switch("ZMQSCOPE_SERVE", "1")


def _is_on(value: str) -> bool:
    return value.strip().lower() not in _OFF


def _switch(name: "str", default: "str") -> bool:
    """An on/off variable; ``ValueError`` naming it for a value that is neither.

    ``ZMQSCOPE_TRAFFIC=maybe`` used to turn traffic mode on in silence.
    """
    value = os.environ.get(name, default)
    word = value.strip().lower()
    if word in _OFF:
        return False
    if word in _ON:
        return True
    raise ValueError(f"{name} must be 1 or 0 (or true/false, yes/no, on/off), not {value!r}")


def _enabled() -> bool:
    return _is_on(os.environ.get("ZMQSCOPE", ""))


def disable_exit_report() -> None:
    """``zmqscope run`` prints its own report; do not print a second one."""
    global _exit_report
    _exit_report = False


def leave_to_run() -> None:
    """``zmqscope run`` sets everything up itself (ZMQSCOPE=1 may be inherited).

    No second exit report, and no server unless ``run`` starts one.
    """
    disable_exit_report()
    _stop_watching()
    if _armed and _settings is not None and _settings.serve:
        from zmqscope import _api

        _api.serve_when_needed(False)


# -- waiting for zmq ---------------------------------------------------------------


class _ZmqWatcher:
    """A meta path finder that arms zmqscope once ``zmq`` has been imported.

    It finds ``zmq`` with the finders after it and hands importlib that spec
    with a loader that runs pyzmq's own, then arms. Every other name is
    left to the other finders at once.
    """

    def find_spec(
        self, name: "str", path: "Sequence[str] | None", target: "ModuleType | None" = None
    ) -> "ModuleSpec | None":
        if name != "zmq":
            return None
        spec: ModuleSpec | None = None
        for finder in list(sys.meta_path):
            find = getattr(finder, "find_spec", None)
            if finder is self or find is None:
                continue
            spec = find(name, path, target)
            if spec is not None:
                break
        if spec is None or not hasattr(spec.loader, "exec_module"):
            return spec
        spec.loader = _ArmAfterLoading(spec.loader)
        return spec


class _ArmAfterLoading(Loader if TYPE_CHECKING else object):  # type: ignore[misc]
    """pyzmq's own loader, then :func:`_arm`; gives pyzmq its loader back after."""

    def __init__(self, loader: "Any") -> None:
        self.loader = loader

    def create_module(self, spec: "ModuleSpec") -> "ModuleType | None":
        module: ModuleType | None = self.loader.create_module(spec)
        return module

    def exec_module(self, module: "ModuleType") -> None:
        self.loader.exec_module(module)
        # Put pyzmq's loader back where importlib.reload and tools look for it.
        module.__loader__ = self.loader
        spec = module.__spec__
        loader: object = spec.loader if spec is not None else None
        if spec is not None and loader is self:
            spec.loader = self.loader
        _stop_watching()
        _arm()

    def __getattr__(self, name: str) -> object:
        return getattr(self.loader, name)  # get_code, is_package, resource readers...


_watcher = _ZmqWatcher()


def _stop_watching() -> None:
    if _watcher in sys.meta_path:
        sys.meta_path.remove(_watcher)


def _arm() -> None:
    """zmq is imported: hooks on, the exit report's stderr kept, the server on first context."""
    global _armed, _armed_by
    settings = _settings
    if settings is None or _armed:
        return
    # Checked only now that zmq is in use: most processes never import it.
    from zmqscope import _platform

    unsupported = _platform.problem()
    if unsupported is not None:  # Windows: one line, and the application runs as it is
        print(f"zmqscope: instrumentation is off: {unsupported}", file=sys.stderr)
        return
    _armed = True
    _armed_by = os.getpid()
    try:
        from zmqscope import _native

        with _native.fork_waits():  # another thread may fork meanwhile: see fork_waits
            from zmqscope import _api, _stderr
            from zmqscope._defaults import DEFAULT_STACK_DEPTH
            from zmqscope.instrument import origins
        _stderr.keep()  # before an application (ipykernel) points fd 2 elsewhere
        origins.fix_root(settings.start_dir)
        _api.install(
            traffic=settings.traffic,
            stack_depth=settings.stack_depth or DEFAULT_STACK_DEPTH,
            grace=settings.grace,
        )
    except Exception as error:  # a broken install must not stop the application
        print(f"zmqscope: instrumentation is off: {error}", file=sys.stderr)
        return
    if settings.serve:
        _api.serve_when_needed()  # cannot fail: it only registers a callback
    if os.environ.get("ZMQSCOPE_TREE"):  # a child of ``zmqscope run``: see _tree
        try:
            from zmqscope import _tree

            _tree.join()
        except Exception as error:
            print(f"zmqscope: not following this child process: {error}", file=sys.stderr)


def _report_at_exit() -> None:
    if not (_exit_report and _armed):
        return
    if "zmqscope._tree" in sys.modules:
        from zmqscope import _tree

        if _tree.is_child():  # its report goes to the run that started it
            _tree.deliver_or_say()
            return
    try:
        from zmqscope import _api

        seen = _api.snapshot()
        if not seen.contexts and not seen.sockets:
            return  # imported zmq, never used it: no report, nor rich to import for one
        report = _api.exit_report()  # (its modules imported while forks wait)
        files, notes = _report_files()
        _api.emit_exit_report(report, files, notes)
    except Exception as error:  # never turn a clean exit into a crash
        print(f"zmqscope: could not make the exit report: {error}", file=sys.stderr)


def _report_files() -> "tuple[list[Any], list[str]]":
    """ZMQSCOPE_JSON and ZMQSCOPE_MARKDOWN (:class:`zmqscope._api.ReportFile`), and notes.

    A path without ``{pid}`` belongs to the process that armed zmqscope: a
    forked child (a daemonizing application) writes only to ``{pid}`` paths,
    and says so on its stderr (a note), instead of replacing its parent's
    report.
    """
    from zmqscope._api import ReportFile

    pid = str(os.getpid())
    files = []
    notes = []
    for variable, markdown in (("ZMQSCOPE_JSON", False), ("ZMQSCOPE_MARKDOWN", True)):
        path = os.environ.get(variable)
        if not path:
            continue
        if "{pid}" not in path and os.getpid() != _armed_by:
            notes.append(
                f"zmqscope: process {pid} is a fork of {_armed_by}: its report is not written "
                f"to {variable}={path} (without {{pid}} it is {_armed_by}'s)"
            )
            continue
        files.append(ReportFile(path.replace("{pid}", pid), markdown=markdown, setting=variable))
    return files, notes


def _start() -> None:
    global _settings
    try:
        _settings = _Settings()
    except Exception as error:  # a broken setting must not stop the application
        print(f"zmqscope: instrumentation is off: {error}", file=sys.stderr)
        return
    # Registered now, at start-up, so that it runs after the atexit handlers
    # of the application (which may close sockets), as it always did.
    atexit.register(_report_at_exit)
    if "zmq" in sys.modules:
        _arm()
    else:
        sys.meta_path.insert(0, _watcher)


if _enabled():
    _start()
