"""Kept for imports written before zmqscope 0.x's subpackages: use :mod:`zmqscope`.

``serve`` and ``Server`` are also :func:`zmqscope.serve` and ``zmqscope.Server``;
the server's home is :mod:`zmqscope.remote.server` (``Server`` here is the one
answering from this process's records, :mod:`zmqscope.instrument.answers`).
"""

from zmqscope._api import serve
from zmqscope.instrument.answers import ProcessServer as Server
from zmqscope.remote.server import ServerError

__all__ = ["Server", "ServerError", "serve"]
