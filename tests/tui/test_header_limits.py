"""The header warns, on a third line, when a limit that makes socket() fail is near;
the export of a running process is its report as it runs."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers.fake_client import FakeClient
from tests.helpers.tui import SIZE, make_app, settle, text_of
from zmqscope.tui.header import ProcessHeader


async def test_a_context_near_max_sockets_adds_a_warning_line_to_the_header() -> None:
    # c1 holds four open sockets (s1, s2, s3, s5): four of five is four fifths.
    app = make_app(FakeClient(max_sockets=5))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        header = app.home.query_one(ProcessHeader)
        lines = text_of(header).splitlines()
        assert header.size.height == 3
    assert lines[2] == (
        "near a limit: c1: 4/5 sockets (MAX_SOCKETS), most from"
        " /srv/app/pipeline.py:21 in start_ventilator() (1)"
    )


async def test_file_descriptors_at_the_limit_are_a_limit_reached() -> None:
    app = make_app(FakeClient(fds=1024))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        lines = text_of(app.home.query_one(ProcessHeader)).splitlines()
    assert lines[2].startswith("limit reached: fds 1024/1024 (ulimit -n), most from ")


async def test_no_warning_line_while_all_is_well() -> None:
    app = make_app(FakeClient(max_sockets=1023))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        header = app.home.query_one(ProcessHeader)
        assert len(text_of(header).splitlines()) == 2
        assert header.size.height == 2


async def test_the_export_of_a_live_process_is_its_inventory_not_leaks(tmp_path: Path) -> None:
    """e saves a running process's report: open sockets in use, only s7 leaked (collected)."""
    app = make_app(FakeClient(), export_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("e")
    (path,) = tmp_path.glob("zmqscope-*.json")
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["at_exit"] is False
    assert [(leak["socket"], leak["kind"]) for leak in document["leaks"]] == [
        ("s7", "collected-unclosed")
    ]
    in_use = sorted(sid for group in document["inventory"] for sid in group["sockets"])
    assert in_use == ["s1", "s2", "s3", "s5", "s8"]
    assert (document["limits"]["fds"], document["limits"]["fd_limit"]) == (37, 1024)
