"""The Shutdown view (3) and the banner: a blocked term(), its culprits, in the past once over.

Pilot over a FakeClient at 120x40 (tests/helpers/tui.py), checking what the user sees.
"""

from __future__ import annotations

from textual.widgets import Static

from tests.helpers.fake_client import (
    FakeClient,
)
from tests.helpers.tui import (
    SIZE,
    make_app,
    settle,
    text_of,
    view,
)
from zmqscope.tui.shutdown import ShutdownBanner, ShutdownView


async def test_3_after_term_returned_says_what_blocked_it_in_the_past() -> None:
    client = FakeClient(term_blocked=True)
    app = make_app(client)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("3")
        client.return_term()
        await pilot.press("r")
        await settle(pilot)
        text = text_of(app.home.query_one("#shutdown-body", Static))
        banner_shown = app.home.query_one(ShutdownBanner).has_class("-blocked")
    assert (
        "term() of context c1 was blocked for 12.0 s until it returned, called at"
        " /srv/app/main.py:88 in shutdown(); 1 socket kept it waiting, and 1 closed socket"
        " may have too" in " ".join(text.split())
    )
    assert "then        stubborn is in time.sleep(3600) at stubborn.py:16" in text
    assert "now " not in text
    assert not banner_shown


async def test_3_says_so_when_no_term_is_blocked() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("3")
        text = text_of(app.home.query_one("#shutdown-body", Static))
    assert text.startswith("No term() is blocked.")


async def test_3_shows_the_culprits_with_where_they_are_and_the_remedy() -> None:
    app = make_app(FakeClient(term_blocked=True))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("3")
        assert view(app) == "shutdown"
        assert app.home.query_one(ShutdownView).has_focus
        text = text_of(app.home.query_one("#shutdown-body", Static))
    assert "term() of c1 blocked for 12s, called at /srv/app/main.py:88 in shutdown()" in text
    assert "s5 DEALER" in text
    assert "now         stubborn is in time.sleep(3600) at stubborn.py:16" in text
    assert "created     /srv/app/stubborn.py:12 in hold_on()" in text
    # The chain that led there, as the reports show it.
    assert "called from /srv/app/main.py:120 in main()" in text
    assert "remedy      close the socket when recv() raises zmq.ContextTerminated" in text
    assert "stack       /srv/app/stubborn.py:16 in hold_on()" in text
    assert "s6 REQ (closed: may block)" in text  # the uncertain culprit says so
    assert "remedy      set LINGER to 0 (or a few seconds) before close()" in text


async def test_the_banner_appears_when_term_blocks_and_a_click_opens_shutdown() -> None:
    client = FakeClient()
    app = make_app(client)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        banner = app.home.query_one(ShutdownBanner)
        assert not banner.display
        client.block_term()
        await pilot.press("r")
        await settle(pilot)
        assert banner.display
        assert text_of(banner) == (
            "term() of c1 blocked for 12s: 1 socket keeps it waiting, and 1 closed socket"
            " may too - press 3 or click\n"
        )
        await pilot.press("2")
        assert banner.display  # on every view
        await pilot.click(ShutdownBanner)
        await pilot.pause()
        assert view(app) == "shutdown"
