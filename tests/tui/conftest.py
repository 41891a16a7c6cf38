"""Set-up every TUI test gets: async tests, local time in UTC, a private state folder.

Shared helpers (app factories, readers of what is shown) are in tests/helpers/tui.py.

pyproject sets no ``asyncio_mode``, so pytest-asyncio runs in strict mode and
only runs coroutine tests marked ``asyncio``; the hook below marks every
``async def test_*`` in this folder, as ``asyncio_mode = auto`` would.
"""

from __future__ import annotations

import inspect
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makeitem(collector: pytest.Collector, name: str, obj: Any) -> None:
    if not isinstance(collector, pytest.Module | pytest.Class):
        return
    if inspect.iscoroutinefunction(obj) and collector.funcnamefilter(name):
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
