"""zmqscope: socket-lifecycle diagnostics for pyzmq applications.

Records where every ZeroMQ socket was made, which thread owns it, where it is
bound or connected and whether it was closed, without touching send/recv;
explains a hung ``term()`` by naming the sockets it waits for.
"""

from __future__ import annotations

from zmqscope._api import install, report, serve, snapshot, uninstall, watch
from zmqscope._version import __version__
from zmqscope.model import Snapshot

__all__ = [
    "Snapshot",
    "__version__",
    "install",
    "report",
    "serve",
    "snapshot",
    "uninstall",
    "watch",
]
