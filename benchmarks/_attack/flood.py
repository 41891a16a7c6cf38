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
    rounds = settings.flood_rounds
    progress(
        f"flood: {clients} clients x {depth} report requests in flight, {rounds} x {during:g} s"
    )
    speak = ["--zmq"] if zmq_ipc else []
    options = ["--mode", "flood", "--kind", "report", "--depth", str(depth)]
    counts: list[dict[str, int]] = []
    phases: dict[str, list[float]] = {"before": [], "during": [], "after": []}
    ratios_during: list[float] = []
    ratios_after: list[float] = []
    rss: dict[str, list[float]] = {"before": [], "during": [], "after": []}
    baseline = 0.0
    with private_folder() as folder:
        victim = Victim(folder, settings.victim_sockets)
        try:
            time.sleep(2.0)  # start-up settles
            time.sleep(settings.before)  # a longer baseline: the first "before" is twice as long
            for _ in range(rounds):
                time.sleep(settings.before)
                start = time.time()
                attackers = [
                    attack(victim.endpoint, *options, "--seconds", str(during), *speak)
                    for _ in range(clients)
                ]
                counts += [counts_of(a) for a in attackers]
                end = time.time()
                time.sleep(settings.after)
                opening = not baseline
                windows = {
                    "before": (start - settings.before * (2 if opening else 1), start),
                    "during": (start, end),
                    "after": (end, end + settings.after),
                }
                medians = {}
                for phase, (first, last) in windows.items():
                    rates = _rates(victim, first, last)
                    phases[phase] += rates
                    medians[phase] = statistics.median(rates)
                    rss[phase].append(max(_rss(victim, first, last)))
                # Against the first round's "before": a server still busy with
                # the last round's requests would spoil a later one.
                baseline = baseline or medians["before"]
                ratios_during.append(medians["during"] / baseline)
                ratios_after.append(medians["after"] / baseline)
        finally:
            victim.close()
    total = {k: sum(c.get(k, 0) for c in counts) // rounds for k in ("sent", "answered", "busy")}
    label = f"{clients} clients flooding report for {during:g} s"
    detail = {"counts": counts, "clients": clients, "depth": depth, "seconds": during}
    return [
        Figure.of("flood_sent", f"{label}: requests sent", [total["sent"]], "", detail=detail),
        Figure.of("flood_answered", "  answered", [total["answered"]], ""),
        Figure.of("flood_busy", "  refused busy", [total["busy"]], ""),
        Figure.of("flood_rate_before", "  victim's round trips before", phases["before"], "/s"),
        Figure.of("flood_rate_during", "  ... during", phases["during"], "/s"),
        Figure.of("flood_rate_after", "  ... after they left", phases["after"], "/s"),
        Figure.of(
            "flood_ratio_during",
            "  victim's rate during / before the first",
            ratios_during,
            "x",
            Target(">=", 0.5),
        ),
        Figure.of(
            "flood_ratio_after",
            "  victim's rate after / before the first",
            ratios_after,
            "x",
            Target(">=", 0.9),
        ),
        Figure.of("flood_rss_before", "  victim's RSS before", rss["before"], "MiB"),
        Figure.of("flood_rss_during", "  ... during (max)", rss["during"], "MiB"),
        Figure.of("flood_rss_after", "  ... after", rss["after"], "MiB"),
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
    from zmqscope.remote.client import LiveClient

    client = LiveClient(endpoint, timeout=60)
    try:
        client.snapshot()
    finally:
        client.close()
