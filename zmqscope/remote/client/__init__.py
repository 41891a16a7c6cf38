"""Talk to a running zmqscope server, or read a saved report, the same way.

The CLI (``ls``, ``report``) and the TUI use only this package and the model:
:func:`connect` turns what the user typed (a pid, an endpoint, a report file)
into a :class:`Client`; :func:`discover` lists instrumented processes.

- ``interface``: the :class:`Client` interface, the values it returns, its errors;
- ``live``: :class:`LiveClient`, a running process's server;
- ``view``: a live client's copy of the server's records, kept by deltas;
- ``saved``: :class:`ReportClient` over a report file, and exit reports;
- ``targets``: :func:`connect` and :func:`client_for`, a target to a client.
"""

from zmqscope._exit_report import exit_report_paths
from zmqscope.remote.client.interface import (
    DEFAULT_TIMEOUT,
    Client,
    ClientError,
    EventPage,
    Hello,
    LiveSnapshot,
    ServerBusy,
)
from zmqscope.remote.client.live import LiveClient
from zmqscope.remote.client.saved import ReportClient, read_exit_report
from zmqscope.remote.client.targets import client_for, connect, process_exited
from zmqscope.remote.discovery import Discovered, NotServing, discover

__all__ = [
    "DEFAULT_TIMEOUT",
    "Client",
    "ClientError",
    "Discovered",
    "EventPage",
    "Hello",
    "LiveClient",
    "LiveSnapshot",
    "NotServing",
    "ReportClient",
    "ServerBusy",
    "client_for",
    "connect",
    "discover",
    "exit_report_paths",
    "process_exited",
    "read_exit_report",
]
