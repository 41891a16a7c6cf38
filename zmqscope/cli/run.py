"""``zmqscope run``: run a script or module like ``python`` does, instrumented.

At exit it prints a one-line summary and, when sockets leaked, the report.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import os
import signal
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zmqscope import _bounds as bounds
from zmqscope._defaults import DEFAULT_GRACE, DEFAULT_STACK_DEPTH
from zmqscope._files import FileWriteError, check_writable, write_whole
from zmqscope._tree import TREE_VARIABLE
from zmqscope.cli._children import ChildFolder, ChildFolderError, ChildSettings
from zmqscope.cli._errors import EXIT_LEAKS, CommandError
from zmqscope.cli._target import Target, resolve_module, resolve_script


@dataclass(frozen=True)
class RunOptions:
    json: Path | None
    markdown: Path | None
    fail_on_leak: bool
    stack_depth: int
    serve: bool
    grace: float
    traffic: bool
    # The process the report files belong to: a forked child writes none.
    owner: int = 0
    # Follow the Python processes the application starts (--no-children: not).
    children: bool = True


def add_parser(commands: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = commands.add_parser(
        "run",
        help="run a Python script or module with zmqscope's instrumentation",
        description="""\
Run SCRIPT (or -m MODULE) as python does, record every ZeroMQ socket it makes,
and print a one-line summary at exit, with the report when sockets leaked.
SCRIPT may also be a folder or a zip file holding __main__.py. Everything after
SCRIPT (or -m MODULE) goes to the application, even when it looks like an option.""",
        epilog="""\
example:
  zmqscope run --fail-on-leak --json leaks.json app.py --port 5555

exit status: the application's own; 3 with --fail-on-leak when sockets leaked;
2 for bad usage, before the application starts.""",
    )
    _add_report_options(parser)
    _add_recording_options(parser)
    _add_target(parser)
    return parser


def _add_report_options(parser: argparse.ArgumentParser) -> None:
    """Where the exit report goes, and whether leaks fail the run."""
    parser.add_argument(
        "--json", metavar="PATH", help="also write the report there as JSON (default: none)"
    )
    parser.add_argument(
        "--markdown", metavar="PATH", help="also write it there as Markdown (default: none)"
    )
    parser.add_argument(
        "--fail-on-leak",
        action="store_true",
        help="exit with status 3 when sockets leaked (in any process of the run)",
    )
    parser.add_argument(
        "--no-children",
        action="store_true",
        help="do not instrument the Python processes the application starts"
        " (default: they are, and the report covers them)",
    )


def _add_recording_options(parser: argparse.ArgumentParser) -> None:
    """What the instrumentation records, and the server."""
    parser.add_argument(
        "--stack-depth",
        metavar="N",
        default=str(DEFAULT_STACK_DEPTH),
        help=f"frames kept per call site, 1 to {bounds.STACK_DEPTH_MAX}"
        f" (default {DEFAULT_STACK_DEPTH})",
    )
    parser.add_argument(
        "--grace",
        metavar="SECONDS",
        default=f"{DEFAULT_GRACE:g}",
        help="print the culprits when a term() blocks longer than this,"
        f" 0 to {bounds.GRACE_MAX:g} (default {DEFAULT_GRACE:g})",
    )
    parser.add_argument(
        "--traffic",
        action="store_true",
        help="also count messages and bytes per socket (costs throughput)",
    )
    parser.add_argument(
        "--no-serve",
        action="store_true",
        help="do not start the introspection server (default: it starts with the first context)",
    )


def _add_target(parser: argparse.ArgumentParser) -> None:
    """What to run: SCRIPT or -m MODULE, and the application's own arguments."""
    parser.add_argument(
        "-m", metavar="MODULE", dest="module", help="run a module, as python -m does"
    )
    parser.add_argument(
        "script",
        nargs="?",
        metavar="SCRIPT",
        help="the script to run, or a folder or zip file with __main__.py",
    )
    parser.add_argument(
        "args", nargs=argparse.REMAINDER, metavar="ARGS", help="the application's arguments"
    )


def split_arguments(
    args: Sequence[str], parser: argparse.ArgumentParser
) -> tuple[list[str], list[str]]:
    """(zmqscope's own options, [SCRIPT or -m MODULE, app args...]).

    Everything from the script (or the module after ``-m``) on belongs to the
    application, as with ``python``; an option of ``run`` that takes a value
    (as ``parser`` declares it) takes the next argument with it.
    """
    valued = _valued_options(parser)
    own: list[str] = []
    index = 0
    while index < len(args):
        token = args[index]
        if token == "--":
            return own, list(args[index + 1 :])
        if token == "-m" or not token.startswith("-") or token == "-":
            return own, list(args[index:])
        if token.startswith("-m"):  # ``-mMODULE``, as python accepts it
            return own, ["-m", token[2:], *args[index + 1 :]]
        own.append(token)
        if token in valued:
            index += 1
            if index < len(args):
                own.append(args[index])
        index += 1
    return own, []


def parse(args: Sequence[str], parser: argparse.ArgumentParser) -> tuple[RunOptions, Target]:
    """``parser``: the one :func:`add_parser` made."""
    own, rest = split_arguments(args, parser)
    namespace = parser.parse_args(own)
    try:
        stack_depth = bounds.stack_depth(namespace.stack_depth, "--stack-depth")
        grace = bounds.grace(namespace.grace, "--grace")
    except ValueError as error:
        raise CommandError(str(error)) from None
    options = RunOptions(
        json=_output_path(namespace.json, "--json"),
        markdown=_output_path(namespace.markdown, "--markdown"),
        fail_on_leak=namespace.fail_on_leak,
        stack_depth=stack_depth,
        serve=not namespace.no_serve,
        grace=grace,
        traffic=namespace.traffic,
        owner=os.getpid(),
        children=not namespace.no_children,
    )
    if not rest:
        raise CommandError("nothing to run: give a SCRIPT or -m MODULE")
    if rest[0] == "-m":
        if len(rest) < 2:
            raise CommandError("-m needs a MODULE name")
        return options, Target(kind="module", name=rest[1], args=tuple(rest[2:]))
    return options, Target(kind="script", name=rest[0], args=tuple(rest[1:]))


def _output_path(value: str | None, option: str) -> Path | None:
    """A report path that can be written, made absolute; checked before the app runs."""
    if value is None:
        return None
    try:
        check_writable(value)
    except FileWriteError as error:
        raise CommandError(f"{option}: {error}") from None
    # Absolute now: the application may chdir before the report is written.
    return Path(value).absolute()


def _valued_options(parser: argparse.ArgumentParser) -> set[str]:
    """``--json``, ``--grace``...: the options that take a value (flags take none)."""
    valued: set[str] = set()
    for option, action in parser._option_string_actions.items():
        if action.nargs != 0 and option.startswith("--"):
            valued.add(option)
    return valued


def main(args: Sequence[str], parser: argparse.ArgumentParser) -> int:
    """Run the application; return the exit status zmqscope should end with."""
    options, target = parse(args, parser)
    # A run inside another run's tree reports on its own stderr (its own
    # children go to its own folder): it is not the outer run's child.
    os.environ.pop(TREE_VARIABLE, None)

    # pyzmq first, on its own: with ZMQSCOPE=1 inherited, its import arms
    # zmqscope (_autoinstall), which needs zmqscope.instrument.hooks whole, not halfway
    # through its own import of zmq.
    import zmq  # noqa: F401

    import zmqscope
    from zmqscope import _autoinstall, _stderr
    from zmqscope._api import exit_report, serve_when_needed
    from zmqscope.instrument import hooks

    # Hooks go in before anything of the application is imported (for -m,
    # that includes its parent packages).
    _autoinstall.leave_to_run()
    _stderr.keep()  # reports go where the user ran us, whatever the app does to fd 2
    hooks.ignore_file(sys.argv[0])  # the ``zmqscope`` launcher script
    zmqscope.install(traffic=options.traffic, stack_depth=options.stack_depth, grace=options.grace)
    if options.json is not None:
        _write_json_when_term_blocks(options.json, options.owner)
    if options.serve:
        # With the application's first context, not now: no thread of ours
        # may run before an application monkey-patches with gevent, and
        # sys.argv is the application's by then ('zmqscope ls' shows it).
        serve_when_needed()
    resolved = resolve_module(target) if target.kind == "module" else resolve_script(target)
    children = _follow_children(options) if options.children else None

    outcome = resolved.execute()
    status, waited = _settle(outcome)
    report = exit_report()
    notes: list[str] = []
    if children is not None and os.getpid() == options.owner:
        report, notes = children.gather(report)
    status = _emit(report, options, status, notes)
    if children is not None and os.getpid() == options.owner:
        children.remove()
    if isinstance(outcome, KeyboardInterrupt):
        _die_of_sigint()
    if not waited:
        # The interpreter would wait for the same stuck threads again.
        _exit_now(status)
    return status


def _follow_children(options: RunOptions) -> ChildFolder | None:
    """Make the tree's folder and hand the run's settings to the children (environment).

    Without a folder it can trust (a runtime folder open to others, say) the
    application still runs, its children as they would without zmqscope:
    one line says so, as for a server that cannot start.
    """
    from zmqscope import _stderr, _tree

    try:
        children = ChildFolder.make()
    except ChildFolderError as error:
        print(
            f"zmqscope: not following child processes: {error}", file=_stderr.stream(), flush=True
        )
        return None
    children.export(
        ChildSettings(
            stack_depth=options.stack_depth,
            grace=options.grace,
            traffic=options.traffic,
            serve=options.serve,
            json=options.json,
            markdown=options.markdown,
        )
    )
    _tree.join(root=os.getpid())  # its forked children (multiprocessing's fork) join too
    return children


def _write_json_when_term_blocks(path: Path, owner: int) -> None:
    """A hung term() may never let the process reach its exit report: write now."""
    from zmqscope import _stderr
    from zmqscope._api import add_shutdown_listener, blocked_report
    from zmqscope.instrument.watchdog import BlockedTerm

    def write(event: object) -> None:
        # The file is the process's that run started; a forked child's
        # blocked term() is reported on its stderr only.
        if isinstance(event, BlockedTerm) and os.getpid() == owner:
            try:
                write_whole(str(path).replace("{pid}", str(owner)), blocked_report(event).to_json())
            except OSError as error:
                print(f"zmqscope: error: {error}", file=_stderr.stream(), flush=True)

    add_shutdown_listener(write)


def _settle(outcome: BaseException | None) -> tuple[int, bool]:
    """Do what the interpreter does after ``__main__`` ends, before our report.

    Like Python: report an uncaught exception, wait for non-daemon threads,
    then run atexit handlers, so sockets they close are not called leaks.
    Returns the exit status and whether the threads were waited for: a
    Ctrl-C during that wait (the second one, often: the first stopped the
    main thread) stops waiting, as it does Python's, and the report is still
    made.
    """
    from zmqscope import _stderr

    status = 0
    if isinstance(outcome, SystemExit):
        status = _system_exit_status(outcome)
    elif outcome is not None:
        # As the interpreter does before its hook: post-mortem tools read these.
        sys.last_type, sys.last_value = type(outcome), outcome
        sys.last_traceback = outcome.__traceback__
        if sys.version_info >= (3, 12):
            sys.last_exc = outcome
        sys.excepthook(type(outcome), outcome, outcome.__traceback__)
        status = 1
    waited = True
    try:
        _wait_for_threads()
    except KeyboardInterrupt:
        waited = False
        running = [t.name for t in threading.enumerate() if t.is_alive() and not t.daemon]
        running = [name for name in running if name != threading.main_thread().name]
        print(
            "zmqscope: interrupted while waiting for threads to end "
            f"({', '.join(running) or 'none left'}); reporting now",
            file=_stderr.stream(),
            flush=True,
        )
    # Private but present in every supported Python: it runs the handlers
    # once, in the interpreter's order, and clears them.
    atexit._run_exitfuncs()
    return status, waited


def _wait_for_threads() -> None:
    """Wait for non-daemon threads as the interpreter does at exit.

    ``threading._shutdown`` first runs the callbacks registered with
    ``threading._register_atexit``: concurrent.futures uses them to tell idle
    pool workers to stop. Joining the threads without them would wait forever
    for a ThreadPoolExecutor the application never shut down. The interpreter
    calls it again at exit; the second call returns at once.
    """
    shutdown = getattr(threading, "_shutdown", None)
    if shutdown is not None and threading.current_thread() is threading.main_thread():
        shutdown()
        return
    main_thread = threading.main_thread()
    for thread in threading.enumerate():
        if thread is not main_thread and not thread.daemon:
            thread.join()


def _system_exit_status(exit: SystemExit) -> int:
    code = exit.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def _emit(report: Any, options: RunOptions, status: int, notes: Sequence[str] = ()) -> int:
    """Print the report, write its files; the status to exit with (the app's, or 3)."""
    from zmqscope import _tree
    from zmqscope._api import ReportFile, emit_exit_report

    if _tree.is_child():  # a forked child of the run: its report is the run's to print
        _tree.deliver_or_say()
        return status
    pid = str(os.getpid())
    files = [
        ReportFile(str(path).replace("{pid}", pid), markdown=markdown)
        for path, markdown in ((options.json, False), (options.markdown, True))
        if path is not None
    ]
    if files and os.getpid() != options.owner:
        # A forked child (a daemonizing application) ends here too: the
        # files are the report of the process run started, not the child's.
        names = " and ".join(str(file.path) for file in files)
        note = (
            f"zmqscope: process {os.getpid()} is a fork of {options.owner}: "
            f"its report is not written to {names} (they are {options.owner}'s)"
        )
        emit_exit_report(report, notes=[*notes, note])
    else:
        emit_exit_report(report, files, notes)
    if options.fail_on_leak and report.has_leaks:
        return EXIT_LEAKS
    return status


def _exit_now(status: int) -> None:
    """End without the interpreter's own wait for threads (atexit has run already)."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            if stream is not None:
                stream.flush()
    os._exit(status & 0xFF)  # what the system keeps of sys.exit(n) too


def _die_of_sigint() -> None:
    # Python ends on an uncaught KeyboardInterrupt by re-raising SIGINT, so
    # the parent shell sees "killed by SIGINT"; keep that.
    sys.stdout.flush()
    sys.stderr.flush()
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGINT)
