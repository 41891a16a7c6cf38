"""Plain-text wording both the reports and the TUI use (standard library only)."""

from __future__ import annotations

import os
import re
from pathlib import PurePath

# C0 and C1 control characters, DEL included: a name or path holding them
# could move the cursor, recolour a terminal or break a table row.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def visible(text: str) -> str:
    """``text`` with its control characters shown as escapes (``\\n``, ``\\x1b``)."""
    if not _CONTROL.search(text):
        return text
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)


def display_path(file: str, cwd: str | None = None) -> str:
    """``file`` relative to the working directory when under it, else unchanged.

    Relative paths are what a developer can paste into an editor from the
    project root (and what CI logs show); anything outside stays absolute so
    it is never ambiguous.
    """
    if not os.path.isabs(file):
        return file  # "<string>", "<frozen runpy>" and the like
    if cwd is None:
        try:
            cwd = os.getcwd()
        except OSError:  # the working directory was deleted under us
            return file
    try:
        return str(PurePath(file).relative_to(cwd))
    except ValueError:
        return file


def call_name(function: str) -> str:
    """``start()`` for a function, but ``<module>`` as Python's tracebacks say it."""
    return function if function.startswith("<") else f"{function}()"


def byte_size(count: int) -> str:
    """``300 B``, ``1.2 KB``, ``3.4 MB``: decimal units, as network tools count."""
    if count < 1000:
        return f"{count} B"
    value = float(count)
    for unit in ("KB", "MB", "GB"):
        value /= 1000
        # 999.96 KB would print as "1000.0 KB"; move up a unit before that.
        if value < 999.95:
            return f"{value:.1f} {unit}"
    return f"{value / 1000:.1f} TB"
