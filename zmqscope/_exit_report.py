"""Where a running process will write its exit report, read from outside it.

A TUI attached to a process that then exits shows its final state from the
report the process wrote as it exited, when it wrote one. The server does
not say where (nor need it): the process's command line says
``zmqscope run --json PATH``, its environment ``ZMQSCOPE_JSON=PATH``. Both
are read with psutil while the process runs (a process that is gone has no
command line left to read); relative paths are taken from its working
folder then.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import psutil

# Options of ``zmqscope run`` that take a value (``--json`` aside).
_VALUED = frozenset({"--markdown", "--grace", "--stack-depth"})


def exit_report_paths(pid: int) -> tuple[Path, ...]:
    """Where process ``pid`` will write its JSON exit report (empty: nowhere we know of).

    Best effort: only this user's processes can be read, and an option
    spelt in a way ``zmqscope run`` also accepts but this does not look for
    (an abbreviation, ``--js``) is missed.
    """
    try:
        process = psutil.Process(pid)
        with process.oneshot():
            argv = process.cmdline()
            cwd = process.cwd()
            environment = process.environ()
    except (psutil.Error, OSError):
        return ()
    run = _run_options(argv)
    if run is not None:
        chosen = _option_value(run, "--json")
        chosen = chosen.replace("{pid}", str(pid)) if chosen else chosen
    else:
        chosen = _environment_path(environment, pid)
    if not chosen:
        return ()
    return (Path(cwd, chosen),)  # an absolute path stays as it is


def _environment_path(environment: dict[str, str], pid: int) -> str | None:
    if environment.get("ZMQSCOPE", "").strip().lower() in ("", "0", "false", "no", "off"):
        return None
    path = environment.get("ZMQSCOPE_JSON")
    return path.replace("{pid}", str(pid)) if path else None


def _run_options(argv: Sequence[str]) -> list[str] | None:
    """The options ``zmqscope run`` got (up to the script or ``-m``), or None if not run."""
    for index, word in enumerate(argv):
        if word != "run" or index == 0:
            continue
        before = argv[index - 1]
        launcher = os.path.basename(before) == "zmqscope"
        module = before == "zmqscope" and index >= 2 and argv[index - 2] == "-m"
        if launcher or module:
            options = []
            rest = iter(argv[index + 1 :])
            for option in rest:
                if option in ("-m", "--") or not option.startswith("-"):
                    break
                options.append(option)
                if option == "--json" or option in _VALUED:
                    options.append(next(rest, ""))
            return options
    return None


def _option_value(options: Sequence[str], name: str) -> str | None:
    value = None
    for index, option in enumerate(options):
        if option == name and index + 1 < len(options):
            value = options[index + 1]
        elif option.startswith(name + "="):
            value = option[len(name) + 1 :]
    return value  # the last one counts, as for argparse
