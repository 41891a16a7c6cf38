"""Paths in the TUI: relative to the working directory only when under it."""

from __future__ import annotations

from pathlib import Path

import pytest

from zmqscope.model import Frame
from zmqscope.model._text import display_path
from zmqscope.tui import _format


def test_a_frame_under_the_cwd_reads_relative(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    frame = Frame(str(tmp_path / "pkg" / "app.py"), 12, "start")
    assert _format.location(frame) == "pkg/app.py:12 in start()"


def test_a_frame_elsewhere_keeps_its_absolute_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    sibling = str(tmp_path / "work2" / "app.py")  # shares the cwd's text, not its folder
    assert display_path(sibling) == sibling
    assert _format.location(Frame("/srv/app/worker.py", 3, "run")) == (
        "/srv/app/worker.py:3 in run()"
    )
