"""The header, as a user reads it first: the process, its vital signs, the connection.

Pilot over a FakeClient at 120x40 (tests/helpers/tui.py), checking what the user sees.
"""

from __future__ import annotations

from tests.helpers.tui import (
    SIZE,
    header,
    make_app,
    settle,
)

# -- header ---------------------------------------------------------------------------


async def test_header_shows_the_process_its_vital_signs_and_live() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        first, second = header(app).splitlines()[:2]
    assert first == "pid 4242  /srv/app/main.py --workers 2"
    # The connection first (a narrow terminal cuts the end), then the leaks.
    assert second == (
        "live every 3600s  1 leak  up 1h02m  CPU 12%  RSS 48.3 MB  fds 37/1024  threads 5"
    )
