"""What is wrong with the wiring, each diagnosis naming its sockets and their lines.

Measured with libzmq 4.3.5 before being relied on:

- a second bind of one ipc path (another process's, or the same one's)
  succeeds: libzmq unlinks the socket file and makes its own, so new
  connects reach the last binder and the earlier one waits for nobody;
- a connect to a type it cannot pair with connects, fails the handshake and
  retries forever, with no error to either application;
- a SUB without a subscription receives nothing, silently.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from zmqscope.model.topology.addresses import INPROC, IPC, bind_key
from zmqscope.model.topology.pairs import partners
from zmqscope.model.topology.values import (
    Diagnosis,
    DiagnosisKind,
    Edge,
    ProcessNode,
    Reach,
    SocketNode,
)
from zmqscope.model.wording import duration, site_headline

if TYPE_CHECKING:
    from zmqscope.model.topology.build import Bound, Connecting


def socket_label(node: SocketNode) -> str:
    """``PUSH s3 of pid 4242 (worker.py:14 in main())``: a socket as diagnoses name it."""
    where = site_headline(node.record.created, short=True) or "made at an unknown line"
    return f"{node.type} {node.record.id} of pid {node.pid} ({where})"


def diagnose(
    nodes: Sequence[ProcessNode],
    edges: Sequence[Edge],
    binds: Sequence[Bound],
    unreached: Sequence[Connecting],
    host_checked: bool,
    grace: float,
    taken: Mapping[str, float],
) -> tuple[Diagnosis, ...]:
    """Every diagnosis, in the order the issue lists them; within a kind, by process."""
    sockets = {s.key: s for n in nodes for s in n.sockets}
    unknown = _unknown(nodes)
    return (
        *_unreached(unreached, host_checked, unknown),
        *_unused(binds, edges, unknown, _superseded(binds)),
        *_incompatible(edges, sockets),
        *_double_binds(binds),
        *_no_subscription(sockets.values()),
        *_req_waiting(sockets.values(), grace, taken),
    )


def _unreached(
    unreached: Sequence[Connecting], host_checked: bool, unknown: str
) -> Iterable[Diagnosis]:
    where = "on this host" if host_checked else "among the processes read"
    for connect in unreached:
        if connect.address.transport == INPROC:
            # inproc reaches only the sockets of its own context.
            nothing = "no socket of its context binds it"
        else:
            nothing = f"nothing {where} binds or listens there"
        yield Diagnosis(
            DiagnosisKind.CONNECT_TO_NOTHING,
            f"{socket_label(connect.node)} connects to {connect.url}: {nothing}{unknown}",
            (connect.node.key,),
            connect.url,
        )


def _unused(
    binds: Sequence[Bound], edges: Sequence[Edge], unknown: str, superseded: set[int]
) -> Iterable[Diagnosis]:
    reached = {e.target.socket for e in edges}
    for bound in binds:
        if bound.node.key in reached or id(bound) in superseded:
            continue  # a bind another replaced: its double-bind diagnosis says why
        yield Diagnosis(
            DiagnosisKind.UNUSED_BIND,
            f"{socket_label(bound.node)} binds {bound.url}: nothing connects to it{unknown}",
            (bound.node.key,),
            bound.url,
        )


def _unknown(nodes: Sequence[ProcessNode]) -> str:
    """What a diagnosis about absence cannot rule out: processes whose records are missing."""
    silent = [n for n in nodes if n.instrumented and n.reach not in (Reach.LIVE, Reach.SAVED)]
    if not silent:
        return ""
    pids = ", ".join(str(n.pid) for n in silent[:5]) + (", ..." if len(silent) > 5 else "")
    return f" (unless through pid {pids}, whose sockets are not known)"


def _incompatible(edges: Sequence[Edge], sockets: Mapping[str, SocketNode]) -> Iterable[Diagnosis]:
    for edge in edges:
        if edge.compatible is not False:
            continue
        source = sockets[edge.source.socket or ""]
        target = sockets[edge.target.socket or ""]
        fits = ", ".join(partners(source.type)) or "nothing"
        yield Diagnosis(
            DiagnosisKind.INCOMPATIBLE_TYPES,
            f"{socket_label(source)} connects to {socket_label(target)} at "
            f"{edge.source.endpoint}: {source.type} and {target.type} cannot talk "
            f"(ZeroMQ refuses the handshake silently; {source.type} talks to {fits})",
            (source.key, target.key),
            edge.source.endpoint,
        )


def _bound_twice(binds: Sequence[Bound]) -> Iterable[list[Bound]]:
    """The binds of each endpoint bound more than once, the latest last."""
    groups: dict[tuple[str, str, str], list[Bound]] = defaultdict(list)
    for bound in binds:
        groups[bind_key(bound.address)].append(bound)
    for group in groups.values():
        if len(group) > 1:
            yield sorted(group, key=lambda b: b.time)


def _superseded(binds: Sequence[Bound]) -> set[int]:
    """The ipc binds a later bind of the same path replaced (by ``id``): unreachable."""
    return {
        id(bound)
        for group in _bound_twice(binds)
        if group[-1].address.transport == IPC
        for bound in group[:-1]
    }


def _double_binds(binds: Sequence[Bound]) -> Iterable[Diagnosis]:
    for group in _bound_twice(binds):
        last, earlier = group[-1], group[:-1]
        others = "; ".join(socket_label(b.node) for b in earlier)
        if last.address.transport == IPC:
            effect = (
                f"the last bind, {socket_label(last.node)}, replaced the socket file: "
                f"new connects reach it alone, never {others}"
            )
        else:
            effect = f"{socket_label(last.node)} and {others}"
        yield Diagnosis(
            DiagnosisKind.DOUBLE_BIND,
            f"{last.url} is bound {len(group)} times: {effect}",
            tuple(b.node.key for b in (last, *earlier)),
            last.url,
        )


def _no_subscription(sockets: Iterable[SocketNode]) -> Iterable[Diagnosis]:
    for node in sockets:
        if node.type != "SUB" or node.record.adopted:
            continue
        if dict(node.record.options).get("SUBSCRIBE"):
            continue
        yield Diagnosis(
            DiagnosisKind.NO_SUBSCRIPTION,
            f"{socket_label(node)} has no subscription: it receives nothing "
            "(subscribe to b'' for every message)",
            (node.key,),
        )


def _req_waiting(
    sockets: Iterable[SocketNode], grace: float, taken: Mapping[str, float]
) -> Iterable[Diagnosis]:
    for node in sockets:
        traffic = node.record.traffic
        if node.type != "REQ" or traffic is None or traffic.last_send is None:
            continue
        if traffic.last_recv is not None and traffic.last_recv >= traffic.last_send:
            continue
        if dict(node.record.options).get("REQ_RELAXED") not in (None, "0"):
            continue  # a relaxed REQ may send again without the reply
        waited = taken.get(node.process, traffic.last_send) - traffic.last_send
        if waited <= grace:
            continue
        yield Diagnosis(
            DiagnosisKind.REQ_WAITING,
            f"{socket_label(node)} sent a request {duration(waited)} ago "
            "and has had no reply (a REQ can send nothing else until it does)",
            (node.key,),
        )
