"""The introspection server: answers questions about this process from outside.

It runs on a daemon OS thread with its own ``zmq.Context`` (never recorded),
so the application's ``term()`` never waits for it and it keeps answering
while the application is blocked in ``term()``. The thread is a real one even
under gevent or eventlet (:mod:`zmqscope._native`): a greenlet would only run
when the application's hub lets it, and its blocking poll would freeze the hub.
One ROUTER socket serves every client; replies are sent without blocking and
with a small high-water mark, so a client that stops reading only loses its
own replies. Requests are read-only (see :mod:`zmqscope.protocol`).
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
from zmqscope._answers import Answers
from zmqscope._curve import CurveError, ZapGuard, require_curve, user_keys
from zmqscope._files import write_whole
from zmqscope._runtime import RuntimeDirError, discovery_path, ensure_runtime_dir, ipc_path
from zmqscope._version import __version__
from zmqscope.protocol import (
    MAX_REQUEST_BYTES,
    ErrorCode,
    ProtocolError,
    decode_request,
    encode_error,
    encode_reply,
)

_POLL_MS = 250  # how quickly stop() is noticed; idle wake-ups cost nothing measurable
_REPLY_HWM = 8  # replies queued per client before further ones are dropped


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
        self._zap: ZapGuard | None = None
        self.endpoint = ""
        self.started = time.time()
        self.requests = 0
        self.errors = 0
        self._files: list[Path] = []
        self._stopping = False
        self._thread: _native.Thread | None = None
        self._ctx: zmq.Context[Any] | None = None
        self._socket: zmq.Socket[Any] | None = None

    # -- life ---------------------------------------------------------------

    def start(self) -> Server:
        endpoint = self.requested or self._default_endpoint()
        self.access = _check_endpoint(endpoint, self._curve_secret_key, self._insecure)
        self._ctx = hooks.private_context()
        try:
            self._bind(endpoint, self._secret_key(endpoint))
            self._write_discovery_file()
        except BaseException as error:
            # Nothing of a server that cannot start may stay behind.
            self._close()
            if isinstance(error, OSError):
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
        if self._socket is not None:
            self._socket.close(linger=0)
        if self._zap is not None:
            self._zap.close()
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

    def _secret_key(self, endpoint: str) -> bytes | None:
        """The key a CURVE server uses; with the user's keys, only their client is let in."""
        if self.access is Access.GIVEN_CURVE:
            return self._curve_secret_key
        if self.access is not Access.USER_CURVE:
            return None
        assert self._ctx is not None
        try:
            keys = user_keys()
        except CurveError as error:
            raise ServerError(f"cannot serve on {endpoint}: {error}") from None
        self._zap = ZapGuard(self._ctx, [keys.client_public])
        return keys.server_secret

    def _bind(self, endpoint: str, curve_secret_key: bytes | None) -> None:
        assert self._ctx is not None
        sock: zmq.Socket[Any] = self._ctx.socket(zmq.ROUTER)
        self._socket = sock
        sock.linger = 0
        sock.sndhwm = _REPLY_HWM
        # Tell a full client queue (Again) from a vanished client
        # (EHOSTUNREACH) instead of dropping silently: see _send.
        sock.router_mandatory = True
        # libzmq drops a peer that sends a bigger message, before we see it.
        sock.maxmsgsize = MAX_REQUEST_BYTES + 1024
        if curve_secret_key is not None:
            sock.curve_server = True
            sock.curve_secretkey = curve_secret_key
        try:
            sock.bind(endpoint)
        except zmq.ZMQError as error:
            raise ServerError(f"cannot serve on {endpoint}: {error.strerror}") from None
        self.endpoint = sock.get_string(zmq.LAST_ENDPOINT)
        if self.endpoint.startswith("ipc://") and not self.endpoint.startswith("ipc://@"):
            path = Path(self.endpoint[len("ipc://") :])
            self._files.append(path)
            os.chmod(path, 0o600)

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
        sock = self._socket
        assert sock is not None and self._ctx is not None
        answers = Answers(self.endpoint, self.started)
        poller = zmq.Poller()
        poller.register(sock, zmq.POLLIN)
        if self._zap is not None:
            poller.register(self._zap.socket, zmq.POLLIN)
        try:
            while not self._stopping:
                if poller.poll(_POLL_MS):
                    if self._zap is not None:
                        self._zap.admit()  # handshakes first: they wait for us
                    self._drain(sock, answers)
        finally:
            sock.close(linger=0)
            if self._zap is not None:
                self._zap.close()
            hooks.term_private_context(self._ctx)

    def _drain(self, sock: zmq.Socket[Any], answers: Answers) -> None:
        for _ in range(100):  # a bounded batch, then back to poll()
            if self._stopping:
                return  # stop() waits for this thread: leave the backlog
            try:
                frames = sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            try:
                self._handle(sock, frames, answers)
            except Exception:
                self.errors += 1  # the server must outlive any request

    def _handle(self, sock: zmq.Socket[Any], frames: list[bytes], answers: Answers) -> None:
        self.requests += 1
        # DEALER clients send [payload]; REQ clients [b"", payload].
        if len(frames) == 2:
            envelope, payload = frames[:1], frames[1]
        elif len(frames) == 3 and frames[1] == b"":
            envelope, payload = frames[:2], frames[2]
        else:
            error = ProtocolError(ErrorCode.BAD_REQUEST, "a request is one frame")
            self._send(sock, frames[:1], encode_error(error))
            return
        try:
            request = decode_request(payload)
            reply = encode_reply(request, answers.answer(request))
        except ProtocolError as error:
            reply = encode_error(error)
        except Exception as error:
            self.errors += 1
            request_id = None
            with contextlib.suppress(Exception):
                request_id = json.loads(payload).get("id")
            internal = ProtocolError(ErrorCode.INTERNAL, f"server error: {error}", request_id)
            reply = encode_error(internal)
        self._send(sock, envelope, reply)

    def _send(self, sock: zmq.Socket[Any], envelope: list[bytes], reply: bytes) -> None:
        # Never block: a client that vanished or stopped reading loses the reply.
        message = [*envelope, reply]
        with contextlib.suppress(zmq.ZMQError):
            try:
                sock.send_multipart(message, zmq.NOBLOCK)
            except zmq.Again:
                # With a small HWM a client's queue also looks full while the
                # I/O thread's "read up to here" notices wait in the socket's
                # mailbox: send/recv process it at most once a millisecond, and
                # a quick client can keep the server from polling. Reading
                # EVENTS processes it; only a client that stopped reading loses
                # the reply. Measured: ~1 reply in 100 lost without this.
                sock.getsockopt(zmq.EVENTS)
                sock.send_multipart(message, zmq.NOBLOCK)


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
    if parent is not None and parent.requested is None:
        # (Imported at the top: an at-fork handler must not import.)
        _api.serve_when_needed()


atexit.register(_stop_at_exit)
os.register_at_fork(after_in_child=_restart_in_child)
