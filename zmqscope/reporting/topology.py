"""A topology as text (rich), JSON (``zmqscope.topology/1``), Mermaid and Graphviz dot.

Every string in a topology came from an application or a report: the text
shows it literally with its control characters visible (:func:`shown`),
and the graph formats escape every label (:mod:`.topology_graphs`).
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterable

from rich.text import Span, Text

from zmqscope.model import EndpointOp
from zmqscope.model.topology import End, ProcessNode, Reach, SocketNode, Topology
from zmqscope.model.wording import plural, site_headline, thread_label, visible
from zmqscope.reporting.topology_graphs import render_dot, render_mermaid

__all__ = [
    "end_text",
    "process_title",
    "render_dot",
    "render_mermaid",
    "render_topology_json",
    "render_topology_plain",
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
    if indent is None:  # one line, for jq; a dict of ours has no cycles to check for
        return json.dumps(topology.to_dict(), separators=(",", ":"), check_circular=False)
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
    return _pieces(topology).text()


def render_topology_plain(topology: Topology) -> str:
    """:func:`render_topology_text` without styles, as a string (into a pipe or a file)."""
    return _pieces(topology).plain()


def _pieces(topology: Topology) -> _Pieces:
    out = _Pieces()
    out.own("zmqscope topology: ", "bold")
    out.own(summary_line(topology))
    for process in topology.processes:
        out.own("\n\n")
        style = (
            "bold" if process.instrumented and process.reach in (Reach.LIVE, Reach.SAVED) else ""
        )
        out.data(process_title(process), style or "dim")
        for socket in process.sockets:
            _socket_lines(out, topology, socket)
    if topology.diagnoses:
        out.own("\n\ndiagnoses:", "bold")
        for diagnosis in topology.diagnoses:
            out.own("\n  ")
            out.own(diagnosis.kind.value, "bold red")
            out.own("  ")
            out.data(diagnosis.message)
    out.own("\n")
    return out


class _Pieces:
    """Text built from many pieces at once: a Text per piece cost ~0.6 s for 20,000 sockets.

    :meth:`data` is an application's string: shown literally, its control
    characters visible (as :func:`shown` does); :meth:`own` is ours.
    """

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._spans: list[Span] = []
        self._length = 0

    def own(self, piece: str, style: str = "") -> None:
        if style:
            self._spans.append(Span(self._length, self._length + len(piece), style))
        self._parts.append(piece)
        self._length += len(piece)

    def data(self, piece: str, style: str = "") -> None:
        self.own(visible(piece), style)

    def text(self) -> Text:
        return Text("".join(self._parts), spans=self._spans)

    def plain(self) -> str:
        # What text().plain would be, without rich's pass over every character.
        return "".join(self._parts)


def _socket_lines(out: _Pieces, topology: Topology, socket: SocketNode) -> None:
    record = socket.record
    marked = bool(topology.diagnoses_of(socket.key))
    out.own("\n  ")
    out.data(f"{record.id} ", "dim")
    out.data(record.type, "bold red" if marked else "bold")
    thread = thread_label(record.created.thread)
    where = site_headline(record.created) or "made at an unknown line"
    out.data(f"  thread {thread}, {where}")
    for endpoint in record.active_endpoints:
        out.own("\n      ")
        out.data(f"{endpoint.op.value} {endpoint.url}")
        arrow = "→" if endpoint.op is EndpointOp.CONNECT else "←"
        for peer in _peers_at(topology, socket, endpoint.url):
            out.own(f"\n        {arrow} ")
            out.data(end_text(topology, peer))


def _peers_at(topology: Topology, socket: SocketNode, url: str) -> Iterable[End]:
    for edge in topology.edges_of(socket.key):
        if edge.source.socket == socket.key and edge.source.endpoint == url:
            yield edge.target
        elif edge.target.socket == socket.key and edge.target.endpoint == url:
            yield edge.source
