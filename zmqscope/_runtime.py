"""Where servers put their sockets and discovery files, and who may read them.

``$XDG_RUNTIME_DIR/zmqscope`` when that is set, else ``<tmp>/zmqscope-<uid>``.
The folder must be this user's own and closed to everyone else (0700); a
folder owned by another user or open to others is refused, not repaired.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path


class RuntimeDirError(Exception):
    """The runtime folder cannot be used safely; the message says why."""


def runtime_dir() -> Path:
    """The folder for this user's servers (not created)."""
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg:
        return Path(xdg) / "zmqscope"
    return Path(tempfile.gettempdir()) / f"zmqscope-{os.getuid()}"


def ensure_runtime_dir() -> Path:
    """Create the folder 0700 if needed; refuse one that others could use."""
    folder = runtime_dir()
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    except FileExistsError:
        pass  # a file or a link to one: check_runtime_dir says so
    except OSError as error:
        raise RuntimeDirError(f"cannot create {folder}: {error.strerror}") from None
    check_runtime_dir(folder)
    return folder


def check_runtime_dir(folder: Path) -> None:
    try:
        info = folder.lstat()
    except OSError as error:
        raise RuntimeDirError(f"cannot use {folder}: {error.strerror}") from None
    if not stat.S_ISDIR(info.st_mode):
        raise RuntimeDirError(f"refusing {folder}: it is not a folder")
    if info.st_uid != os.getuid():
        raise RuntimeDirError(f"refusing {folder}: it belongs to uid {info.st_uid}, not to you")
    if info.st_mode & 0o077:
        mode = stat.S_IMODE(info.st_mode)
        raise RuntimeDirError(
            f"refusing {folder}: other users can use it (mode {mode:04o}; run chmod 700)"
        )


def discovery_path(pid: int) -> Path:
    return runtime_dir() / f"{pid}.json"


def ipc_path(pid: int) -> Path:
    return runtime_dir() / f"{pid}.ipc"
