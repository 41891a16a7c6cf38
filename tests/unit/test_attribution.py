"""Whose code a frame is, where threads were started, and how a call site is named."""

from __future__ import annotations

import gc
import json
import os
import sysconfig
import threading
import unittest
import weakref
from collections.abc import Iterator
from pathlib import Path

import pytest
import zmq
from rich.console import Console

import zmqscope
from tests.helpers.call_site import here
from zmqscope.instrument import hooks
from zmqscope.instrument import origins as _origins
from zmqscope.instrument.origins import Origins
from zmqscope.model import (
    CallSite,
    Frame,
    ProcessInfo,
    SchemaError,
    Snapshot,
    SocketRecord,
    SocketState,
    ThreadRef,
)
from zmqscope.model.wording import (
    call_text,
    callers,
    site_headline,
    started_text,
)
from zmqscope.remote.wire import Decoder, FrameTable, encode_socket
from zmqscope.reporting import Report, build_report, render_text

ROOT = "/home/dev/project"
STDLIB = os.path.dirname(os.__file__)
SITE = "/home/dev/.venv/lib/python3.12/site-packages"

# -- classifying files -------------------------------------------------------------


@pytest.fixture
def origins() -> Origins:
    return Origins(ROOT, stdlib=(STDLIB + os.sep,))


@pytest.mark.parametrize(
    ("path", "origin", "display"),
    [
        (f"{ROOT}/app.py", "user", "app.py"),
        (f"{ROOT}/src/pkg/mod.py", "user", "src/pkg/mod.py"),
        ("/elsewhere/tool.py", "user", None),  # outside the project: shown whole
        ("<string>", "user", None),  # python -c, exec()
        (f"{SITE}/jupyter_client/connect.py", "library", "jupyter_client/connect.py"),
        ("/usr/lib/python3/dist-packages/yaml/loader.py", "library", "yaml/loader.py"),
        (f"{ROOT}/.venv/lib/python3.12/site-packages/tornado/ioloop.py", "library", None),
        ("/opt/eggs/foo-1.0-py3.12.egg/foo/bar.py", "library", "foo/bar.py"),
        (f"{STDLIB}/unittest/case.py", "stdlib", "unittest/case.py"),
        (f"{STDLIB}/concurrent/futures/thread.py", "stdlib", "concurrent/futures/thread.py"),
    ],
)
def test_files_are_told_apart_and_shown_from_their_folder(
    origins: Origins, path: str, origin: str, display: str | None
) -> None:
    found, shown, cell = origins.classify(path)
    if display is None and origin == "library":
        display = path.split("site-packages/", 1)[1]
    assert (found, shown, cell) == (origin, display, None)


def test_the_interpreters_own_standard_library_is_found() -> None:
    origin, display, _ = Origins(ROOT).classify(json.__file__)
    assert (origin, display) == ("stdlib", "json/__init__.py")
    stdlib = sysconfig.get_paths()["stdlib"]
    assert Origins(ROOT).classify(os.path.join(stdlib, "runpy.py"))[0] == "stdlib"


def test_zmqscopes_example_apps_are_application_code(origins: Origins) -> None:
    from zmqscope.examples import leaky_app

    assert origins.classify(os.path.abspath(leaky_app.__file__))[0] == "user"


def test_a_frame_is_frozen_with_its_origin_and_display(origins: Origins) -> None:
    frame = origins.frame((f"{SITE}/zmq_helper/sockets.py", 9, "make"))
    assert frame == Frame(
        f"{SITE}/zmq_helper/sockets.py", 9, "make", "library", "zmq_helper/sockets.py"
    )


def test_the_project_root_is_fixed_once() -> None:
    root = _origins.project_root()
    assert _origins.fix_root("/somewhere/else") == root
    assert hooks.process_info().root == root


# -- where threads were started --------------------------------------------------------


@pytest.fixture
def installed() -> Iterator[None]:
    hooks.reset_registry()
    zmqscope.install()
    try:
        yield
    finally:
        zmqscope.uninstall()


def _start(thread: threading.Thread) -> int:
    line = here() + 1
    thread.start()
    return line


def test_a_socket_made_in_a_thread_says_where_and_when_the_thread_was_started(
    installed: None,
) -> None:
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    made: list[zmq.Socket[bytes]] = []
    worker = threading.Thread(target=lambda: made.append(ctx.socket(zmq.PAIR)), name="w")
    line = _start(worker)
    worker.join()
    try:
        (record,) = zmqscope.snapshot().sockets
        # Carried through the report's JSON and read back.
        again = Report.from_json(build_report(zmqscope.snapshot()).to_json())
    finally:
        made[0].close()
        ctx.term()
    thread = record.created.thread
    assert thread is not None and thread.name == "w"
    started = thread.started
    assert started is not None
    assert started.stack[0].file == __file__
    assert (started.stack[0].line, started.stack[0].function) == (line, "_start")
    assert started.user_frame == 0
    assert started.thread is not None and started.thread.name == "MainThread"
    assert started.thread.started is None
    assert started.time <= record.created.time
    read = again.snapshot.sockets[0].created.thread
    assert read is not None and read.started == started


def test_thread_start_is_put_back_by_uninstall_and_keeps_no_thread() -> None:
    zmqscope.uninstall()  # (the pytest plugin may have installed it)
    original = threading.Thread.start
    zmqscope.install()
    try:
        assert threading.Thread.start is not original
        thread = threading.Thread(target=lambda: None)
        thread.start()
        thread.join()
        assert "_zmqscope_started" in vars(thread)
        ref = weakref.ref(thread)
        del thread
        gc.collect()
        assert ref() is None  # the start record holds no thread
    finally:
        zmqscope.uninstall()
    assert threading.Thread.start is original


def test_threads_started_before_install_have_no_start_site() -> None:
    ready, go = threading.Event(), threading.Event()
    made: list[zmq.Socket[bytes]] = []
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()

    def work() -> None:
        ready.set()
        go.wait(30)
        made.append(ctx.socket(zmq.PAIR))

    zmqscope.uninstall()  # (the pytest plugin may have installed it)
    early = threading.Thread(target=work)
    early.start()
    ready.wait(30)
    hooks.reset_registry()
    zmqscope.install()
    try:
        go.set()
        early.join(30)
        (record,) = [s for s in zmqscope.snapshot().sockets if s.type == "PAIR"]
        assert record.created.thread is not None
        assert record.created.thread.started is None
    finally:
        for sock in made:
            sock.close()
        ctx.term()
        zmqscope.uninstall()


def test_a_thread_started_twice_still_fails_as_without_zmqscope(installed: None) -> None:
    thread = threading.Thread(target=lambda: None)
    thread.start()
    thread.join()
    with pytest.raises(RuntimeError, match="started once"):
        thread.start()


# -- naming a call site -----------------------------------------------------------------


APP = Frame(f"{ROOT}/app.py", 7, "main", "user", "app.py")
APP_OUTER = Frame(f"{ROOT}/app.py", 20, "<module>", "user", "app.py")
LIB = Frame(
    f"{SITE}/jupyter_client/connect.py", 697, "_create", "library", "jupyter_client/connect.py"
)
LIB_OUTER = Frame(
    f"{SITE}/jupyter_client/client.py", 300, "start", "library", "jupyter_client/client.py"
)
RUNNER = Frame(f"{STDLIB}/unittest/case.py", 589, "_callTestMethod", "stdlib", "unittest/case.py")


def test_the_headline_names_the_applications_line_via_the_librarys() -> None:
    site = CallSite(1.0, ThreadRef(1, "MainThread"), (LIB, LIB_OUTER, APP, APP_OUTER), 2)
    assert site_headline(site) == "app.py:7 in main(), via jupyter_client/connect.py:697"
    assert callers(site) == (APP_OUTER,)
    assert site.user_site == APP and site.site == LIB


def test_runner_frames_outward_of_the_applications_are_not_shown() -> None:
    site = CallSite(1.0, None, (APP, RUNNER, RUNNER, APP_OUTER), 0)
    assert callers(site) == (APP_OUTER,)


def test_a_cut_stack_without_the_applications_frame_says_so() -> None:
    site = CallSite(1.0, None, (LIB, LIB_OUTER), None, truncated=True)
    assert call_text(site) == (
        "jupyter_client/connect.py:697 in _create()"
        " (no frame of your code in the 2 recorded: raise --stack-depth)"
    )
    whole = CallSite(1.0, None, (LIB, LIB_OUTER), None, truncated=False)
    assert call_text(whole) == "jupyter_client/connect.py:697 in _create()"


def test_a_report_made_before_origins_reads_as_before() -> None:
    old = Frame(f"{ROOT}/lib.py", 3, "helper")
    site = CallSite(1.0, None, (old, Frame(f"{ROOT}/app.py", 9, "main")))
    assert site_headline(site, short=True) == "lib.py:3 in helper()"
    data = site.to_dict()
    del data["user_frame"], data["truncated"]
    assert CallSite.from_dict(data) == site


def test_a_threads_start_is_worded_with_the_same_rule() -> None:
    start = CallSite(1.0, ThreadRef(1, "MainThread"), (LIB_OUTER, APP), 1)
    thread = ThreadRef(5, "Thread-1", start)
    assert started_text(thread) == (
        "started at app.py:7 in main(), via jupyter_client/client.py:300"
    )
    assert started_text(ThreadRef(5, "Thread-1")) is None


def test_a_bad_user_frame_index_is_rejected() -> None:
    data = CallSite(1.0, None, (APP,), 0).to_dict()
    data["user_frame"] = 3
    with pytest.raises(SchemaError):
        CallSite.from_dict(data)


def test_frames_threads_and_roots_round_trip_through_json_and_the_wire() -> None:
    cell = Frame("<ipython-input-3-abc>", 4, "<module>", "user", None, 3, "s = ctx.socket(1)")
    start = CallSite(0.5, ThreadRef(1, "MainThread"), (LIB_OUTER, APP), 1)
    created = CallSite(1.0, ThreadRef(5, "Thread-1", start), (LIB, cell), 1, True)
    record = SocketRecord("s1", "c1", "REQ", SocketState.OPEN, created)
    process = ProcessInfo(1, ("app.py",), "3.12", "27", "4.3.5", ROOT)
    report = build_report(Snapshot(2.0, process, sockets=(record,)))
    again = Report.from_json(report.to_json())
    assert again.snapshot.sockets == (record,)
    assert again.snapshot.process.root == ROOT

    table = FrameTable()
    wire = json.loads(json.dumps({"rows": table.rows, "s": encode_socket(record, table)}))
    assert Decoder(wire["rows"]).socket(wire["s"]) == record


# -- in the text report ------------------------------------------------------------------


def _render(report: Report, width: int) -> str:
    console = Console(width=width, record=True, force_terminal=False, color_system=None)
    console.print(render_text(report), crop=False)
    return console.export_text()


def test_a_path_longer_than_the_panel_is_never_folded() -> None:
    deep = "pkg_" + "x" * 90 + "/module.py"
    lib = Frame(f"{SITE}/{deep}", 12, "make", "library", deep)
    created = CallSite(1.0, ThreadRef(1, "MainThread"), (lib, APP), 1)
    record = SocketRecord("s1", "c1", "PUSH", SocketState.OPEN, created)
    process = ProcessInfo(1, ("app.py",), "3.12", "27", "4.3.5", ROOT)
    text = _render(build_report(Snapshot(2.0, process, sockets=(record,))), 80)
    assert text.count(f"{deep}:12") == 3  # the message, the created row, the via row
    assert "app.py:7 in main(), via" in text


def test_unittest_frames_are_left_out_of_a_real_unittest_chain(installed: None) -> None:
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    made: list[zmq.Socket[bytes]] = []

    class Case(unittest.TestCase):
        def test_it(self) -> None:
            made.append(ctx.socket(zmq.PUSH))

    # Under the pytest plugin (--zmqscope) walks end at unittest's frames:
    # this test is about what is shown when they were recorded (zmqscope run).
    previous = hooks.stop_walks_at(())
    try:
        with open(os.devnull, "w") as quiet:
            unittest.TextTestRunner(stream=quiet, verbosity=0).run(Case("test_it"))
    finally:
        hooks.stop_walks_at(previous)
    try:
        (record,) = zmqscope.snapshot().sockets
    finally:
        made[0].close()
        ctx.term()
    shown = callers(record.created)
    assert any(f.display and f.display.startswith("unittest/") for f in record.created.stack)
    assert not any(f.display and f.display.startswith("unittest/") for f in shown)
    assert Path(record.created.stack[0].file).name == Path(__file__).name


def test_names_and_paths_in_panels_are_shown_literally_never_as_markup() -> None:
    evil = ThreadRef(1, "[red]evil[/red] [pool] w", CallSite(0.5, None, (APP,), 0))
    created = CallSite(1.0, evil, (LIB, APP), 1)
    record = SocketRecord("s1", "c1", "PUSH", SocketState.OPEN, created, threads_used=(evil,))
    process = ProcessInfo(1, ("app.py",), "3.12", "27", "4.3.5", ROOT)
    text = _render(build_report(Snapshot(2.0, process, sockets=(record,))), 200)
    assert "[red]evil[/red] [pool] w (id 1), started at app.py:7 in main()" in text
