"""The Threads view (2), and that only the view shown is rebuilt.

Pilot over a FakeClient at 120x40 (tests/helpers/tui.py), checking what the user sees.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from textual.widgets import Static

from tests.helpers.fake_client import FakeClient
from tests.helpers.tui import (
    SIZE,
    make_app,
    settle,
    text_of,
    view,
)
from zmqscope.model import Frame, ThreadInfo
from zmqscope.tui.shutdown import ShutdownView
from zmqscope.tui.threads import ThreadsView

# -- threads and shutdown -------------------------------------------------------------


async def test_only_the_view_shown_is_rebuilt_on_refresh(monkeypatch: pytest.MonkeyPatch) -> None:
    drawn: list[str] = []
    show_threads, show_shutdown = ThreadsView.show, ShutdownView.show

    def threads_shown(self: ThreadsView, *args: Any) -> None:
        drawn.append("threads")
        show_threads(self, *args)

    def shutdown_shown(self: ShutdownView, *args: Any) -> None:
        drawn.append("shutdown")
        show_shutdown(self, *args)

    monkeypatch.setattr(ThreadsView, "show", threads_shown)
    monkeypatch.setattr(ShutdownView, "show", shutdown_shown)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("r")
        await settle(pilot)
        assert drawn == []  # the sockets view is shown: the other two wait
        await pilot.press("2")
        assert drawn == ["threads"]  # drawn when chosen, from the last answer
        await pilot.press("r")
        await settle(pilot)
        assert drawn == ["threads", "threads"]
        assert "MainThread" in text_of(app.home.query_one("#threads-body", Static))


async def test_2_lists_threads_their_stacks_and_the_sockets_they_own() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("2")
        assert view(app) == "threads"
        assert app.home.query_one(ThreadsView).has_focus
        text = text_of(app.home.query_one("#threads-body", Static))
    assert "MainThread · 1001" in text
    assert "/srv/app/main.py:88 in shutdown()" in text
    assert "owns: s3 PUB" in text
    assert "ventilator (daemon) · 1002" in text and "owns: s1 PUSH" in text
    assert "reporter (daemon) · 1004" in text and "owns: none" in text
    assert "stubborn · 1005" in text and "owns: s5 DEALER" in text


async def test_a_deep_stack_is_cut_and_says_how_many_frames_are_left_out() -> None:
    """Worded as the reports word it: "… 2 more frames", "… 1 more frame"."""
    deep = tuple(Frame("/srv/app/deep.py", line, f"level{line}") for line in range(1, 11))
    threads = (
        ThreadInfo(7001, "deep", False, deep, ()),
        ThreadInfo(7002, "deeper-by-one", False, deep[:9], ()),
    )
    app = make_app(FakeClient(threads=threads))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("2")
        text = text_of(app.home.query_one("#threads-body", Static))
    assert "/srv/app/deep.py:8 in level8()" in text
    assert "deep.py:9 in" not in text.split("deeper-by-one")[0]
    assert "… 2 more frames" in text
    assert re.search(r"… 1 more frame *│", text)
