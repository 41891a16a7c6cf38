"""``ZMQSCOPE=1``: instrument a process that ``zmqscope run`` did not start.

Imported at interpreter start-up by ``zmqscope-autoinstall.pth`` only when the
variable is set. Settings come from the environment:

- ``ZMQSCOPE_STACK_DEPTH``: frames kept per call site (default 12);
- ``ZMQSCOPE_GRACE``: seconds a term() may block before its culprits are
  reported (default 5);
- ``ZMQSCOPE_TRAFFIC=1``: count messages and bytes per socket;
- ``ZMQSCOPE_SERVE=0``: do not start the introspection server;
- ``ZMQSCOPE_JSON`` / ``ZMQSCOPE_MARKDOWN``: write the report there at exit
  (``{pid}`` in the path is replaced by the process id).

At exit the one-line summary (and the report, when sockets leaked) goes to
stderr, as with ``zmqscope run``, if the process used ZeroMQ at all.
"""

from __future__ import annotations

import atexit
import os
import sys

_OFF = {"", "0", "false", "no", "off"}
_exit_report = True


def disable_exit_report() -> None:
    """``zmqscope run`` prints its own report; do not print a second one."""
    global _exit_report
    _exit_report = False


def _enabled() -> bool:
    return os.environ.get("ZMQSCOPE", "").strip().lower() not in _OFF


def _report_at_exit() -> None:
    if not _exit_report:
        return
    try:
        from zmqscope._api import exit_report

        report = exit_report()
        if not report.snapshot.contexts and not report.snapshot.sockets:
            return
        from rich.console import Console

        from zmqscope.reporting import render_exit

        Console(stderr=True, highlight=False).print(render_exit(report), crop=False)
        pid = str(os.getpid())
        for variable, render in (
            ("ZMQSCOPE_JSON", report.to_json),
            ("ZMQSCOPE_MARKDOWN", report.to_markdown),
        ):
            path = os.environ.get(variable)
            if path:
                with open(path.replace("{pid}", pid), "w", encoding="utf-8") as handle:
                    handle.write(render())
    except Exception as error:  # never turn a clean exit into a crash
        print(f"zmqscope: could not write the exit report: {error}", file=sys.stderr)


def _start() -> None:
    try:
        depth = os.environ.get("ZMQSCOPE_STACK_DEPTH")
        grace = os.environ.get("ZMQSCOPE_GRACE")
        traffic = os.environ.get("ZMQSCOPE_TRAFFIC", "").strip().lower() not in _OFF
        import zmqscope
        from zmqscope.hooks import DEFAULT_STACK_DEPTH

        zmqscope.install(
            traffic=traffic,
            stack_depth=int(depth) if depth else DEFAULT_STACK_DEPTH,
            grace=float(grace) if grace else None,  # None: the watchdog's default
        )
    except Exception as error:  # a broken setting must not stop the application
        print(f"zmqscope: instrumentation is off: {error}", file=sys.stderr)
        return
    atexit.register(_report_at_exit)
    if os.environ.get("ZMQSCOPE_SERVE", "1").strip().lower() not in _OFF:
        try:
            zmqscope.serve()
        except Exception as error:
            print(f"zmqscope: not serving introspection: {error}", file=sys.stderr)


if _enabled():
    _start()
