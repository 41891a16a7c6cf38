"""Frames and cells in the TUI: paths relative to the working directory only when under it."""

from __future__ import annotations

from pathlib import Path

import pytest

from zmqscope.model import CallSite, Frame
from zmqscope.model.wording import display_path, frame_text
from zmqscope.tui import _format


def test_a_frame_under_the_cwd_reads_relative(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    frame = Frame(str(tmp_path / "pkg" / "app.py"), 12, "start")
    assert frame_text(frame) == "pkg/app.py:12 in start()"


def test_a_frame_elsewhere_keeps_its_absolute_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    sibling = str(tmp_path / "work2" / "app.py")  # shares the cwd's text, not its folder
    assert display_path(sibling) == sibling
    assert frame_text(Frame("/srv/app/worker.py", 3, "run")) == ("/srv/app/worker.py:3 in run()")


def test_the_created_at_cell_names_the_applications_line_and_the_library() -> None:
    lib = Frame(
        "/venv/site-packages/jupyter_client/connect.py",
        697,
        "_create",
        "library",
        "jupyter_client/connect.py",
    )
    app = Frame("/srv/app/main.py", 7, "main", "user", "main.py")
    assert _format.site(CallSite(1.0, None, (lib, app), 1)) == "main.py:7 (via jupyter_client)"
    assert _format.site(CallSite(1.0, None, (app,), 0)) == "main.py:7"
    assert _format.site(CallSite(1.0, None, (lib,), None)) == "jupyter_client/connect.py:697"
    assert _format.site(CallSite(1.0, None, ())) == "?"


def test_a_notebook_cell_reads_as_ipython_shows_it_with_its_recorded_source() -> None:
    cell = Frame("<ipython-input-3-abc>", 4, "<module>", "user", None, 3, "s = ctx.socket(1)")
    assert frame_text(cell) == "Cell In[3], line 4 in <module>"
    # Carried by the frame: shown from a saved report too, where no file is read.
    assert _format.source(cell, read_files=False) == "s = ctx.socket(1)"
