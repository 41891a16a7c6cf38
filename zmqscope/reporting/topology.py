"""A topology as text (rich), JSON (``zmqscope.topology/1``), Mermaid and Graphviz dot.

Every string in a topology came from an application or a report: the text
shows it literally with its control characters visible (:func:`shown`),
and the graph formats escape every label (:mod:`.topology_graphs`).
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterable

from rich.text import Text

from zmqscope._shown import shown
from zmqscope.model import EndpointOp
from zmqscope.model.topology import End, ProcessNode, Reach, SocketNode, Topology
from zmqscope.model.wording import plural, site_headline, thread_label
from zmqscope.reporting.topology_graphs import render_dot, render_mermaid

__all__ = [
    "end_text",
    "process_title",
    "render_dot",
    "render_mermaid",
    "render_topology_json",
    "render_topology_text",
    "summary_line",
]

_REACH_WORDS = {
    Reach.LIVE: "live",
    Reach.SAVED: "saved report",
    Reach.BUSY: "busy",
    Reach.NO_ANSWER: "no answer",
    Reach.UNREACHABLE: "unreachable",
}


def render_topology_json(topology: Topology, indent: int | None = 2) -> str:
    """The topology as a ``zmqscope.topology/1`` document (docs/topology-json.md)."""
    return json.dumps(topology.to_dict(), indent=indent)


def summary_line(topology: Topology) -> str:
    """``3 processes (1 not instrumented), 6 sockets, 5 edges, 2 diagnoses``."""
    processes = topology.processes
    outside = sum(1 for p in processes if not p.instrumented)
    sockets = sum(len(p.sockets) for p in processes)
    line = _count(len(processes), "process", "processes")
    if outside:
        line += f" ({outside:,} not instrumented)"
    line += f", {plural(sockets, 'socket')}, {plural(len(topology.edges), 'edge')}"
    return line + f", {_count(len(topology.diagnoses), 'diagnosis', 'diagnoses')}"


def _count(count: int, one: str, many: str) -> str:
    return f"{count:,} {one if count == 1 else many}"


def process_title(process: ProcessNode) -> str:
    """``pid 4242 · python broker.py · live`` (a process's heading, as plain text)."""
    pid = f"pid {process.pid}" if process.pid is not None else "a process of another user"
    parts = [pid]
    if process.argv:
        parts.append(shlex.join(process.argv))
    if not process.instrumented:
        parts.append("not instrumented")
    elif process.reach is not None:
        state = _REACH_WORDS[process.reach]
        parts.append(f"{state}: {process.problem}" if process.problem else state)
    return " · ".join(parts)


def end_text(topology: Topology, end: End) -> str:
    """``pid 4242 ROUTER s1 (tcp://0.0.0.0:5555)``: the other end of an edge."""
    process = topology.process(end.process)
    pid = process.pid if process is not None else None
    who = f"pid {pid}" if pid is not None else "a process of another user"
    socket = topology.socket(end.socket) if end.socket else None
    if socket is not None:
        who += f" {socket.type} {socket.record.id}"
    elif process is not None and process.argv:
        who += f" ({shlex.join(process.argv)})"
    return f"{who} at {end.endpoint}"


def render_topology_text(topology: Topology) -> Text:
    """The topology for a terminal: each process, its sockets, their peers; then the diagnoses."""
    text = Text()
    text.append("zmqscope topology: ", style="bold")
    text.append(summary_line(topology))
    for process in topology.processes:
        text.append("\n\n")
        style = (
            "bold" if process.instrumented and process.reach in (Reach.LIVE, Reach.SAVED) else ""
        )
        text.append_text(shown(process_title(process), style=style or "dim"))
        for socket in process.sockets:
            _socket_lines(text, topology, socket)
    if topology.diagnoses:
        text.append("\n\ndiagnoses:", style="bold")
        for diagnosis in topology.diagnoses:
            text.append("\n  ")
            text.append(diagnosis.kind.value, style="bold red")
            text.append("  ")
            text.append_text(shown(diagnosis.message))
    text.append("\n")
    return text


def _socket_lines(text: Text, topology: Topology, socket: SocketNode) -> None:
    record = socket.record
    marked = bool(topology.diagnoses_of(socket.key))
    text.append("\n  ")
    text.append(f"{record.id} ", style="dim")
    text.append_text(shown(record.type, style="bold red" if marked else "bold"))
    thread = thread_label(record.created.thread)
    where = site_headline(record.created) or "made at an unknown line"
    text.append_text(shown(f"  thread {thread}, {where}"))
    for endpoint in record.active_endpoints:
        text.append("\n      ")
        text.append_text(shown(f"{endpoint.op.value} {endpoint.url}"))
        arrow = "→" if endpoint.op is EndpointOp.CONNECT else "←"
        for peer in _peers_at(topology, socket, endpoint.url):
            text.append(f"\n        {arrow} ")
            text.append_text(shown(end_text(topology, peer)))


def _peers_at(topology: Topology, socket: SocketNode, url: str) -> Iterable[End]:
    for edge in topology.edges_of(socket.key):
        if edge.source.socket == socket.key and edge.source.endpoint == url:
            yield edge.target
        elif edge.target.socket == socket.key and edge.target.endpoint == url:
            yield edge.source
