"""The one error type every command raises for problems a user can cause, and exit statuses."""

from __future__ import annotations

from zmqscope._errors import ZmqscopeError

EXIT_USAGE = 2  # bad usage or bad input: missing script, unknown pid, bad report
EXIT_LEAKS = 3  # ``run --fail-on-leak`` and the report has leaks
EXIT_DIAGNOSES = 3  # ``topology --fail-on-diagnosis`` and the wiring has a diagnosis
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT), as shells report a command it stopped
EXIT_BROKEN_PIPE = 141  # the reader went away (128 + SIGPIPE), as ``yes | head -1`` reports


class CommandError(ZmqscopeError):
    """Shown as one line on stderr, then the process exits with ``exit_code``."""

    def __init__(self, message: str, exit_code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.exit_code = exit_code
