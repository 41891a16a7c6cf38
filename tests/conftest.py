"""Shared fixtures: an installed zmqscope with a fresh registry per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import zmq

import zmqscope
from zmqscope.instrument import hooks


@pytest.fixture
def scope() -> Iterator[None]:
    """zmqscope installed for the duration of one test, with no prior records."""
    hooks.reset_registry()
    zmqscope.install()
    try:
        yield
    finally:
        # The records stay: with --zmqscope, the plugin checks this test's
        # sockets in them after the teardown (the next test starts afresh).
        zmqscope.uninstall()


@pytest.fixture
def ctx(scope: None) -> Iterator[zmq.Context[zmq.Socket[bytes]]]:
    """A context made under instrumentation, destroyed (linger 0) afterwards."""
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    try:
        yield context
    finally:
        context.destroy(linger=0)
