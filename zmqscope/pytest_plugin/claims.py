"""Sockets fixtures wider than a function create: claimed by the fixture, checked at its end.

A class-, module-, package- or session-scoped fixture's sockets are not the
test's during whose setup it ran: its setup opens a :class:`Window` of its
own, and the sockets recorded in it are claimed by the fixture. pytest
finalizes the fixture during the teardown of the last test of its scope;
then its claims are checked (by the callback the manager gives), and that
test carries what they find.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from zmqscope.instrument import hooks
from zmqscope.instrument.registry.store import Registry, SocketEntry
from zmqscope.pytest_plugin.observers import WATCHER_NAME, FixtureEndWatcher, registered
from zmqscope.pytest_plugin.windows import Window


@dataclass
class Claim:
    """Sockets a fixture wider than a function created; checked when it is finalized."""

    fixture: str
    scope: str
    registry: Registry
    entries: list[SocketEntry]


class Claims:
    """Every claim of the run's wider fixtures, until pytest finalizes each fixture."""

    def __init__(self, config: pytest.Config, ended: Callable[[Claim], None]) -> None:
        self._config = config
        self._ended = ended
        self.claimed: dict[SocketEntry, Claim] = {}  # the entries of every claim
        self._by_fixture: dict[object, list[Claim]] = {}  # FixtureDef -> its claims
        self._wide: dict[object, bool] = {}  # FixtureDef -> wider than a function?
        self._watcher = FixtureEndWatcher(self.finalized)

    def wide(self, fixturedef: pytest.FixtureDef[Any]) -> bool:
        """True for a fixture wider than a function, whose sockets it claims."""
        # Asked for every fixture of every test: the scope (an enum behind a
        # property) is read once per fixture definition.
        wide = self._wide.get(fixturedef)
        if wide is None:
            wide = self._wide[fixturedef] = fixturedef.scope != "function"
        return wide

    def claim(self, fixturedef: pytest.FixtureDef[Any], window: Window) -> None:
        """``fixturedef``'s setup, run in ``window``, is over: the sockets made in it are its."""
        # A nested wider fixture (requested by this one) claimed its own first.
        entries = [e for e in window.entries() if e not in self.claimed]
        if not entries:
            return
        claim = Claim(fixturedef.argname, fixturedef.scope, hooks.registry(), entries)
        for entry in entries:
            self.claimed[entry] = claim
        self._by_fixture.setdefault(fixturedef, []).append(claim)
        self.watched(True)

    def finalized(self, fixturedef: pytest.FixtureDef[Any]) -> None:
        """pytest finalized ``fixturedef``: its claims are checked and let go."""
        for claim in self._by_fixture.pop(fixturedef, ()):
            for entry in claim.entries:
                self.claimed.pop(entry, None)
            self._ended(claim)
        if not self._by_fixture:
            self.watched(False)

    def watched(self, on: bool) -> None:
        """Hear of fixtures' ends only while a wider fixture holds sockets.

        pytest calls ``pytest_fixture_post_finalizer`` after every fixture of
        every test; a suite whose wider fixtures make no socket should not pay
        for a hook call per fixture.
        """
        registered(self._config, self._watcher, WATCHER_NAME, on)
