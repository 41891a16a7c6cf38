"""What the TUI shows of a topology, as plain values (no Textual here).

:func:`topology_lines` turns a :class:`~zmqscope.model.topology.Topology` into
the lines of the Topology view, each with what enter on it does (jump to a
process, open a socket's detail); :func:`diagnosed_sockets` and
:func:`peers_elsewhere` are what the Sockets view and a socket's detail
take from it. Where a topology comes from (every process of this user, a
saved report's processes) is :func:`topology_of`, run in a worker.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from rich.text import Text

from zmqscope._shown import shown
from zmqscope.model.topology import (
    End,
    ProcessNode,
    ProcessSeen,
    Reach,
    SocketNode,
    Topology,
    build_topology,
)
from zmqscope.model.wording import site_headline
from zmqscope.remote.client import Client, ReportClient
from zmqscope.remote.client.topology import gather_topology, topology_from_reports
from zmqscope.reporting.topology import end_text, process_title, summary_line
from zmqscope.tui import _format

# A process's sockets listed in the view, those with peers or diagnoses
# first: a pool of 1,000 sockets is the Sockets view's to list, once attached.
MAX_SOCKETS_LISTED = 50
# A socket's peers listed under it: a ROUTER may have thousands of DEALERs.
MAX_PEERS_LISTED = 20

TopologySource = Callable[[Client], Topology]


def topology_of(client: Client) -> Topology:
    """The topology around ``client``'s process, asked off the UI thread.

    Live: every instrumented process of this user and the host's sockets
    (a hung or busy process is listed as such within its timeout). A saved
    report: the processes it holds (its ``processes``, when it lists its
    children's reports); another offline client: its snapshot alone.
    """
    if client.live:
        return gather_topology()
    if isinstance(client, ReportClient):
        return topology_from_reports([Path(client.description)])
    return topology_of_snapshot(client)


def topology_of_snapshot(client: Client) -> Topology:
    """The topology of ``client``'s process alone (its edges within itself).

    It asks ``client`` from the gathering worker, beside the app's fetches:
    only for a client that two threads may ask at once (an offline one; a
    live client's socket is one thread's at a time).
    """
    snapshot = client.snapshot().snapshot
    reach = Reach.LIVE if client.live else Reach.SAVED
    return build_topology([ProcessSeen.of(snapshot, reach)], None, now=snapshot.taken_at)


# -- what enter does on a line --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Jump:
    """Attach to the process of ``pid``."""

    pid: int


@dataclass(frozen=True, slots=True)
class OpenSocket:
    """Show the detail of ``socket_id``, a socket of the process attached to."""

    socket_id: str


Action = Jump | OpenSocket | None


@dataclass(frozen=True, slots=True)
class Line:
    """One entry of the Topology view: its text, a key unique in the view, what enter does."""

    key: str
    text: Text
    action: Action = None


def diagnosed_sockets(topology: Topology | None, pid: int | None) -> frozenset[str]:
    """The ids of process ``pid``'s sockets that a diagnosis names."""
    if topology is None or pid is None:
        return frozenset()
    found = set()
    for diagnosis in topology.diagnoses:
        for key in diagnosis.sockets:
            node = topology.socket(key)
            if node is not None and node.pid == pid:
                found.add(node.record.id)
    return frozenset(found)


@dataclass(frozen=True, slots=True)
class PeerProcess:
    """A peer of a socket in another process: who, where, and whether one can attach to it."""

    pid: int | None
    text: str  # ``pid 5151 DEALER s1 at tcp://127.0.0.1:6000``
    attachable: bool


def peers_elsewhere(topology: Topology | None, pid: int, socket_id: str) -> list[PeerProcess]:
    """The other ends of ``socket_id``'s edges that are in other processes than ``pid``."""
    if topology is None:
        return []
    found = []
    for end in topology.peers_of(f"{pid}/{socket_id}"):
        process = topology.process(end.process)
        if process is None or process.pid == pid:
            continue
        attachable = process.instrumented and process.reach is not Reach.SAVED
        found.append(PeerProcess(process.pid, end_text(topology, end), attachable))
    return found


def diagnoses_of(topology: Topology | None, pid: int, socket_id: str) -> list[str]:
    """The messages of the diagnoses that name ``socket_id`` of process ``pid``."""
    if topology is None:
        return []
    return [d.message for d in topology.diagnoses_of(f"{pid}/{socket_id}")]


# -- the view's lines ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Drawing:
    """The view's lines for one topology, made off the UI thread where it can be.

    ``attached`` and ``live`` are what they were made for (enter's actions
    depend on them); ``signature`` tells, by a tuple comparison, whether
    the list on screen must be rebuilt.
    """

    topology: Topology
    attached: int | None
    live: bool
    summary: str
    lines: tuple[Line, ...]
    signature: tuple[tuple[str, str], ...]


def draw(topology: Topology, attached: int | None, live: bool) -> Drawing:
    """The Topology view's summary and lines for ``topology`` (see :func:`topology_lines`)."""
    lines = tuple(topology_lines(topology, attached, live))
    signature = tuple((line.key, line.text.plain) for line in lines)
    return Drawing(topology, attached, live, summary_line(topology), lines, signature)


def topology_lines(topology: Topology, attached: int | None, live: bool) -> list[Line]:
    """The view's lines: the diagnoses, then each process with its sockets and their peers.

    ``attached``: the pid shown in the other views (its sockets open their
    detail; another process's lines attach to it). ``live``: processes can
    be attached to (not from a saved report's topology).
    """
    lines = list(_diagnosis_lines(topology, attached, live))
    for process in topology.processes:
        lines.extend(_process_lines(topology, process, attached, live))
    return lines


def _diagnosis_lines(topology: Topology, attached: int | None, live: bool) -> Iterator[Line]:
    if not topology.diagnoses:
        return
    yield Line("diagnoses", Text(f"diagnoses ({len(topology.diagnoses)})", style="bold"))
    for index, diagnosis in enumerate(topology.diagnoses):
        text = Text("! ", style="bold red")
        text.append(diagnosis.kind.value, style="bold red")
        text.append("  ")
        text.append_text(shown(diagnosis.message))
        nodes = [topology.socket(key) for key in diagnosis.sockets]
        action = _socket_action(next((n for n in nodes if n is not None), None), attached, live)
        yield Line(f"d{index}", text, action)


def _process_lines(
    topology: Topology, process: ProcessNode, attached: int | None, live: bool
) -> Iterator[Line]:
    here = process.pid is not None and process.pid == attached
    style = "bold" if process.instrumented and process.reach in (Reach.LIVE, Reach.SAVED) else "dim"
    title = shown(process_title(process), style=style)
    if here:
        title.append("  (attached)", style="bold green")
    can_jump = live and process.instrumented and process.pid is not None and not here
    yield Line(f"p{process.key}", title, Jump(process.pid) if can_jump and process.pid else None)
    sockets = _listed_first(topology, process.sockets)
    for node in sockets[:MAX_SOCKETS_LISTED]:
        action = _socket_action(node, attached, live)
        yield Line(f"s{node.key}", _socket_text(topology, node), action)
        yield from _peer_lines(topology, node, attached, live)
    left_out = sockets[MAX_SOCKETS_LISTED:]
    if left_out:
        quiet = not any(topology.edges_of(node.key) for node in left_out)
        more = f"    and {len(left_out):,} more sockets" + (" with no peer" if quiet else "")
        yield Line(f"m{process.key}", Text(more, style="dim"))


def _listed_first(topology: Topology, sockets: Iterable[SocketNode]) -> list[SocketNode]:
    """Sockets with a diagnosis or a peer first, each group in the process's order."""
    return sorted(
        sockets,
        key=lambda n: (not topology.diagnoses_of(n.key), not topology.edges_of(n.key)),
    )


def _socket_action(node: SocketNode | None, attached: int | None, live: bool) -> Action:
    if node is None:
        return None
    if node.pid == attached:
        return OpenSocket(node.record.id)
    return Jump(node.pid) if live else None


def _socket_text(topology: Topology, node: SocketNode) -> Text:
    """``  ! s5 DEALER  thread stubborn, stubborn.py:12 in hold_on()`` and its endpoints."""
    record = node.record
    marked = bool(topology.diagnoses_of(node.key))
    text = Text("  ")
    text.append("!" if marked else " ", style="bold red")
    text.append(f" {record.id} ", style="dim")
    text.append_text(shown(record.type, style="bold red" if marked else "bold"))
    where = site_headline(record.created, short=True) or "made at an unknown line"
    text.append_text(shown(f"  thread {_format.owner(record)}, {where}"))
    for endpoint in record.active_endpoints:
        text.append("\n")
        text.append_text(shown(f"       {endpoint.op.value} {endpoint.url}", style="dim"))
    return text


def _peer_lines(
    topology: Topology, node: SocketNode, attached: int | None, live: bool
) -> Iterator[Line]:
    edges = topology.edges_of(node.key)
    for index, edge in enumerate(edges[:MAX_PEERS_LISTED]):
        outgoing = edge.source.socket == node.key  # a connect's peer is where it goes
        other = edge.target if outgoing else edge.source
        arrow = "→" if outgoing else "←"
        text = Text(f"         {arrow} ")
        text.append_text(shown(_end_text(topology, other)))
        if edge.compatible is False:
            text.append("  (types cannot talk)", style="bold red")
        yield Line(f"e{node.key}#{index}", text, _end_action(topology, other, attached, live))
    if len(edges) > MAX_PEERS_LISTED:
        more = f"         and {len(edges) - MAX_PEERS_LISTED:,} more peers"
        yield Line(f"e{node.key}+", Text(more, style="dim"))


def _end_text(topology: Topology, end: End) -> str:
    process = topology.process(end.process)
    text = end_text(topology, end)
    if process is not None and not process.instrumented:
        command = f" · {shlex.join(process.argv)}" if process.argv and end.socket else ""
        return f"{text}{command} · not instrumented"
    return text


def _end_action(topology: Topology, end: End, attached: int | None, live: bool) -> Action:
    if end.socket is not None:
        return _socket_action(topology.socket(end.socket), attached, live)
    process = topology.process(end.process)
    if live and process is not None and process.instrumented and process.pid is not None:
        return Jump(process.pid) if process.pid != attached else None
    return None
