"""What zmqscope needs from the operating system, and one clear refusal where it is missing.

zmqscope runs on Linux (tested) and macOS (POSIX: the same calls exist;
not tested). Windows lacks what its core is built on, so every way in says
so in one line instead of failing somewhere inside with an AttributeError:

- ``os.register_at_fork``: a forked child must not inherit the parent's
  records, locks or server (hooks, registry, server, watchdog);
- ``os.getuid``: the runtime folder, discovery files and report files are
  trusted only when they are this user's;
- ``os.O_NOFOLLOW``, ``os.O_DIRECTORY`` and ``dir_fd``: files are written
  and read without ever following a symlink, relative to a folder held open;
- ``resource``: the file-descriptor limit (limit warnings, the server's
  vital signs).

Importing this module costs nothing: ``ZMQSCOPE=1`` reads it at start-up.
"""

import os
import sys

from zmqscope._errors import ZmqscopeError

_OS_NAMES = ("register_at_fork", "getuid", "O_NOFOLLOW", "O_DIRECTORY")


class UnsupportedPlatform(ZmqscopeError, RuntimeError):
    """This system lacks what zmqscope is built on; the message says what."""


def missing() -> "list[str]":
    """What zmqscope needs and this Python lacks: empty on Linux and macOS."""
    lacking = [f"os.{name}" for name in _OS_NAMES if not hasattr(os, name)]
    # By name: eventlet's monkey-patching puts its own os.open in place, and
    # the set holds the originals.
    if "open" not in {getattr(f, "__name__", "") for f in os.supports_dir_fd}:
        lacking.append("dir_fd")
    try:
        import resource  # noqa: F401
    except ImportError:
        lacking.append("the resource module")
    return lacking


def problem() -> "str | None":
    """One line saying why zmqscope cannot run here, or None where it can."""
    lacking = missing()
    if not lacking:
        return None
    return (
        f"zmqscope runs on Linux and macOS, not on {sys.platform}: "
        f"this Python has no {', '.join(lacking)}"
    )


def require() -> None:
    """Raise :class:`UnsupportedPlatform` where zmqscope cannot run."""
    message = problem()
    if message is not None:
        raise UnsupportedPlatform(message)
