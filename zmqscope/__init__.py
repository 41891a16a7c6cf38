"""zmqscope: socket-lifecycle diagnostics for pyzmq applications.

Records where every ZeroMQ socket was made, which thread owns it, where it is
bound or connected and whether it was closed, without touching send/recv;
explains a hung ``term()`` by naming the sockets it waits for.

``import zmqscope`` itself imports nothing else: ``ZMQSCOPE=1`` imports the
package in every Python process of the environment, and one that never uses
ZeroMQ must not pay for pyzmq. The names below load on first use.

PYTEST_DONT_REWRITE: this package holds no assert for pytest to rewrite,
and under ``ZMQSCOPE=1`` it is imported before pytest starts, which would
make pytest warn that it "cannot be rewritten" (pytest looks for this word).
"""

from zmqscope._version import __version__

# typing.TYPE_CHECKING without importing typing (type checkers know the name).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from zmqscope._api import install, report, serve, snapshot, uninstall, watch
    from zmqscope._errors import ZmqscopeError
    from zmqscope._platform import UnsupportedPlatform
    from zmqscope.model import SchemaError, Snapshot
    from zmqscope.remote.client import ClientError
    from zmqscope.remote.protocol import ProtocolError
    from zmqscope.remote.server import Server, ServerError
    from zmqscope.reporting import Report

__all__ = [
    "ClientError",
    "ProtocolError",
    "Report",
    "SchemaError",
    "Server",
    "ServerError",
    "Snapshot",
    "UnsupportedPlatform",
    "ZmqscopeError",
    "__version__",
    "install",
    "report",
    "serve",
    "snapshot",
    "uninstall",
    "watch",
]

_FROM_API = frozenset({"install", "report", "serve", "snapshot", "uninstall", "watch"})
# The other names, by the module that defines them (imported on first use).
_HOMES = {
    "ClientError": "zmqscope.remote.client",
    "ProtocolError": "zmqscope.remote.protocol",
    "Report": "zmqscope.reporting",
    "SchemaError": "zmqscope.model",
    "Server": "zmqscope.remote.server",
    "ServerError": "zmqscope.remote.server",
    "Snapshot": "zmqscope.model",
    "UnsupportedPlatform": "zmqscope._platform",
    "ZmqscopeError": "zmqscope._errors",
}


def __getattr__(name: str) -> object:
    if name in _FROM_API:
        from zmqscope import _platform

        _platform.require()  # one clear line on Windows, not an AttributeError inside
        from zmqscope import _native

        with _native.fork_waits():  # a fork must not copy zmqscope half imported
            from zmqscope import _api

        value = getattr(_api, name)
    elif name in _HOMES:
        import importlib

        value = getattr(importlib.import_module(_HOMES[name]), name)
    else:
        raise AttributeError(f"module 'zmqscope' has no attribute {name!r}")
    globals()[name] = value  # once loaded, a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
