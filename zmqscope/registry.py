"""An older import path, kept working: the home is
:mod:`zmqscope.instrument.registry`."""

from zmqscope.instrument.registry.entries import ContextEntry, SocketEntry
from zmqscope.instrument.registry.store import Registry

__all__ = ["ContextEntry", "Registry", "SocketEntry"]
