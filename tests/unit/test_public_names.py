"""The package's public names: one error base, the returned types exported, old paths kept."""

from __future__ import annotations

import subprocess
import sys

import pytest

import zmqscope
from zmqscope._files import FileWriteError
from zmqscope.remote.access import AccessError
from zmqscope.remote.channels import ChannelError
from zmqscope.remote.curve import CurveError
from zmqscope.remote.discovery import NotServing
from zmqscope.remote.runtime import RuntimeDirError, RuntimeDirMissing

PUBLIC_ERRORS = {
    "ServerError": (),
    "ClientError": (),
    "ProtocolError": (),
    "SchemaError": (ValueError,),
    "UnsupportedPlatform": (RuntimeError,),
}


@pytest.mark.parametrize("name", sorted(PUBLIC_ERRORS))
def test_every_public_error_is_a_zmqscope_error_and_keeps_its_old_base(name: str) -> None:
    error = getattr(zmqscope, name)
    assert name in zmqscope.__all__
    assert issubclass(error, zmqscope.ZmqscopeError)
    for base in PUBLIC_ERRORS[name]:
        assert issubclass(error, base)


@pytest.mark.parametrize(
    ("error", "old_base"),
    [
        (AccessError, Exception),
        (ChannelError, Exception),
        (CurveError, Exception),
        (RuntimeDirError, Exception),
        (RuntimeDirMissing, RuntimeDirError),
        (NotServing, LookupError),
        (FileWriteError, OSError),
    ],
)
def test_the_internal_errors_sit_under_the_base_too(
    error: type[Exception], old_base: type[Exception]
) -> None:
    assert issubclass(error, zmqscope.ZmqscopeError)
    assert issubclass(error, old_base)


def test_a_file_write_error_is_still_caught_as_an_os_error() -> None:
    with pytest.raises(OSError, match="cannot write x: full"):
        raise FileWriteError("x", "full")


def test_the_types_the_api_returns_are_exported() -> None:
    from zmqscope.remote.server import Server
    from zmqscope.reporting import Report

    assert zmqscope.Report is Report
    assert zmqscope.Server is Server
    assert {"Report", "Server", "Snapshot", "ZmqscopeError"} <= set(zmqscope.__all__)
    assert set(zmqscope.__all__) <= set(dir(zmqscope))


def test_importing_zmqscope_still_imports_nothing_else() -> None:
    code = (
        "import sys, zmqscope\n"
        "print(sorted(m for m in sys.modules if m.startswith(('zmqscope', 'zmq', 'rich'))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "['zmqscope', 'zmqscope._version']"


def test_the_older_import_paths_give_the_same_objects() -> None:
    import zmqscope.client as old_client
    import zmqscope.hooks as old_hooks
    import zmqscope.protocol as old_protocol
    import zmqscope.registry as old_registry
    import zmqscope.server as old_server
    from zmqscope._api import serve
    from zmqscope.instrument import hooks, state
    from zmqscope.instrument.answers import ProcessServer
    from zmqscope.instrument.registry.store import Registry
    from zmqscope.remote import client, protocol, server

    assert old_client.LiveClient is client.LiveClient
    assert old_client.connect is client.connect
    assert old_client.discover is client.discover
    assert old_client.ClientError is client.ClientError is zmqscope.ClientError
    assert old_server.serve is serve
    assert old_server.ServerError is server.ServerError
    assert old_server.Server is ProcessServer
    assert issubclass(old_server.Server, zmqscope.Server)
    assert old_protocol.ProtocolError is protocol.ProtocolError
    assert old_registry.Registry is Registry
    assert old_hooks.install is hooks.install
    assert old_hooks.registry is state.registry
    for module in (old_client, old_hooks, old_protocol, old_registry, old_server):
        for name in module.__all__:
            assert getattr(module, name) is not None
