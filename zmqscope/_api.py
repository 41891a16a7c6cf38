"""The public entry points: hooks, the shutdown watchdog and its reports, wired.

``zmqscope.install()`` is :func:`zmqscope.hooks.install` plus the term()
watchdog, whose default listener prints the culprit report to stderr when a
``term()`` outlives the grace period (and how long it took when it returns).
"""

from __future__ import annotations

import dataclasses
import sys
import threading
from typing import TYPE_CHECKING, Any

from zmqscope import hooks
from zmqscope.hooks import DEFAULT_STACK_DEPTH
from zmqscope.model import Snapshot
from zmqscope.shutdown import DEFAULT_GRACE, BlockedTerm, Listener, TermDone, TermWatchdog

if TYPE_CHECKING:
    import zmq

    from zmqscope.reporting import Report
    from zmqscope.server import Server

_lock = threading.Lock()
_watchdog: TermWatchdog | None = None


def watchdog() -> TermWatchdog:
    """The process's term() watchdog (made on first use)."""
    global _watchdog
    with _lock:
        if _watchdog is None:
            _watchdog = TermWatchdog(DEFAULT_GRACE)
            _watchdog.add_listener(print_shutdown_event)
        hooks.set_term_observer(_watchdog)
        return _watchdog


def _set_grace(grace: float | None) -> None:
    if grace is None:
        return
    if grace < 0:
        raise ValueError("grace must be zero or more seconds")
    watchdog().grace = grace


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
    watchdog()


def snapshot() -> Snapshot:
    """Frozen copies of every socket and context record, taken now."""
    return hooks.registry().snapshot(hooks.process_info())


def report() -> Report:
    """The leak report for the current state (rich-renderable, JSON, Markdown)."""
    # Imported here so that ``import zmqscope`` does not pay for rich.
    from zmqscope.reporting import build_report

    return build_report(snapshot())


def exit_report() -> Report:
    """:func:`report` as the process exits (what ``zmqscope run`` prints)."""
    return dataclasses.replace(report(), at_exit=True)


def serve(
    endpoint: str | None = None, curve_secret_key: bytes | None = None, insecure: bool = False
) -> Server:
    """Start the introspection server (``zmqscope attach``/``ls``/``report`` use it).

    Default endpoint ``ipc://<runtime dir>/zmqscope/<pid>.ipc``. On loopback
    TCP clients must present this user's CURVE key (made in the runtime
    folder), unless ``insecure=True``: then every local user can read what it
    answers. Beyond loopback only with ``curve_secret_key``. Returns the
    running server (``.endpoint``, ``.stop()``); raises ``ServerError`` if it
    cannot start.
    """
    # Imported here: the server needs psutil, which ``import zmqscope`` avoids.
    from zmqscope.server import serve as start

    return start(endpoint, curve_secret_key, insecure)


_last_blocked: tuple[BlockedTerm, Report] | None = None


def blocked_report(event: BlockedTerm) -> Report:
    """The report for a blocked term(), made once for every listener of ``event``.

    What is printed and what is written (``zmqscope run --json``) is then
    one and the same snapshot.
    """
    global _last_blocked
    with _lock:
        if _last_blocked is None or _last_blocked[0] is not event:
            _last_blocked = (event, report())
        return _last_blocked[1]


def add_shutdown_listener(listener: Listener) -> None:
    """Also call ``listener`` when a term() is reported blocked, and when it returns."""
    watchdog().add_listener(listener)


def print_shutdown_event(event: BlockedTerm | TermDone) -> None:
    """The default listener: the culprit report, or how long term() took, on stderr."""
    if isinstance(event, TermDone):
        print(
            f"zmqscope: term() of context {event.context} returned after {event.waited:.1f} s",
            file=sys.stderr,
            flush=True,
        )
        return
    from rich.console import Console

    from zmqscope.reporting import render_blocked

    Console(stderr=True, highlight=False).print(
        render_blocked(blocked_report(event), event.context, event.since)
    )
