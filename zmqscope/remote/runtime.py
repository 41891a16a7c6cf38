"""Where servers put their sockets and discovery files, and who may read them.

``$XDG_RUNTIME_DIR/zmqscope`` when ``XDG_RUNTIME_DIR`` names an existing
folder of this user by an absolute path, else ``<tmp>/zmqscope-<uid>``. Only
the ``zmqscope`` folder itself is ever created, never the root above it: a
root that is missing (``XDG_RUNTIME_DIR=/nonexistent``), relative or another
user's (``sudo`` keeps the caller's variable) is not used at all.

The folder must be this user's own and closed to everyone else (0700); a
folder owned by another user, open to others or reached through a symlink is
refused, not repaired. Servers and clients apply the same check
(:func:`check_runtime_dir`), and everything clients read, write or remove in
the folder goes through :class:`RuntimeFolder`, which holds the checked
folder open: a folder swapped for another (or for a symlink) after the check
cannot redirect a read, a write or a removal.
"""

from __future__ import annotations

import errno
import os
import re
import secrets
import stat
import tempfile
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

from zmqscope._errors import ZmqscopeError

# The only names zmqscope ever removes: what servers create.
_OWN_NAME = re.compile(r"[0-9]+\.(json|ipc)")
_OWN_KINDS = {"json": stat.S_ISREG, "ipc": stat.S_ISSOCK}


class RuntimeDirError(ZmqscopeError):
    """The runtime folder cannot be used safely; the message says why."""


class RuntimeDirMissing(RuntimeDirError):
    """The runtime folder does not exist (yet): no server of this user ever ran."""


def runtime_dir() -> Path:
    """The folder for this user's servers (not created)."""
    root = os.environ.get("XDG_RUNTIME_DIR", "")
    if _own_folder(root):
        return Path(root) / "zmqscope"
    return Path(tempfile.gettempdir()) / f"zmqscope-{os.getuid()}"


def runtime_dirs() -> list[Path]:
    """Every folder where a server of this user may be, :func:`runtime_dir` first.

    A server chooses its folder from its own environment, which need not be
    the client's: one started from a service manager, cron or ``sudo -u``
    may have had no ``XDG_RUNTIME_DIR`` (its folder is in the temp folder),
    or had the usual ``/run/user/<uid>`` when this shell has none. So a
    client looks in the XDG folder (its own variable's, else the usual
    place) and in the per-user temp folder. Each is checked before it is
    read, as the client's own is (:meth:`RuntimeFolder.open`).
    """
    folders = [runtime_dir()]
    root = os.environ.get("XDG_RUNTIME_DIR", "")
    if not _own_folder(root):
        root = f"/run/user/{os.getuid()}"
    if _own_folder(root):
        folders.append(Path(root) / "zmqscope")
    folders.append(Path(tempfile.gettempdir()) / f"zmqscope-{os.getuid()}")
    return list(dict.fromkeys(folders))


def runtime_dir_of(environ: Mapping[str, str]) -> Path:
    """The folder a server started with ``environ`` chose (as :func:`runtime_dir` does).

    The temp folder is worked out as :func:`tempfile.gettempdir` would in
    that environment, without the writability probe: the first of
    ``TMPDIR``, ``TEMP`` and ``TMP`` naming a folder, else ``/tmp``.
    """
    root = environ.get("XDG_RUNTIME_DIR", "")
    if _own_folder(root):
        return Path(root) / "zmqscope"
    temp = "/tmp"
    for name in ("TMPDIR", "TEMP", "TMP"):
        value = environ.get(name, "")
        if value and os.path.isdir(value):
            temp = os.path.abspath(value)
            break
    return Path(temp) / f"zmqscope-{os.getuid()}"


def _own_folder(root: str) -> bool:
    """An absolute path to an existing folder of this user (the XDG rules for the variable)."""
    if not root or not os.path.isabs(root):
        return False
    try:
        info = os.stat(root)
    except (OSError, ValueError):
        return False
    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid()


def ensure_runtime_dir() -> Path:
    """Create the folder 0700 if needed (never its parents); refuse one that others could use."""
    folder = runtime_dir()
    try:
        folder.mkdir(mode=0o700)
    except FileExistsError:
        pass  # a file or a link to one: check_runtime_dir says so
    except OSError as error:
        raise RuntimeDirError(f"cannot create {folder}: {error.strerror}") from None
    check_runtime_dir(folder)
    return folder


def check_runtime_dir(folder: Path) -> None:
    """Refuse ``folder`` unless it is a real folder of this user closed to others."""
    try:
        info = folder.lstat()
    except FileNotFoundError:
        raise RuntimeDirMissing(f"{folder} does not exist") from None
    except OSError as error:
        raise RuntimeDirError(f"cannot use {folder}: {error.strerror}") from None
    _judge(folder, info)


def _judge(folder: Path, info: os.stat_result) -> None:
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


class RuntimeFolder:
    """The runtime folder held open after its check; every file operation goes through it.

    Names are looked up relative to the open folder and symlinks are never
    followed, so what was checked is what is used.
    """

    def __init__(self, path: Path, descriptor: int) -> None:
        self.path = path
        self._fd = descriptor

    @classmethod
    def open(cls, path: Path | None = None) -> RuntimeFolder:
        """Open and check ``path`` (default: :func:`runtime_dir`): RuntimeDirError if unsafe."""
        folder = runtime_dir() if path is None else path
        check_runtime_dir(folder)  # the message for a symlink or a file
        flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            descriptor = os.open(folder, flags)
        except FileNotFoundError:
            raise RuntimeDirMissing(f"{folder} does not exist") from None
        except OSError as error:
            if error.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
                raise RuntimeDirError(f"refusing {folder}: it is not a folder") from None
            raise RuntimeDirError(f"cannot use {folder}: {error.strerror}") from None
        try:
            # The verdict that counts: on what was opened, not on the name.
            _judge(folder, os.fstat(descriptor))
        except BaseException:
            os.close(descriptor)
            raise
        return cls(folder, descriptor)

    def __enter__(self) -> RuntimeFolder:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def names(self) -> list[str]:
        return sorted(os.listdir(self._fd))

    def read(self, name: str, limit: int) -> bytes:
        """The content of this user's regular file ``name``, at most ``limit`` bytes.

        :class:`OSError` (with a reason) for a symlink, a FIFO, a device,
        another user's file or a bigger one: nothing else is read.
        """
        # O_NONBLOCK: opening a FIFO planted under the name must not wait for a writer.
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
        descriptor = os.open(name, flags, dir_fd=self._fd)
        try:
            info = os.fstat(descriptor)
            if not stat.S_ISREG(info.st_mode):
                raise OSError(errno.EINVAL, f"{name} is not a regular file")
            if info.st_uid != os.getuid():
                raise OSError(errno.EPERM, f"{name} belongs to uid {info.st_uid}")
            if info.st_size > limit:
                raise OSError(errno.EFBIG, f"{name} is larger than {limit} bytes")
            data = os.read(descriptor, limit + 1)
            if len(data) > limit:
                raise OSError(errno.EFBIG, f"{name} is larger than {limit} bytes")
            return data
        finally:
            os.close(descriptor)

    def create(self, name: str, data: bytes) -> bool:
        """Write ``name`` (0600) whole, unless it exists; False if it did.

        Written to a fresh temporary file first, then linked under its name:
        nobody ever sees a part of it, and two writers cannot both win.
        """
        temporary = f".{name}.{secrets.token_hex(8)}.tmp"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        descriptor = os.open(temporary, flags, 0o600, dir_fd=self._fd)
        try:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(data)
            try:
                os.link(temporary, name, src_dir_fd=self._fd, dst_dir_fd=self._fd)
            except FileExistsError:
                return False
            return True
        finally:
            os.unlink(temporary, dir_fd=self._fd)

    def remove_own(self, name: str) -> bool:
        """Remove ``name`` only if it is what a server of this user made there.

        That is: a ``<digits>.json`` regular file or a ``<digits>.ipc``
        socket, owned by this user. Never a symlink, never anything else.
        """
        match = _OWN_NAME.fullmatch(name)
        if match is None:
            return False
        try:
            info = os.stat(name, dir_fd=self._fd, follow_symlinks=False)
        except OSError:
            return False
        if info.st_uid != os.getuid() or not _OWN_KINDS[match[1]](info.st_mode):
            return False
        try:
            os.unlink(name, dir_fd=self._fd)
        except OSError:
            return False
        return True

    def remove_file(self, name: str) -> bool:
        """Remove ``name`` if it is a regular file of this user's (never a symlink)."""
        try:
            info = os.stat(name, dir_fd=self._fd, follow_symlinks=False)
            if info.st_uid != os.getuid() or not stat.S_ISREG(info.st_mode):
                return False
            os.unlink(name, dir_fd=self._fd)
        except OSError:
            return False
        return True
