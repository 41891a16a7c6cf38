"""Shared set-up of the TUI tests: async tests, local time in UTC, app factories.

pyproject sets no ``asyncio_mode``, so pytest-asyncio runs in strict mode and
only runs coroutine tests marked ``asyncio``; the hook below marks every
``async def test_*`` in this folder, as ``asyncio_mode = auto`` would.
"""

from __future__ import annotations

import inspect
import io
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from rich.console import Console, RenderableType
from rich.text import Text
from textual.pilot import Pilot
from textual.widgets import Static

from tests.tui.fake_client import FakeClient, clock
from zmqscope.tui import ScopeApp
from zmqscope.tui.demo import DemoApp

SIZE = (120, 40)
# No timer tick during a test unless the test asks for one.
QUIET = 3600.0


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makeitem(collector: pytest.Collector, name: str, obj: Any) -> None:
    in_tests = isinstance(collector, pytest.Module | pytest.Class)
    if in_tests and inspect.iscoroutinefunction(obj) and collector.funcnamefilter(name):
        pytest.mark.asyncio(obj)


@pytest.fixture(autouse=True)
def utc() -> Iterator[None]:
    """Times of day (stacks, timelines, export names) read the same on every machine."""
    saved = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    try:
        yield
    finally:
        if saved is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = saved
        time.tzset()


@pytest.fixture(autouse=True)
def state_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Exports (``e``) without an export_dir go to a private state folder, not the user's."""
    folder = tmp_path_factory.mktemp("state")
    monkeypatch.setenv("XDG_STATE_HOME", str(folder))
    return folder


class Recording:
    """Keeps the text of every notification (toast) the app shows, in order.

    Animations are off: a tab's sliding underline only slows the tests down.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.notes: list[str] = []
        self.animation_level = "none"

    def notify(self, message: str, *args: Any, **kwargs: Any) -> None:
        self.notes.append(message)
        super().notify(message, *args, **kwargs)  # type: ignore[misc]


class RecordingScopeApp(Recording, ScopeApp):
    """ScopeApp that remembers its notifications."""


class RecordingDemoApp(Recording, DemoApp):
    """DemoApp that remembers its notifications."""


def make_app(
    client: FakeClient | None = None,
    *,
    interval: float = QUIET,
    export_dir: Path | None = None,
    now: Callable[[], float] = clock,
    exit_reports: tuple[Path, ...] = (),
) -> RecordingScopeApp:
    """A ScopeApp on ``client`` (a default FakeClient) with the fixed clock (or ``now``).

    The process's exit report is looked for at ``exit_reports`` only (the
    fake pids are not processes of ours to read).
    """
    return RecordingScopeApp(
        client if client is not None else FakeClient(),
        interval=interval,
        clock=now,
        export_dir=export_dir,
        exit_reports=lambda pid: exit_reports,
    )


async def settle(pilot: Pilot[Any]) -> None:
    """Wait until every fetch in flight has been applied and drawn."""
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def plain(renderable: RenderableType | str, width: int = SIZE[0]) -> str:
    """What a renderable shows, as plain text (markup strings are parsed)."""
    if isinstance(renderable, str):
        renderable = Text.from_markup(renderable)
    console = Console(width=width, file=io.StringIO(), color_system=None, record=True)
    console.print(renderable)
    return console.export_text()


def text_of(widget: Static) -> str:
    """What a Static shows, as plain text."""
    return plain(cast(RenderableType, widget.content))
