"""A process of a ``zmqscope run`` tree: its report goes to the run, not to its stderr.

``zmqscope run`` makes a private folder for the processes its application
starts and names it in ``ZMQSCOPE_TREE`` (with ``ZMQSCOPE=1`` and the run's
settings). A Python child that uses ZeroMQ then:

- leaves a marker, ``<pid>.armed``, with its first context: a child that
  dies without a report (SIGKILL, ``os._exit``), or still runs when the
  parent reports, is named in the parent's report instead of being lost;
- at its end writes its JSON report (with its ``ppid``) as ``<pid>.json``,
  atomically, and removes its marker; it prints no report of its own (the
  parent's covers it). :func:`deliver` does it once per process, whichever
  end comes first: ``atexit``; multiprocessing's own finalizers (its
  children end with ``os._exit`` after their target, and no ``atexit``
  runs); SIGTERM (multiprocessing's ``terminate()``), while the process
  leaves SIGTERM to its default action.

Imported only by a process that has armed zmqscope with ``ZMQSCOPE_TREE``
set (and by ``zmqscope run``, which makes and reads the folder).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

TREE_VARIABLE = "ZMQSCOPE_TREE"
MARKER_SUFFIX = ".armed"
REPORT_SUFFIX = ".json"
# Seconds a SIGTERM waits for the report before the process dies as it would have.
_SIGTERM_REPORT_WAIT = 5.0
# multiprocessing's finalizers with a priority run in decreasing order; the
# application's own (priority >= 0, a pool's) come first, and the server's
# files go last (-100, see _api._stop_with_multiprocessing).
_FINALIZER_PRIORITY = -90

_delivered_by = 0  # the pid that delivered its report (a forked child has not)
_LOCK_WAIT = 10.0  # seconds: another thread delivering now is done by then


def _new_lock() -> Any:
    from zmqscope import _native

    return _native.allocate_lock()


_deliver_lock = _new_lock()
_marked_by = 0  # the pid whose marker is written
_joined_by = 0  # the pid that set up its ends


def folder() -> Path | None:
    """The run's folder for this process's report, or None outside a run's tree."""
    value = os.environ.get(TREE_VARIABLE, "")
    return Path(value) if value else None


def join(root: int = 0) -> None:
    """This process is part of a run's tree: deliver its report at whichever end comes.

    ``root`` is the pid of ``zmqscope run`` itself (which reports for the
    tree and delivers nothing); its forked children join here too.
    """
    global _joined_by, _root
    if folder() is None:
        return
    _root = root or _root
    if _joined_by == 0:
        os.register_at_fork(after_in_child=_join_in_forked_child)
    _joined_by = os.getpid()
    if os.getpid() == _root:
        return
    from zmqscope.instrument import hooks

    hooks.when_first_context(_mark)
    _end_with_multiprocessing()
    if signal.getsignal(signal.SIGTERM) is _tree_sigterm_handler():
        _on_sigterm()  # a fork of a process that had it: watch again, in this process


_root = 0


def _join_in_forked_child() -> None:
    global _marked_by, _delivered_by, _deliver_lock
    _marked_by = 0
    _delivered_by = 0
    _deliver_lock = _new_lock()
    with contextlib.suppress(Exception):  # never stop a fork
        join()


def is_child() -> bool:
    """True in a process that delivers its report to a run's folder (not the run itself)."""
    return folder() is not None and _joined_by == os.getpid() and os.getpid() != _root


def _mark() -> None:
    """``<pid>.armed``: this process uses ZeroMQ and owes the run a report."""
    global _marked_by
    place = folder()
    if place is None or _marked_by == os.getpid() or _delivered_by == os.getpid():
        return
    _marked_by = os.getpid()
    from zmqscope import _native

    # In the application's thread, inside its first Context(): another of its
    # threads may fork meanwhile (see _native.fork_waits).
    _native.import_modules("zmqscope._files", "zmqscope.remote.runtime")
    from zmqscope._files import write_whole

    about = {"pid": os.getpid(), "ppid": os.getppid(), "argv": list(sys.argv)}
    with contextlib.suppress(Exception):  # a marker lost is a child not named; never a crash
        checked(place)
        write_whole(place / f"{os.getpid()}{MARKER_SUFFIX}", json.dumps(about), durable=False)
    # It owes a report now: SIGTERM must not lose it (from the main thread only).
    with contextlib.suppress(Exception):
        _on_sigterm()


def _on_sigterm() -> None:
    from zmqscope import _native

    _native.import_modules("zmqscope._tree_sigterm")
    from zmqscope import _tree_sigterm

    _tree_sigterm.install(deliver_or_say)


def _tree_sigterm_handler() -> object:
    module = sys.modules.get("zmqscope._tree_sigterm")
    return getattr(module, "_report_then_die", None) if module is not None else None


def checked(place: Path) -> Path:
    """``place`` if it is a folder of this user's closed to others (not a symlink)."""
    from zmqscope.remote.runtime import check_runtime_dir

    check_runtime_dir(place)
    return place


def deliver() -> bool:
    """Write this process's report into the run's folder, once; False if it has none.

    A process that imported zmq and never made a context or a socket has no
    report (as with ZMQSCOPE=1): its marker, if any, is removed.
    """
    global _delivered_by
    place = folder()
    # On SIGTERM two threads may try at once (see _tree_sigterm): one delivers.
    if place is None or not _deliver_lock.acquire(True, _LOCK_WAIT):
        return False
    try:
        if _delivered_by == os.getpid():
            return False
        _delivered_by = os.getpid()
        return _deliver_to(place)
    finally:
        _deliver_lock.release()


def _deliver_to(place: Path) -> bool:
    from dataclasses import replace

    from zmqscope import _api

    seen = _api.snapshot()
    marker = place / f"{os.getpid()}{MARKER_SUFFIX}"
    if not seen.contexts and not seen.sockets:
        _remove(marker)
        return False
    report = _api.exit_report()
    process = replace(report.snapshot.process, ppid=os.getppid())
    report = replace(report, snapshot=replace(report.snapshot, process=process))
    from zmqscope._files import write_whole
    from zmqscope.remote.runtime import RuntimeDirError, RuntimeDirMissing

    try:
        checked(place)
        # Not synced to disk: the run reads it as soon as this process ends.
        write_whole(place / f"{os.getpid()}{REPORT_SUFFIX}", report.to_json(), durable=False)
    except (RuntimeDirError, OSError) as error:
        # The run has reported and gone (this child outlived it), or the
        # folder cannot be trusted: the report goes to stderr, as without a run.
        from zmqscope import _stderr

        if isinstance(error, RuntimeDirMissing):
            why = "ended after the run that started it had reported"
        else:
            why = f"could not give its report to the run ({error})"
        print(
            f"zmqscope: process {os.getpid()} {why}; its own report:",
            file=_stderr.stream(),
            flush=True,
        )
        _api.emit_exit_report(report)
    else:
        _remove(marker)
    _write_own_files(report)
    return True


def deliver_or_say() -> None:
    """:func:`deliver`, with one line on stderr if it fails (never an exception)."""
    try:
        deliver()
    except Exception as error:
        from zmqscope import _stderr

        print(
            f"zmqscope: process {os.getpid()} could not make its report: {error}",
            file=_stderr.stream(),
            flush=True,
        )


def _write_own_files(report: Any) -> None:
    """``ZMQSCOPE_JSON``/``ZMQSCOPE_MARKDOWN`` with ``{pid}``: each child writes its own too."""
    from zmqscope._api import ReportFile, write_report_files

    files = []
    for variable, markdown in (("ZMQSCOPE_JSON", False), ("ZMQSCOPE_MARKDOWN", True)):
        path = os.environ.get(variable, "")
        if "{pid}" in path:
            files.append(
                ReportFile(path.replace("{pid}", str(os.getpid())), markdown, setting=variable)
            )
    write_report_files(report, files)


def _remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


# -- the ends of a child -------------------------------------------------------------


def _end_with_multiprocessing() -> None:
    """Deliver from multiprocessing's finalizers too: its children never run atexit.

    ``Process._bootstrap`` clears the finalizers after the spawn's prepare
    step (which may have imported zmq already, armed us and registered one),
    then runs the after-fork callbacks: one of them registers the finalizer
    again in the child that runs the target. Registered only in a
    multiprocessing child: in the main process multiprocessing's exit
    function runs before the application's own atexit handlers.
    """
    util = sys.modules.get("multiprocessing.util")
    process = sys.modules.get("multiprocessing.process")
    if util is None or process is None:
        return
    util.register_after_fork(_ANCHOR, _finalize_in_child)
    if process.parent_process() is not None:
        util.Finalize(None, deliver_or_say, exitpriority=_FINALIZER_PRIORITY)


class _Anchor:
    """What multiprocessing's after-fork registry holds (weakly): lives as long as we do."""


_ANCHOR = _Anchor()


def _finalize_in_child(anchor: object) -> None:
    util = sys.modules.get("multiprocessing.util")
    if util is not None and folder() is not None:
        util.Finalize(None, deliver_or_say, exitpriority=_FINALIZER_PRIORITY)
