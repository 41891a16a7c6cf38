"""An older import path, kept working: the home is :mod:`zmqscope.remote.server`.

``serve`` is :func:`zmqscope.serve`; ``Server`` here is the server answering
from this process's records (:class:`zmqscope.instrument.answers.ProcessServer`,
a ``zmqscope.Server``), as ``Server(endpoint)`` always made one.
"""

from zmqscope._api import serve
from zmqscope.instrument.answers import ProcessServer as Server
from zmqscope.remote.server import ServerError

__all__ = ["Server", "ServerError", "serve"]
