"""Writing report files: whole or not at all, never through a symlink.

Every file zmqscope writes for a user (``run --json/--markdown``, the JSON a
blocked ``term()`` writes, ``ZMQSCOPE_JSON``/``ZMQSCOPE_MARKDOWN``, the pytest
plugin's files, the TUI's export, a server's discovery file) goes through
:func:`write_whole`:

- the text goes to a new temporary file in the same folder, created
  exclusively (``O_CREAT | O_EXCL | O_NOFOLLOW``, under a random name: a
  name planted beforehand, a symlink say, makes the creation fail instead
  of being followed), synced to disk, then renamed over the target. A reader
  sees the old file or the new one, never a part; a write that fails (a
  full disk, ``ulimit -f``) leaves the old report as it was;
- an existing target must be a regular file of this user's: a symlink
  (planted in ``/tmp`` by another user, say) or another user's file is
  refused, with the reason in one line (:class:`FileWriteError`);
- a new file is 0600 (a report holds the command line, paths and stacks);
  one that replaces a file of the user's keeps that file's mode.

:func:`check_writable` asks the same questions before anything is written,
so that ``zmqscope run`` can refuse a bad path before the application runs.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from pathlib import Path

from zmqscope._errors import ZmqscopeError

NEW_FILE_MODE = 0o600
_OPEN_FOLDER = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
_CREATE_NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_TRIES = 8  # random temporary names tried before giving up


class FileWriteError(ZmqscopeError, OSError):
    """A file cannot be written safely; ``str()`` is one line saying which and why."""

    def __init__(self, path: Path | str, reason: str) -> None:
        super().__init__(f"cannot write {path}: {reason}")
        self.path = str(path)
        self.reason = reason

    def __str__(self) -> str:
        return f"cannot write {self.path}: {self.reason}"


def check_writable(path: Path | str) -> None:
    """Raise :class:`FileWriteError` unless a report could be written at ``path`` now."""
    text = os.fspath(path)
    if not text:
        raise FileWriteError("''", "an empty path")
    target = Path(text)
    if text.endswith(os.sep) or target.name in ("", ".", ".."):
        raise FileWriteError(target, "it names a folder, not a file")
    folder = target.parent
    try:
        descriptor = os.open(folder, _OPEN_FOLDER)
    except OSError as error:
        raise FileWriteError(target, _folder_reason(folder, error)) from None
    try:
        _check_target(descriptor, target)
        if not os.access(folder, os.W_OK | os.X_OK):
            raise FileWriteError(target, f"folder {folder} is not writable")
    finally:
        os.close(descriptor)


def write_whole(
    path: Path | str, text: str | bytes, mode: int = NEW_FILE_MODE, durable: bool = True
) -> None:
    """Write ``text`` to ``path`` atomically (see the module's docstring).

    ``durable=False`` skips syncing to disk (still whole, still atomic): for
    files read at once and removed, such as a child's report to its run.

    :class:`FileWriteError` (an :class:`OSError`) if it cannot: the target
    is then as it was, and no temporary file is left behind.
    """
    target = Path(os.fspath(path))
    if not os.fspath(path) or target.name in ("", ".", ".."):
        raise FileWriteError(target, "it names a folder, not a file")
    data = text.encode("utf-8") if isinstance(text, str) else text
    try:
        folder = os.open(target.parent, _OPEN_FOLDER)
    except OSError as error:
        raise FileWriteError(target, _folder_reason(target.parent, error)) from None
    try:
        existing = _check_target(folder, target)
        if existing is not None:
            mode = stat.S_IMODE(existing.st_mode)
        temporary, descriptor = _create_temporary(folder, target)
        try:
            _fill(descriptor, data, mode, durable)
            # Renaming replaces the name, whatever it is by now (a symlink
            # planted since the check included): nothing is written through it.
            os.replace(temporary, target.name, src_dir_fd=folder, dst_dir_fd=folder)
        except BaseException as error:
            with contextlib.suppress(OSError):
                os.unlink(temporary, dir_fd=folder)
            if isinstance(error, OSError):
                raise FileWriteError(target, _reason(error)) from None
            raise
        if durable:
            with contextlib.suppress(OSError):
                os.fsync(folder)  # the rename itself, on disk
    finally:
        os.close(folder)


def _check_target(folder: int, target: Path) -> os.stat_result | None:
    """The target's status if it exists and may be replaced; None if it does not exist."""
    try:
        info = os.stat(target.name, dir_fd=folder, follow_symlinks=False)
    except FileNotFoundError:
        return None
    except OSError as error:
        raise FileWriteError(target, _reason(error)) from None
    if stat.S_ISLNK(info.st_mode):
        raise FileWriteError(target, "it is a symlink (zmqscope never writes through one)")
    if stat.S_ISDIR(info.st_mode):
        raise FileWriteError(target, "it is a folder")
    if not stat.S_ISREG(info.st_mode):
        raise FileWriteError(target, "it is not a regular file")
    if info.st_uid != os.getuid():
        raise FileWriteError(target, f"it belongs to uid {info.st_uid}, not to you")
    return info


def _create_temporary(folder: int, target: Path) -> tuple[str, int]:
    for _ in range(_TRIES):
        name = f".{target.name}.{secrets.token_hex(6)}.tmp"
        try:
            return name, os.open(name, _CREATE_NEW, NEW_FILE_MODE, dir_fd=folder)
        except FileExistsError:
            continue  # planted, or a very unlikely collision: another name
        except OSError as error:
            raise FileWriteError(target, _reason(error)) from None
    raise FileWriteError(target, "no temporary name was free in its folder")


def _fill(descriptor: int, data: bytes, mode: int, durable: bool = True) -> None:
    try:
        if mode != NEW_FILE_MODE:
            os.fchmod(descriptor, mode)
        view = memoryview(data)
        while view:
            written = os.write(descriptor, view)
            view = view[written:]
        if durable:
            os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _folder_reason(folder: Path, error: OSError) -> str:
    if error.errno == errno.ENOENT:
        return f"folder {folder} does not exist"
    if error.errno == errno.ENOTDIR:
        return f"{folder} is not a folder"
    if error.errno == errno.EACCES:
        return f"folder {folder} is not accessible"
    return _reason(error)


def _reason(error: OSError) -> str:
    if error.errno == errno.EFBIG:
        return "the file size limit was reached (ulimit -f); the previous file is unchanged"
    if error.errno == errno.ENOSPC:
        return "no space left on the device; the previous file is unchanged"
    return error.strerror or str(error)
