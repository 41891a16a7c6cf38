"""zmqscope: socket-lifecycle diagnostics for pyzmq applications.

Records where every ZeroMQ socket was made, which thread owns it, where it is
bound or connected and whether it was closed, without touching send/recv.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from zmqscope._version import __version__
from zmqscope.hooks import install, uninstall, watch
from zmqscope.model import Snapshot

if TYPE_CHECKING:
    from zmqscope.report import Report

__all__ = [
    "Snapshot",
    "__version__",
    "install",
    "report",
    "snapshot",
    "uninstall",
    "watch",
]


def snapshot() -> Snapshot:
    """Frozen copies of every socket and context record, taken now."""
    from zmqscope import hooks

    return hooks.registry().snapshot(hooks.process_info())


def report() -> Report:
    """The leak report for the current state (rich-renderable, JSON, Markdown)."""
    # Imported here so that ``import zmqscope`` does not pay for rich.
    from zmqscope.report import build_report

    return build_report(snapshot())
