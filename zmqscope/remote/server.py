"""The introspection server: answers questions about this process from outside.

It runs on a daemon OS thread, so the application's ``term()`` never waits
for it and it keeps answering while the application is blocked in
``term()``. The thread is a real one even under gevent or eventlet
(:mod:`zmqscope._native`): a greenlet would only run when the application's
hub lets it, and its blocking poll would freeze the hub.

On an ipc socket file (the default) zmqscope accepts and frames the
connections itself (:mod:`zmqscope.remote.stream_server`: libzmq's ipc listener
would abort an application out of file descriptors); over tcp, where CURVE
is needed, a ROUTER on zmqscope's own ``zmq.Context`` (never recorded)
serves (:mod:`zmqscope.remote.zmq_server`). Either way every request goes through
:class:`zmqscope.remote.handler.RequestHandler`: within a CPU budget, repeated
answers from a cache. Requests are read-only (see :mod:`zmqscope.remote.protocol`).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path
from typing import Any

import zmq

from zmqscope import _native, _own_context
from zmqscope._errors import ZmqscopeError
from zmqscope._files import write_whole
from zmqscope._version import __version__
from zmqscope.remote.access import Access, AccessError, server_access
from zmqscope.remote.budget import CpuBudget
from zmqscope.remote.curve import CurveError, ZapGuard, require_curve, user_keys
from zmqscope.remote.handler import Answers, RequestHandler
from zmqscope.remote.runtime import RuntimeDirError, discovery_path, ensure_runtime_dir, ipc_path
from zmqscope.remote.stream_server import StreamServer
from zmqscope.remote.zmq_server import ZmqServer


class ServerError(ZmqscopeError):
    """The server cannot start; the message says why, in one line."""


class Server:
    """A running introspection server (:func:`zmqscope.serve` starts this process's).

    It answers what ``answers`` says (:class:`~zmqscope.remote.handler.Answers`).
    """

    def __init__(
        self,
        endpoint: str | None,
        curve_secret_key: bytes | None,
        insecure: bool,
        answers: Answers,
    ):
        self.requested = endpoint
        self._curve_secret_key = curve_secret_key
        self._insecure = insecure
        self.access = Access.FILE_PERMISSIONS
        self.endpoint = ""
        self.started = answers.started
        self.handler = RequestHandler(answers, CpuBudget())
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
        self.handler.answers.prepare()
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
        thread = _native.Thread(self._run, "zmqscope-server", self.handler.answers.prepare_thread)
        self._thread = thread.start()
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
            _own_context.term_private_context(self._ctx)

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
        self._ctx = _own_context.private_context()
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
        self.handler.answers.reading(me)
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
            self.handler.answers.done_reading(me)
            transport.close()
            if self._ctx is not None:
                _own_context.term_private_context(self._ctx)

    def _is_stopping(self) -> bool:
        return self._stopping

    def forget_in_child(self) -> None:
        """In a forked child: let go of the parent's connections (never its files)."""
        if isinstance(self._transport, StreamServer):
            self._transport.forget_in_child()


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
    """How the server keeps other users out on ``endpoint`` (see :mod:`zmqscope.remote.access`)."""
    try:
        access = server_access(endpoint, curve_secret_key is not None, insecure)
        if access in (Access.USER_CURVE, Access.GIVEN_CURVE):
            require_curve(endpoint)
    except (AccessError, CurveError) as error:
        raise ServerError(str(error)) from None
    return access
