"""Where the TUI's ``e`` (export) writes: the user's state folder, never the current one.

Under ``make demo`` the current folder is a git checkout, and a snapshot
written there showed up in ``git status``. The XDG base directory
specification's state home is for data worth keeping that is not a document
the user made: ``$XDG_STATE_HOME/zmqscope``, by default
``~/.local/state/zmqscope``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from zmqscope._files import write_whole


def export_folder() -> Path:
    """``$XDG_STATE_HOME/zmqscope`` (an absolute ``XDG_STATE_HOME`` only), else
    ``~/.local/state/zmqscope``."""
    state = os.environ.get("XDG_STATE_HOME", "")
    base = Path(state) if os.path.isabs(state) else Path.home() / ".local" / "state"
    return base / "zmqscope"


def export_path(folder: Path, pid: int, when: float) -> Path:
    """``folder/zmqscope-PID-YYYYmmdd-HHMMSS.json`` (local time)."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(when))
    return folder / f"zmqscope-{pid}-{stamp}.json"


def write_export(folder: Path, pid: int, when: float, document: str) -> Path:
    """Write ``document`` as ``export_path(...)``, making the folder (0700) if needed.

    Written whole and never through a symlink (``_files.write_whole``): a
    FileWriteError says why not.
    """
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = export_path(folder, pid, when)
    write_whole(path, document)
    return path
