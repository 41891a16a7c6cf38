"""An older import path, kept working: the home is
:mod:`zmqscope.remote.client`."""

from zmqscope.remote.client import (
    DEFAULT_TIMEOUT,
    Client,
    ClientError,
    Discovered,
    EventPage,
    Hello,
    LiveClient,
    LiveSnapshot,
    ReportClient,
    ServerBusy,
    client_for,
    connect,
    discover,
    exit_report_paths,
    process_exited,
    read_exit_report,
)
from zmqscope.remote.discovery import NotServing

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
