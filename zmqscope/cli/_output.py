"""The console the commands print to: stdout, as a Unix tool writes it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console


def stdout_console(**options: Any) -> Console:
    """A rich console on stdout whose closed pipe ends the command as any other write's does.

    rich answers a reader that went away with ``SystemExit(1)``; the command
    line answers it with status 141, quietly (see :func:`zmqscope.cli.main`).
    """
    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:
            self.quiet = True
            raise BrokenPipeError

    return _Console(highlight=False, **options)
