"""The ``term()`` calls a report's culprits belong to: still waiting, or over, and how long.

The watchdog names a blocked ``term()``'s culprits once, after the grace
period, and they stay in the registry after the ``term()`` returns (the exit
report explains the wait). Every view (the reports, the TUI) tells the two
apart through :func:`held_terms`: present tense while it waits, past tense
once it is over.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from zmqscope.model._base import ContextState
from zmqscope.model._diagnosis import Culprit
from zmqscope.model._records import ContextRecord
from zmqscope.model._snapshot import Snapshot
from zmqscope.model.wording import duration, plural

# Said where a blocked term() has no culprit zmqscope could name.
NO_KNOWN_CULPRIT = "no socket zmqscope knows of keeps it waiting"
RETURNED = "returned"
INTERRUPTED = "interrupted"
# Not a way a term() ends: the process exited after the snapshot that saw it
# blocked (the TUI's last view of a process that is gone). Told in the past.
EXITED = "exited"


@dataclass(frozen=True)
class HeldTerm:
    """One ``term()`` the watchdog reported blocked, and the culprits it named.

    ``ended`` is None while it still waits (at the report's time), else
    ``"returned"`` or ``"interrupted"`` (it raised: Ctrl-C, the pytest
    plugin's signal). ``blocked_for`` is how long it has waited by the
    report's time, or waited in all once it ended (None: not known).
    """

    context_id: str | None
    context: ContextRecord | None
    culprits: tuple[Culprit, ...]
    ended: str | None
    blocked_for: float | None

    @property
    def sure(self) -> tuple[Culprit, ...]:
        """Open sockets: they keep ``term()`` waiting for certain."""
        return tuple(c for c in self.culprits if c.certain)

    @property
    def maybe(self) -> tuple[Culprit, ...]:
        """Closed sockets that may still hold unsent messages."""
        return tuple(c for c in self.culprits if not c.certain)

    @property
    def counted(self) -> tuple[Culprit, ...]:
        """The culprits that count: the open sockets, or if none, the closed ones that may."""
        return self.sure or self.maybe


def culprit_context(snapshot: Snapshot, culprit: Culprit) -> str | None:
    """The context a culprit holds up; older reports only say it through the socket."""
    if culprit.context is not None:
        return culprit.context
    record = snapshot.socket(culprit.socket)
    return record.context if record else None


def held_terms(snapshot: Snapshot, culprits: Sequence[Culprit]) -> list[HeldTerm]:
    """Each ``term()`` ``culprits`` belong to, in their order; each one's sure culprits first."""
    grouped: dict[str | None, list[Culprit]] = {}
    for culprit in culprits:
        grouped.setdefault(culprit_context(snapshot, culprit), []).append(culprit)
    terms = []
    for context_id, mine in grouped.items():
        context = snapshot.context(context_id)
        ordered = tuple(sorted(mine, key=lambda c: not c.certain))
        ended = _ending(context)
        terms.append(HeldTerm(context_id, context, ordered, ended, _blocked_for(snapshot, context)))
    return terms


def _ending(context: ContextRecord | None) -> str | None:
    # The watchdog names culprits only while a term() waits (TERMINATING);
    # it then ends terminated, or open again when it raised.
    if context is None or context.state is ContextState.TERMINATING:
        return None
    return RETURNED if context.state is ContextState.TERMINATED else INTERRUPTED


def _blocked_for(snapshot: Snapshot, context: ContextRecord | None) -> float | None:
    if context is None:
        return None
    if context.state is ContextState.TERMINATING:
        # Blocked since the call (the registry's term_blocked_since is that time too).
        called = context.term_called
        since = called.time if called is not None else context.term_blocked_since
        return None if since is None else max(0.0, snapshot.taken_at - since)
    if context.term_blocked_for is not None:
        return context.term_blocked_for
    # Reports written before term_blocked_for: from the call to the end.
    if context.terminated_at is not None and context.term_called is not None:
        return max(0.0, context.terminated_at - context.term_called.time)
    return None


def blocked_summary(terms: Sequence[HeldTerm]) -> str:
    """``term() blocked: 1 culprit`` (``was blocked`` once every such term() is over)."""
    counted = sum(len(term.counted) for term in terms)
    verb = "blocked" if any(term.ended is None for term in terms) else "was blocked"
    return f"term() {verb}: {plural(counted, 'culprit')}"


def term_sentence(term: HeldTerm, since: float | None = None, now: float | None = None) -> str:
    """``term() of context c1 has been blocked for 5.1 s``, or what it was once it ended.

    ``since`` and ``now`` (seconds since the epoch) override the wait while
    it goes on (the notice printed at the grace period counts from the call).
    """
    name = f"term() of context {term.context_id}" if term.context_id else "term()"
    waited = term.blocked_for
    if since is not None and now is not None:
        waited = max(0.0, now - since)
    length = f" for {duration(waited)}" if waited is not None else ""
    if term.ended is None:
        return f"{name} has been blocked{length}"
    if term.ended == EXITED:
        return f"{name} had been blocked{length} when the process exited"
    how = "it returned" if term.ended == RETURNED else "it was interrupted"
    return f"{name} was blocked{length} until {how}"


def culprit_count_sentence(term: HeldTerm) -> str:
    """``1 socket keeps it waiting, and 2 closed sockets may too`` (past tense once it ended)."""
    sure, maybe = len(term.sure), len(term.maybe)
    now = term.ended is None
    parts = []
    if sure:
        verb = ("keeps" if sure == 1 else "keep") if now else "kept"
        parts.append(f"{plural(sure, 'socket')} {verb} it waiting")
    if maybe:
        closed = plural(maybe, "closed socket")
        if sure:
            parts.append(f"and {closed} may {'too' if now else 'have too'}")
        else:
            parts.append(f"{closed} may {'keep' if now else 'have kept'} it waiting")
    return ", ".join(parts)


# How the watchdog says where a culprit's owner is (shutdown._where), after
# the owner's name, and the same said once the term() is over.
_TENSES = (
    (" is blocked in ", " was blocked in "),
    (" is at ", " was at "),
    (" is running ", " was running "),
    (" has exited ", " had exited "),
)


def where_then(culprit: Culprit) -> str:
    """``culprit.where`` in the past tense: ``svc-thread was at app.py:13 in serve()``.

    Where the owner was when the watchdog looked, for a ``term()`` that has
    ended since. Only the verb after the owner's name changes: a thread's
    name is the application's, and may hold any words.
    """
    where = culprit.where
    owner = culprit.owner.name if culprit.owner is not None else None
    if not owner or not where.startswith(owner):
        return where
    rest = where[len(owner) :]
    for now, then in _TENSES:
        if rest.startswith(now):
            return owner + then + rest[len(now) :]
    return where
