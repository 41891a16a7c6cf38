"""The ``zmqscope`` command: one module per subcommand, wired here."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from zmqscope._version import __version__
from zmqscope.cli import attach as attach_command
from zmqscope.cli import demo as demo_command
from zmqscope.cli import ls as ls_command
from zmqscope.cli import report as report_command
from zmqscope.cli import run as run_command
from zmqscope.cli._errors import EXIT_USAGE, CommandError
from zmqscope.model._text import visible

__all__ = ["CommandError", "main"]


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (and exit status 2).

    Abbreviated options are refused: ``run`` splits its own options from the
    application's before argparse sees them, by their full names.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        raise CommandError(f"{message} (see '{self.prog} --help')")


def build_parser() -> tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    """The ``zmqscope`` parser, and its ``run`` command's (which parses apart)."""
    parser = _Parser(
        prog="zmqscope",
        description="Socket-lifecycle diagnostics for pyzmq applications.",
    )
    parser.add_argument("--version", action="version", version=f"zmqscope {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    run_parser = run_command.add_parser(commands)
    attach_command.add_parser(commands)
    demo_command.add_parser(commands)
    ls_command.add_parser(commands)
    report_command.add_parser(commands)
    return parser, run_parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``zmqscope`` console script and ``python -m zmqscope``."""
    args = list(sys.argv[1:] if argv is None else argv)
    parser, run_parser = build_parser()
    try:
        if args[:1] == ["run"]:
            # ``run`` hands everything after the script to the application,
            # so it splits its own arguments before argparse sees them.
            return run_command.main(args[1:], run_parser)
        namespace = parser.parse_args(args)
        if namespace.command is None:
            parser.print_help(sys.stderr)
            return EXIT_USAGE
        commands = {
            "attach": attach_command.main,
            "demo": demo_command.main,
            "ls": ls_command.main,
            "report": report_command.main,
        }
        return commands[namespace.command](namespace)
    except CommandError as error:
        # The message may quote what the user typed or a file named: shown, not obeyed.
        print(f"zmqscope: error: {visible(str(error))}", file=sys.stderr)
        return error.exit_code
