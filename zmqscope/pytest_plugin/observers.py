"""The plugins zmqscope registers beside its manager, each only while it is needed.

Each hook a plugin implements is called by pluggy for every test (or every
fixture), so these two are registered only when they matter:

- :class:`ReportObserver` reads each report as it is made, when another
  plugin may run a test's protocol (:func:`protocol_elsewhere`), or under
  ``--pdb``.
- :class:`FixtureEndWatcher` hears of each fixture's end while a fixture
  wider than a function holds sockets.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from zmqscope.pytest_plugin.manager import ZmqscopeManager

OBSERVER_NAME = "zmqscope_observer"
WATCHER_NAME = "zmqscope_claims"
_RERUNS_KEY = pytest.StashKey[Any]()


class ReportObserver:
    """The hooks that read each report the moment pytest makes it.

    Registered for the run only when that matters: when another plugin may
    run a test's protocol (pytest-rerunfailures, or a plugin whose
    ``pytest_runtest_protocol`` is called before zmqscope's), a leak, known
    after that plugin logged the call report, fails the run as an error at
    teardown; with ``--pdb``, a failure must be logged before the debugger
    opens (quitting it ends the run at once). Otherwise zmqscope reads each
    report as its own run of the protocol makes it and needs neither hook.
    """

    def __init__(self, manager: ZmqscopeManager) -> None:
        self._manager = manager

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Generator[None, object, object]:
        self._manager.begin(item)  # around whichever plugin runs the protocol
        try:
            return (yield)
        finally:
            self._manager.end()

    # Outermost (tryfirst): sees a report after pytest's own wrappers (xfail) changed it.
    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        self._manager.observed(item, report)
        return report


class FixtureEndWatcher:
    """The one hook wider fixtures' claims need: a fixture was finalized."""

    def __init__(self, finalized: Callable[[pytest.FixtureDef[Any]], None]) -> None:
        self._finalized = finalized

    def pytest_fixture_post_finalizer(self, fixturedef: pytest.FixtureDef[Any]) -> None:
        self._finalized(fixturedef)


def registered(config: pytest.Config, plugin: object, name: str, on: bool) -> None:
    """Register ``plugin`` as ``name``, or unregister it; nothing if it already is as asked."""
    plugins = config.pluginmanager
    is_registered = plugins.is_registered(plugin)
    if on and not is_registered:
        plugins.register(plugin, name)
    elif not on and is_registered:
        plugins.unregister(plugin)


def protocol_elsewhere(config: pytest.Config, manager: object) -> bool:
    """True if a test's protocol may be run by another plugin than ``manager``.

    pytest-rerunfailures runs those it reruns; a plugin whose implementation
    pluggy calls before zmqscope's (a later ``tryfirst`` one) runs them all.
    """
    if _reruns_count(config) is not None:
        return True
    runners = [
        impl
        for impl in config.hook.pytest_runtest_protocol.get_hookimpls()
        if not (impl.wrapper or impl.hookwrapper)
    ]
    return not runners or runners[-1].plugin is not manager  # pluggy calls the last first


def rerun_elsewhere(item: pytest.Item) -> bool:
    """True if pytest-rerunfailures will run this test, rerunning it if it fails.

    Its ``pytest_runtest_protocol`` is a plain one, which zmqscope's (tryfirst)
    would otherwise replace, silently turning ``--reruns`` and
    ``@pytest.mark.flaky`` off.
    """
    reruns = _reruns_count(item.config)
    return reruns is not None and reruns(item) is not None


def _reruns_count(config: pytest.Config) -> Any:
    """pytest-rerunfailures' ``get_reruns_count``, looked up once per run (None without it)."""
    try:
        return config.stash[_RERUNS_KEY]
    except KeyError:
        plugin = config.pluginmanager.get_plugin("rerunfailures")
        reruns = getattr(plugin, "get_reruns_count", None)
        found = config.stash[_RERUNS_KEY] = reruns if callable(reruns) else None
        return found
