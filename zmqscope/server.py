"""The introspection server: answers questions about this process from outside.

It runs on a daemon OS thread, so the application's ``term()`` never waits
for it and it keeps answering while the application is blocked in
``term()``. The thread is a real one even under gevent or eventlet
(:mod:`zmqscope._native`): a greenlet would only run when the application's
hub lets it, and its blocking poll would freeze the hub.

On an ipc socket file (the default) zmqscope accepts and frames the
connections itself (:mod:`zmqscope._stream_server`: libzmq's ipc listener
would abort an application out of file descriptors); over tcp, where CURVE
is needed, a ROUTER on zmqscope's own ``zmq.Context`` (never recorded)
serves (:mod:`zmqscope._zmq_server`). Either way every request goes through
:class:`zmqscope._handler.RequestHandler`: within a CPU budget, repeated
answers from a cache. Requests are read-only (see :mod:`zmqscope.protocol`).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import zmq

from zmqscope import _api, _native, _origins, hooks
from zmqscope._access import Access, AccessError, server_access
from zmqscope._answers import UNREAD_HISTORY, Answers
from zmqscope._budget import CpuBudget
from zmqscope._curve import CurveError, ZapGuard, require_curve, user_keys
from zmqscope._files import write_whole
from zmqscope._handler import RequestHandler
from zmqscope._runtime import RuntimeDirError, discovery_path, ensure_runtime_dir, ipc_path
from zmqscope._stream_server import StreamServer
from zmqscope._version import __version__
from zmqscope._zmq_server import ZmqServer
from zmqscope.registry import Registry


class ServerError(Exception):
    """The server cannot start; the message says why, in one line."""


class Server:
    """A running introspection server. Use :func:`serve` to start one."""

    def __init__(
        self,
        endpoint: str | None = None,
        curve_secret_key: bytes | None = None,
        insecure: bool = False,
    ):
        self.requested = endpoint
        self._curve_secret_key = curve_secret_key
        self._insecure = insecure
        self.access = Access.FILE_PERMISSIONS
        self.endpoint = ""
        self.started = time.time()
        self.handler = RequestHandler(Answers("", self.started), CpuBudget())
        self._files: list[Path] = []
        self._stopping = False
        self._thread: _native.Thread | None = None
        self._ctx: zmq.Context[Any] | None = None
        self._transport: StreamServer | ZmqServer | None = None

    @property
    def requests(self) -> int:
        """Requests received (answered, refused or malformed)."""
        return self.handler.requests

    @property
    def errors(self) -> int:
        """Requests that met a bug in the server (each got an ``internal`` error)."""
        return self.handler.errors

    @property
    def clients(self) -> int | None:
        """Connections held now (None over tcp: libzmq holds them)."""
        if isinstance(self._transport, StreamServer):
            return self._transport.clients
        return None

    @property
    def queued_bytes(self) -> int:
        """Bytes of replies waiting for clients to take them."""
        return self._transport.queued_bytes if self._transport is not None else 0

    @property
    def dropped(self) -> int:
        """Requests never answered: their client had gone, or read none of its replies."""
        return self._transport.dropped if self._transport is not None else 0

    # -- life ---------------------------------------------------------------

    def start(self) -> Server:
        endpoint = self.requested or self._default_endpoint()
        self.access = _check_endpoint(endpoint, self._curve_secret_key, self._insecure)
        # What describing a frame imports, imported now: an application out of
        # file descriptors later could not open a module's file to answer.
        _origins.origins()
        try:
            self._bind(endpoint)
            self.handler.answers.endpoint = self.endpoint
            self._write_discovery_file()
        except BaseException as error:
            # Nothing of a server that cannot start may stay behind.
            self._close()
            if isinstance(error, (OSError, zmq.ZMQError)):
                reason = error.strerror or str(error)
                raise ServerError(f"cannot serve on {endpoint}: {reason}") from None
            raise
        self._thread = _native.Thread(self._run, "zmqscope-server", _prepare_thread).start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        """Stop answering, close the server's socket and remove its files."""
        self._stopping = True
        if self._thread is not None:
            self._thread.join(timeout)  # returns at once when called on the thread itself
        self._remove_files()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _close(self) -> None:
        """Undo a start() that failed half-way (the thread never ran)."""
        self._remove_files()
        if self._transport is not None:
            self._transport.close()
        if self._ctx is not None:
            hooks.term_private_context(self._ctx)

    def _default_endpoint(self) -> str:
        try:
            ensure_runtime_dir()
        except Exception as error:
            raise ServerError(str(error)) from None
        path = ipc_path(os.getpid())
        with contextlib.suppress(FileNotFoundError):
            path.unlink()  # left by a killed process that had the same pid
        return f"ipc://{path}"

    def _bind(self, endpoint: str) -> None:
        if endpoint.startswith("ipc://") and not endpoint.startswith("ipc://@"):
            stream = self._transport = StreamServer(endpoint[len("ipc://") :])
            stream.bind()
            self.endpoint = stream.endpoint
            self._files.append(Path(stream.path))
            return
        self._ctx = hooks.private_context()
        transport = self._transport = ZmqServer(self._ctx, self._zap_guard(endpoint))
        transport.bind(endpoint, self._secret_key(endpoint))
        self.endpoint = transport.endpoint

    def _zap_guard(self, endpoint: str) -> ZapGuard | None:
        """With the user's keys, only their client is let in."""
        if self.access is not Access.USER_CURVE:
            return None
        assert self._ctx is not None
        try:
            keys = user_keys()
        except CurveError as error:
            raise ServerError(f"cannot serve on {endpoint}: {error}") from None
        return ZapGuard(self._ctx, [keys.client_public])

    def _secret_key(self, endpoint: str) -> bytes | None:
        """The key a CURVE server uses."""
        if self.access is Access.GIVEN_CURVE:
            return self._curve_secret_key
        if self.access is not Access.USER_CURVE:
            return None
        try:
            return user_keys().server_secret
        except CurveError as error:
            raise ServerError(f"cannot serve on {endpoint}: {error}") from None

    def _write_discovery_file(self) -> None:
        try:
            ensure_runtime_dir()
        except RuntimeDirError:
            # Only a server on an endpoint the user named gets here: it
            # serves, but 'zmqscope ls' will not list it.
            return
        path = discovery_path(os.getpid())
        document = {
            "pid": os.getpid(),
            "argv": command_line(),
            "endpoint": self.endpoint,
            "started": self.started,
            "curve": self.access is Access.USER_CURVE,
            "versions": {
                "zmqscope": __version__,
                "pyzmq": zmq.__version__,
                "libzmq": zmq.zmq_version(),
                "python": sys.version.split()[0],
            },
        }
        write_whole(path, json.dumps(document), mode=0o600)  # whole, never through a symlink
        self._files.append(path)

    def _remove_files(self) -> None:
        for path in self._files:
            with contextlib.suppress(OSError):
                path.unlink()
        self._files.clear()

    # -- serving ------------------------------------------------------------

    def _run(self) -> None:
        transport = self._transport
        assert transport is not None
        me = _native.get_ident()
        Registry.thin_reader = (me, UNREAD_HISTORY)
        try:
            while not self._stopping:
                try:
                    transport.serve(self.handler, self._is_stopping)
                except Exception:
                    # The server must outlive anything (it was a bug): count
                    # it, rest a moment so a repeating failure cannot spin.
                    self.handler.errors += 1
                    _native.sleep(0.1)
        finally:
            if Registry.thin_reader == (me, UNREAD_HISTORY):
                Registry.thin_reader = None
            transport.close()
            if self._ctx is not None:
                hooks.term_private_context(self._ctx)

    def _is_stopping(self) -> bool:
        return self._stopping

    def forget_in_child(self) -> None:
        """In a forked child: let go of the parent's connections (never its files)."""
        if isinstance(self._transport, StreamServer):
            self._transport.forget_in_child()


def _prepare_thread() -> None:
    """What answering needs, imported before the first request, while forks wait.

    See :func:`zmqscope._native.fork_waits`: nothing may be imported on the
    server's thread while the application could fork.
    """
    import zmqscope.reporting  # noqa: F401  (report answers)

    _origins.origins()  # the standard library's folders (sysconfig), to classify frames


def command_line() -> list[str]:
    """The process's arguments after the interpreter, as the user typed them.

    ``python -m MODULE ARGS`` reads ``-m MODULE ARGS`` (``sys.argv[0]`` is then
    the module's file, or ``-m`` while the module is being found), whether
    Python or ``zmqscope run -m`` ran the module.
    """
    main = sys.modules.get("__main__")
    name = getattr(getattr(main, "__spec__", None), "name", None)
    if isinstance(name, str) and name and name != "__main__":
        return ["-m", name.removesuffix(".__main__"), *sys.argv[1:]]
    return list(sys.argv)


def _check_endpoint(endpoint: str, curve_secret_key: bytes | None, insecure: bool) -> Access:
    """How the server keeps other users out on ``endpoint`` (see :mod:`zmqscope._access`)."""
    try:
        access = server_access(endpoint, curve_secret_key is not None, insecure)
        if access in (Access.USER_CURVE, Access.GIVEN_CURVE):
            require_curve(endpoint)
    except (AccessError, CurveError) as error:
        raise ServerError(str(error)) from None
    return access


# -- the process's server ----------------------------------------------------------

_lock = _native.allocate_lock()
_server: Server | None = None


def serve(
    endpoint: str | None = None, curve_secret_key: bytes | None = None, insecure: bool = False
) -> Server:
    """Start this process's introspection server (or return the running one).

    With no endpoint it listens on ``ipc://<runtime dir>/zmqscope/<pid>.ipc``
    and writes ``<pid>.json`` beside it for ``zmqscope ls``; both are removed
    at exit. On loopback tcp (or an abstract ipc name) clients must present
    this user's CURVE key, made on first use in the runtime folder, unless
    ``insecure`` (then every local user can read everything the server
    answers). Beyond loopback only with ``curve_secret_key``.
    """
    global _server
    with _lock:
        if _server is not None and _server.running:
            return _server
        _server = Server(endpoint, curve_secret_key, insecure).start()
        _stop_with_multiprocessing()
        return _server


def _stop_at_exit() -> None:
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
        util.Finalize(None, _stop_at_exit, exitpriority=-100)


def _restart_in_child() -> None:
    # The parent's server thread does not exist here and its context must not
    # be touched; leave them be. A child of a serving parent serves too, from
    # the first context it makes: a child that only execs or exits leaves no
    # files behind.
    global _server, _lock
    _lock = _native.allocate_lock()  # a thread of the parent may have held it
    parent = _server
    _server = None
    if parent is not None:
        parent.forget_in_child()
    if parent is not None and parent.requested is None:
        # (Imported at the top: an at-fork handler must not import.)
        _api.serve_when_needed()


atexit.register(_stop_at_exit)
os.register_at_fork(after_in_child=_restart_in_child)
