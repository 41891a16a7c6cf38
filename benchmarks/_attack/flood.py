"""Request floods: what clients asking without pause, or reading nothing, cost the victim.

1. Flood: FLOOD_CLIENTS clients keep up to FLOOD_DEPTH ``report`` requests
   each sent and unanswered for DURING seconds, then vanish (issue #14: two
   such clients queued 4,500 reports and slowed the app's messaging from
   14,260/s to 82/s for 50 s after they left).
2. Unread: UNREAD_CLIENTS clients ask for snapshots of a victim with
   UNREAD_SOCKETS open sockets and read nothing (issue #14: 150 of them grew
   the app by 530 MB).

The victim's own figure is its REQ/REP round trips per second between two
of its threads over inproc, and its RSS, sampled five times a second.
"""

from __future__ import annotations

import statistics
import time

from _harness import Figure, Target, progress

from _attack import MiB, Settings, Victim, attack, counts_of, private_folder, rss_of, settled_rss


def _rates(victim: Victim, start: float, end: float) -> list[float]:
    return [rate for _, rate, _ in victim.between(start, end)] or [0.0]


def _rss(victim: Victim, start: float, end: float) -> list[float]:
    return [rss / MiB for _, _, rss in victim.between(start, end)] or [0.0]


def bench_flood(settings: Settings, zmq_ipc: bool) -> list[Figure]:
    clients, depth, during = settings.flood_clients, settings.flood_depth, settings.during
    progress(f"flood: {clients} clients x {depth} report requests in flight, {during:g} s")
    speak = ["--zmq"] if zmq_ipc else []
    with private_folder() as folder:
        victim = Victim(folder, settings.victim_sockets)
        try:
            time.sleep(1.0 + settings.before)  # start-up settles, then "before"
            start = time.time()
            options = ["--mode", "flood", "--kind", "report", "--depth", str(depth)]
            attackers = [
                attack(victim.endpoint, *options, "--seconds", str(during), *speak)
                for _ in range(clients)
            ]
            counts = [counts_of(a) for a in attackers]
            end = time.time()
            time.sleep(settings.after)
            before = _rates(victim, start - settings.before, start)
            under = _rates(victim, start, end)
            after = _rates(victim, end, end + settings.after)
            rss = [_rss(victim, start - settings.before, start), _rss(victim, start, end)]
            rss.append(_rss(victim, end, end + settings.after))
        finally:
            victim.close()
    total = {k: sum(c.get(k, 0) for c in counts) for k in ("sent", "answered", "busy")}
    base = statistics.median(before)
    label = f"{clients} clients flooding report for {during:g} s"
    detail = {"counts": counts, "clients": clients, "depth": depth, "seconds": during}
    return [
        Figure.of("flood_sent", f"{label}: requests sent", [total["sent"]], "", detail=detail),
        Figure.of("flood_answered", "  answered", [total["answered"]], ""),
        Figure.of("flood_busy", "  refused busy", [total["busy"]], ""),
        Figure.of("flood_rate_before", "  victim's round trips before", before, "/s"),
        Figure.of("flood_rate_during", "  ... during", under, "/s"),
        Figure.of("flood_rate_after", "  ... after they left", after, "/s"),
        Figure.of(
            "flood_ratio_during",
            "  victim's rate during / before",
            [r / base for r in under],
            "x",
            Target(">=", 0.5),
        ),
        Figure.of(
            "flood_ratio_after",
            "  victim's rate after / before",
            [r / base for r in after],
            "x",
            Target(">=", 0.9),
        ),
        Figure.of("flood_rss_before", "  victim's RSS before", rss[0], "MiB"),
        Figure.of("flood_rss_during", "  ... during (max)", [max(rss[1])], "MiB"),
        Figure.of("flood_rss_after", "  ... after", rss[2], "MiB"),
    ]


def bench_unread(settings: Settings, zmq_ipc: bool) -> list[Figure]:
    clients, sockets = settings.unread_clients, settings.unread_sockets
    progress(f"unread: {clients} clients ask for snapshots of {sockets:,} sockets, read nothing")
    speak = ["--zmq"] if zmq_ipc else []
    hold = settings.unread_hold
    with private_folder() as folder:
        victim = Victim(folder, sockets)
        try:
            _one_snapshot(victim.endpoint)  # the victim's own first-snapshot allocations
            before = settled_rss(victim.process.pid) / MiB
            options = ["--mode", "unread", "--kind", "snapshot", "--depth", "20"]
            attacker = attack(
                victim.endpoint, *options, "--clients", str(clients), "--seconds", str(hold), *speak
            )
            time.sleep(hold / 2)
            during = _peak_rss(victim.process.pid, hold / 2 - 0.5) / MiB
            counts = counts_of(attacker)
            time.sleep(1.0)
            after = settled_rss(victim.process.pid) / MiB
        finally:
            victim.close()
    label = f"{clients} clients reading nothing, {sockets:,} sockets"
    return [
        Figure.of("unread_rss_before", f"{label}: victim's RSS before", [before], "MiB"),
        Figure.of("unread_rss_during", "  ... during (max)", [during], "MiB", detail=counts),
        Figure.of("unread_rss_after", "  ... after they left", [after], "MiB"),
        Figure.of(
            "unread_growth",
            "  growth during (bound: 64 MiB of replies)",
            [during - before],
            "MiB",
            Target("<=", 96.0),
        ),
    ]


def _peak_rss(pid: int, seconds: float) -> float:
    peak = rss_of(pid)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.25)
        peak = max(peak, rss_of(pid))
    return peak


def _one_snapshot(endpoint: str) -> None:
    from zmqscope.client import LiveClient

    client = LiveClient(endpoint, timeout=60)
    try:
        client.snapshot()
    finally:
        client.close()
