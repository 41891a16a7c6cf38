"""The ``zmqscope`` command: one module per subcommand, wired here."""

from __future__ import annotations

import argparse
import contextlib
import difflib
import importlib
import os
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from zmqscope import _platform
from zmqscope._version import __version__
from zmqscope.cli._errors import EXIT_BROKEN_PIPE, EXIT_INTERRUPTED, EXIT_USAGE, CommandError
from zmqscope.model.wording import visible

__all__ = ["CommandError", "main"]

# One module each, in the order ``zmqscope --help`` lists them; imported when
# the parser is built, after the platform check (on Windows they cannot load).
_COMMANDS = ("run", "attach", "ls", "report", "topology", "demo")


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (and exit status 2).

    Abbreviated options are refused: ``run`` splits its own options from the
    application's before argparse sees them, by their full names.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        # Descriptions and examples keep the line breaks they were written with.
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        raise CommandError(f"{message} (see '{self.prog} --help')")


def build_parser() -> tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    """The ``zmqscope`` parser, and its ``run`` command's (which parses apart)."""
    parser = _Parser(
        prog="zmqscope",
        description="Socket-lifecycle diagnostics for pyzmq applications.",
        epilog="Run 'zmqscope COMMAND --help' for a command's arguments and an example.",
    )
    parser.add_argument("--version", action="version", version=f"zmqscope {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    parsers = {}
    for name in _COMMANDS:
        module = importlib.import_module(f"zmqscope.cli.{name}")
        parsers[name] = module.add_parser(commands)
        parsers[name].set_defaults(entrypoint=module.main)
    return parser, parsers["run"]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``zmqscope`` console script and ``python -m zmqscope``.

    Ctrl-C ends any command quietly with status 130 (``run`` leaves the
    application's own to the application); a reader that goes away (``zmqscope
    ls --json | head -1``) ends it quietly with status 141, as it ends ``cat``.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    unsupported = _platform.problem()
    if unsupported is not None:
        _say(f"zmqscope: error: {unsupported}")
        return EXIT_USAGE
    try:
        return _dispatch(args)
    except CommandError as error:
        # The message may quote what the user typed or a file named: shown, not obeyed.
        _say(f"zmqscope: error: {visible(str(error))}")
        return error.exit_code
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED  # the user pressed Ctrl-C: nothing to explain
    except BrokenPipeError:
        return _reader_gone()


def _dispatch(args: list[str]) -> int:
    parser, run_parser = build_parser()
    if args[:1] == ["run"]:
        from zmqscope.cli import run as run_command

        # ``run`` hands everything after the script to the application,
        # so it splits its own arguments before argparse sees them.
        return run_command.main(args[1:], run_parser)
    _check_command(args)
    namespace = parser.parse_args(args)
    if namespace.command is None:
        parser.print_usage(sys.stderr)
        _say("zmqscope: a COMMAND is needed (see 'zmqscope --help')")
        return EXIT_USAGE
    status: int = namespace.entrypoint(namespace)
    # A reader that went away shows up here, not as a traceback at exit.
    sys.stdout.flush()
    return status


def _check_command(args: list[str]) -> None:
    """An unknown command is named, with the one the user probably meant."""
    if not args or args[0].startswith("-"):
        return
    names = list(_COMMANDS)
    if args[0] in names:
        return
    close = difflib.get_close_matches(args[0], names, n=1)
    if close:
        raise CommandError(
            f"unknown command {args[0]!r} (did you mean {close[0]!r}? "
            f"see 'zmqscope {close[0]} --help')"
        )
    raise CommandError(
        f"unknown command {args[0]!r}: the commands are {', '.join(names)} (see 'zmqscope --help')"
    )


def _say(line: str) -> None:
    """One line on stderr, unless stderr itself is gone."""
    with contextlib.suppress(OSError, ValueError):
        print(line, file=sys.stderr, flush=True)


def _reader_gone() -> int:
    """Stop writing to a pipe nobody reads, without the interpreter complaining at exit."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        # What is still buffered for stdout goes nowhere when Python flushes it.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    return EXIT_BROKEN_PIPE
