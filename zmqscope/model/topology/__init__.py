"""Who talks to whom: processes, their sockets, the edges between them, and what is wrong.

Pure values and functions (no I/O): :func:`build_topology` takes what was
gathered (a :class:`ProcessSeen` per instrumented process, and optionally
the host's own sockets as :class:`HostFacts`) and returns a
:class:`Topology`. Gathering live lives in :mod:`zmqscope.remote.client.topology`,
rendering in :mod:`zmqscope.reporting.topology`. The JSON form is
``zmqscope.topology/1`` (docs/topology-json.md).
"""

from __future__ import annotations

from zmqscope.model.topology.addresses import Address, parse, reaches
from zmqscope.model.topology.build import build_topology, unmatched_ipc
from zmqscope.model.topology.diagnoses import socket_label
from zmqscope.model.topology.pairs import VALID_PAIRS, compatible, partners
from zmqscope.model.topology.values import (
    TOPOLOGY_SCHEMA,
    Diagnosis,
    DiagnosisKind,
    Edge,
    End,
    HostFacts,
    HostProcess,
    HostSocket,
    ProcessNode,
    ProcessSeen,
    Reach,
    SocketNode,
    Topology,
)

__all__ = [
    "TOPOLOGY_SCHEMA",
    "VALID_PAIRS",
    "Address",
    "Diagnosis",
    "DiagnosisKind",
    "Edge",
    "End",
    "HostFacts",
    "HostProcess",
    "HostSocket",
    "ProcessNode",
    "ProcessSeen",
    "Reach",
    "SocketNode",
    "Topology",
    "build_topology",
    "compatible",
    "parse",
    "partners",
    "reaches",
    "socket_label",
    "unmatched_ipc",
]
