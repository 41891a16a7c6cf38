"""A topology as a Mermaid flowchart or a Graphviz dot digraph.

Node names are made here (``p0``, ``p0_s3``), never taken from the data.
Every label is the data made visible (:func:`visible`), then escaped for
its syntax: in Mermaid, any character but letters, digits and a few
harmless marks becomes an entity code (``#34;``), so no quote, bracket,
pipe, ``%%`` or HTML can end a label or start one; in dot, a label is a
quoted string whose backslashes and quotes are escaped.
"""

from __future__ import annotations

import re
import shlex

from zmqscope.model.topology import Edge, ProcessNode, SocketNode, Topology
from zmqscope.model.wording import site_headline, visible

_MERMAID_SAFE = re.compile(r"[A-Za-z0-9 ._:/,=@+()\-]")


def mermaid_label(text: str) -> str:
    """``text`` as the inside of a quoted Mermaid label: nothing in it is syntax."""
    return "".join(c if _MERMAID_SAFE.fullmatch(c) else f"#{ord(c)};" for c in visible(text))


def dot_label(*lines: str) -> str:
    """``lines`` as one quoted dot string (with its quotes): nothing in them is syntax.

    Several lines are left-aligned (dot's ``\\l``); a line break inside one
    is data, shown as ``\\n``.
    """
    escaped = [visible(line).replace("\\", "\\\\").replace('"', '\\"') for line in lines]
    if len(escaped) == 1:
        return f'"{escaped[0]}"'
    return '"' + "\\l".join(escaped) + '\\l"'


class _Names:
    """The node names of a topology's processes and sockets, by key."""

    def __init__(self, topology: Topology) -> None:
        self.processes = {p.key: f"p{i}" for i, p in enumerate(topology.processes)}
        self.sockets = {
            s.key: f"p{i}_s{j}"
            for i, p in enumerate(topology.processes)
            for j, s in enumerate(p.sockets)
        }

    def end(self, edge: Edge, source: bool) -> str:
        end = edge.source if source else edge.target
        if end.socket is not None and end.socket in self.sockets:
            return self.sockets[end.socket]
        return self.processes[end.process]


def _process_label(process: ProcessNode) -> str:
    pid = f"pid {process.pid}" if process.pid is not None else "another user's process"
    command = shlex.join(process.argv) if process.argv else ""
    label = f"{pid}: {command}" if command else pid
    return label if process.instrumented else f"{label} (not instrumented)"


def _socket_lines(socket: SocketNode) -> list[str]:
    record = socket.record
    lines = [f"{record.type} {record.id}"]
    lines += [f"{e.op.value} {e.url}" for e in record.active_endpoints]
    where = site_headline(record.created, short=True)
    if where:
        lines.append(where)
    return lines


def _edge_label(edge: Edge) -> str:
    label = edge.source.endpoint
    return label if edge.compatible is not False else f"{label} (types cannot talk)"


def render_mermaid(topology: Topology) -> str:
    """A Mermaid ``flowchart``: a subgraph per process, a node per socket, an edge per connect."""
    names = _Names(topology)
    out = ["flowchart LR"]
    flagged = {key for d in topology.diagnoses for key in d.sockets}
    for process in topology.processes:
        name = names.processes[process.key]
        label = mermaid_label(_process_label(process))
        if not process.sockets:
            out.append(f'  {name}(["{label}"])')
            continue
        out.append(f'  subgraph {name}["{label}"]')
        for socket in process.sockets:
            text = "<br/>".join(mermaid_label(line) for line in _socket_lines(socket))
            out.append(f'    {names.sockets[socket.key]}["{text}"]')
        out.append("  end")
    for edge in topology.edges:
        arrow = "-.->" if edge.compatible is False else "-->"
        label = mermaid_label(_edge_label(edge))
        out.append(f'  {names.end(edge, True)} {arrow}|"{label}"| {names.end(edge, False)}')
    if flagged:
        out.append("  classDef diagnosed stroke:#c00,stroke-width:2px")
        marked = ",".join(names.sockets[k] for k in sorted(flagged) if k in names.sockets)
        if marked:
            out.append(f"  class {marked} diagnosed")
    return "\n".join(out) + "\n"


def render_dot(topology: Topology) -> str:
    """A Graphviz ``digraph``: a cluster per process, a node per socket, an edge per connect."""
    names = _Names(topology)
    flagged = {key for d in topology.diagnoses for key in d.sockets}
    out = ["digraph zmqscope {", "  rankdir=LR;", "  node [shape=box];"]
    for process in topology.processes:
        name = names.processes[process.key]
        label = dot_label(_process_label(process))
        if not process.sockets:
            out.append(f"  {name} [label={label}, shape=ellipse];")
            continue
        out.append(f"  subgraph cluster_{name} {{")
        out.append(f"    label={label};")
        for socket in process.sockets:
            text = dot_label(*_socket_lines(socket))
            color = ", color=red" if socket.key in flagged else ""
            out.append(f"    {names.sockets[socket.key]} [label={text}{color}];")
        out.append("  }")
    for edge in topology.edges:
        style = ", style=dashed, color=red" if edge.compatible is False else ""
        label = dot_label(_edge_label(edge))
        out.append(f"  {names.end(edge, True)} -> {names.end(edge, False)} [label={label}{style}];")
    out.append("}")
    return "\n".join(out) + "\n"
