"""``zmqscope run``: run a script or module like ``python`` does, instrumented.

At exit it prints a one-line summary and, when sockets leaked, the report.
"""

from __future__ import annotations

import argparse
import atexit
import os
import signal
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


def add_parser(commands: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = commands.add_parser(
        "run",
        help="run a Python script or module with zmqscope's instrumentation",
        description="Run SCRIPT (or -m MODULE) like python does, record every ZeroMQ socket, "
        "and print a leak report at exit.",
    )
    parser.add_argument("--json", metavar="PATH", type=Path, help="write the report as JSON")
    parser.add_argument("--markdown", metavar="PATH", type=Path, help="write it as Markdown")
    parser.add_argument(
        "--fail-on-leak", action="store_true", help="exit with status 3 when sockets leaked"
    )
    parser.add_argument(
        "--stack-depth",
        metavar="N",
        type=int,
        default=12,
        help="frames kept per call site (default 12)",
    )
    parser.add_argument(
        "--grace",
        metavar="SECONDS",
        type=float,
        default=5.0,
        help="report the culprits when term() blocks longer than this (default 5)",
    )
    parser.add_argument(
        "--traffic",
        action="store_true",
        help="also count messages and bytes per socket (costs throughput)",
    )
    parser.add_argument(
        "--no-serve", action="store_true", help="do not start the introspection server"
    )
    parser.add_argument("-m", metavar="MODULE", dest="module", help="run a library module")
    parser.add_argument("script", nargs="?", metavar="SCRIPT", help="the script to run")
    parser.add_argument("args", nargs=argparse.REMAINDER, metavar="ARGS")
    return parser


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
    if namespace.stack_depth < 1:
        raise CommandError("--stack-depth must be at least 1")
    if not namespace.grace >= 0:  # also rejects nan
        raise CommandError("--grace must be zero or more seconds")
    for path in (namespace.json, namespace.markdown):
        if path is not None and not path.parent.resolve().is_dir():
            raise CommandError(f"cannot write {path}: folder {path.parent} does not exist")
    # Absolute now: the application may chdir before the report is written.
    options = RunOptions(
        json=namespace.json.absolute() if namespace.json is not None else None,
        markdown=namespace.markdown.absolute() if namespace.markdown is not None else None,
        fail_on_leak=namespace.fail_on_leak,
        stack_depth=namespace.stack_depth,
        serve=not namespace.no_serve,
        grace=namespace.grace,
        traffic=namespace.traffic,
    )
    if not rest:
        raise CommandError("nothing to run: give a SCRIPT or -m MODULE")
    if rest[0] == "-m":
        if len(rest) < 2:
            raise CommandError("-m needs a MODULE name")
        return options, Target(kind="module", name=rest[1], args=tuple(rest[2:]))
    return options, Target(kind="script", name=rest[0], args=tuple(rest[1:]))


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

    import zmqscope
    from zmqscope import _autoinstall, _stderr, hooks
    from zmqscope._api import exit_report, serve_when_needed

    # Hooks go in before anything of the application is imported (for -m,
    # that includes its parent packages).
    _autoinstall.leave_to_run()
    _stderr.keep()  # reports go where the user ran us, whatever the app does to fd 2
    hooks.ignore_file(sys.argv[0])  # the ``zmqscope`` launcher script
    zmqscope.install(traffic=options.traffic, stack_depth=options.stack_depth, grace=options.grace)
    if options.json is not None:
        _write_json_when_term_blocks(options.json)
    if options.serve:
        # With the application's first context, not now: no thread of ours
        # may run before an application monkey-patches with gevent, and
        # sys.argv is the application's by then ('zmqscope ls' shows it).
        serve_when_needed()
    resolved = resolve_module(target) if target.kind == "module" else resolve_script(target)

    outcome = resolved.execute()
    status = _settle(outcome)
    report = exit_report()
    status = _emit(report, options, status)
    if isinstance(outcome, KeyboardInterrupt):
        _die_of_sigint()
    return status


def _write_json_when_term_blocks(path: Path) -> None:
    """A hung term() may never let the process reach its exit report: write now."""
    from zmqscope._api import add_shutdown_listener, blocked_report
    from zmqscope.shutdown import BlockedTerm

    def write(event: object) -> None:
        if isinstance(event, BlockedTerm):
            # Whole or not at all: someone may read it while the app hangs.
            partial = path.with_name(path.name + ".partial")
            partial.write_text(blocked_report(event).to_json(), encoding="utf-8")
            os.replace(partial, path)

    add_shutdown_listener(write)


def _settle(outcome: BaseException | None) -> int:
    """Do what the interpreter does after ``__main__`` ends, before our report.

    Like Python: report an uncaught exception, wait for non-daemon threads,
    then run atexit handlers, so sockets they close are not called leaks.
    """
    status = 0
    if isinstance(outcome, SystemExit):
        status = _system_exit_status(outcome)
    elif outcome is not None:
        sys.excepthook(type(outcome), outcome, outcome.__traceback__)
        status = 1
    _wait_for_threads()
    # Private but present in every supported Python: it runs the handlers
    # once, in the interpreter's order, and clears them.
    atexit._run_exitfuncs()
    return status


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


def _emit(report: Any, options: RunOptions, status: int) -> int:
    from zmqscope import _stderr
    from zmqscope.reporting import render_exit

    _stderr.console().print(render_exit(report), crop=False)
    try:
        if options.json is not None:
            options.json.write_text(report.to_json(), encoding="utf-8")
        if options.markdown is not None:
            options.markdown.write_text(report.to_markdown(), encoding="utf-8")
    except OSError as error:
        print(f"zmqscope: error: cannot write the report: {error}", file=sys.stderr)
        return 2
    if options.fail_on_leak and report.has_leaks:
        return EXIT_LEAKS
    return status


def _die_of_sigint() -> None:
    # Python ends on an uncaught KeyboardInterrupt by re-raising SIGINT, so
    # the parent shell sees "killed by SIGINT"; keep that.
    sys.stdout.flush()
    sys.stderr.flush()
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGINT)
