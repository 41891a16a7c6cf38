"""A hung term() is explained: culprit sockets, their lines, their owners' stacks.

Every app here hangs on purpose; each test waits only for the report it
expects (grace + a few seconds at most) and always kills its child.
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.helpers.hanging import read_json_when_written, running
from tests.helpers.processes import line_of, write_app

GRACE = ("--grace", "1")


def test_thread_that_swallows_eterm_and_sleeps(tmp_path: Path) -> None:
    app = write_app(
        tmp_path,
        """
        import threading, time
        import zmq

        ctx = zmq.Context()

        def serve():
            sock = ctx.socket(zmq.REP)  # made-here
            sock.bind("tcp://127.0.0.1:*")
            try:
                sock.recv()
            except zmq.ContextTerminated:
                pass  # the bug: the socket is never closed
            time.sleep(3600)  # stuck-here

        threading.Thread(target=serve, name="svc-thread", daemon=True).start()
        time.sleep(0.3)
        ctx.term()  # term-here
        """,
    )
    report_path = tmp_path / "report.json"
    with running(app, *GRACE, "--json", str(report_path), cwd=tmp_path) as child:
        stderr = child.wait_for("remedy")
        assert f"app.py:{line_of(app, 'made-here')}" in stderr
        assert "svc-thread" in stderr
        assert f"app.py:{line_of(app, 'stuck-here')}" in stderr
        assert "time.sleep(3600)" in stderr
        assert f"app.py:{line_of(app, 'term-here')}" in stderr  # where term() was called
        report = read_json_when_written(report_path)
    (culprit,) = report["culprits"]
    socket = next(s for s in report["sockets"] if s["id"] == culprit["socket"])
    assert socket["type"] == "REP"
    assert socket["created"]["stack"][0]["line"] == line_of(app, "made-here")
    assert culprit["owner"]["name"] == "svc-thread"
    assert culprit["owner_alive"] is True
    assert culprit["owner_stack"][0]["line"] == line_of(app, "stuck-here")
    assert "ContextTerminated" in culprit["remedy"]
    assert report["contexts"][0]["state"] == "terminating"
    assert report["contexts"][0]["term_blocked_since"] is not None


def test_closed_push_with_a_pending_message(tmp_path: Path) -> None:
    app = write_app(
        tmp_path,
        """
        import zmq

        ctx = zmq.Context()
        push = ctx.socket(zmq.PUSH)  # made-here
        push.connect("tcp://127.0.0.1:9")
        push.send(b"never delivered")
        push.close()
        ctx.term()
        """,
    )
    with running(app, *GRACE, cwd=tmp_path) as child:
        stderr = child.wait_for("remedy")
    assert f"app.py:{line_of(app, 'made-here')}" in stderr
    assert "LINGER -1" in stderr
    assert "tcp://127.0.0.1:9" in stderr
    assert "linger=0" in stderr  # the remedy names the fix


def test_socket_made_with_the_constructor_and_left_open(tmp_path: Path) -> None:
    app = write_app(
        tmp_path,
        """
        import zmq

        ctx = zmq.Context()
        hidden = zmq.Socket(ctx, zmq.DEALER)  # made-here
        hidden.bind("inproc://hidden")
        ctx.term()  # term-here
        """,
    )
    with running(app, *GRACE, cwd=tmp_path) as child:
        stderr = child.wait_for("remedy")
    assert f"app.py:{line_of(app, 'made-here')}" in stderr
    assert "DEALER" in stderr
    assert "close it before calling term()" in stderr


def test_asyncio_socket_left_open(tmp_path: Path) -> None:
    app = write_app(
        tmp_path,
        """
        import asyncio
        import zmq, zmq.asyncio

        ctx = zmq.asyncio.Context()
        subscribers = []

        async def main():
            sub = ctx.socket(zmq.SUB)  # made-here
            sub.connect("tcp://127.0.0.1:9")
            subscribers.append(sub)
            await asyncio.sleep(0)

        asyncio.run(main())
        ctx.term()
        """,
    )
    with running(app, *GRACE, cwd=tmp_path) as child:
        stderr = child.wait_for("remedy")
    assert f"app.py:{line_of(app, 'made-here')}" in stderr
    assert "SUB" in stderr


def test_with_context_exit_blocks_on_a_socket_destroy_cannot_see(tmp_path: Path) -> None:
    app = write_app(
        tmp_path,
        """
        import zmq

        with zmq.Context() as ctx:  # exit-here
            outside = zmq.Socket(ctx, zmq.PUSH)  # made-here
            outside.connect("tcp://127.0.0.1:9")
            outside.send(b"stuck")
        """,
    )
    with running(app, *GRACE, cwd=tmp_path) as child:
        stderr = child.wait_for("remedy")
    assert f"app.py:{line_of(app, 'made-here')}" in stderr
    assert "PUSH" in stderr


def test_term_that_returns_after_the_grace_period_says_how_long(tmp_path: Path) -> None:
    app = write_app(
        tmp_path,
        """
        import threading, time
        import zmq

        ctx = zmq.Context()
        sock = ctx.socket(zmq.PAIR)

        def close_later():
            time.sleep(2.5)
            sock.close()

        threading.Thread(target=close_later, name="closer").start()
        ctx.term()
        print("done")
        """,
    )
    with running(app, *GRACE, cwd=tmp_path) as child:
        stderr = child.wait_for("returned after")
        assert child.wait_exit() == 0
    assert "keeps it waiting" in stderr  # reported while blocked, then resolved
    assert "term() of context c1 returned after" in stderr


def test_after_term_returned_the_exit_report_says_what_blocked_it_in_the_past_tense(
    tmp_path: Path,
) -> None:
    app = write_app(
        tmp_path,
        """
        import threading, time
        import zmq

        ctx = zmq.Context()
        sock = ctx.socket(zmq.PAIR)  # made-here

        def close_later():
            time.sleep(2.5)
            sock.close()

        threading.Thread(target=close_later, name="closer").start()
        ctx.term()  # term-here
        """,
    )
    report_path = tmp_path / "report.json"
    with running(app, *GRACE, "--json", str(report_path), cwd=tmp_path) as child:
        child.wait_for("returned after")
        assert child.wait_exit() == 0
        stderr = child.stderr
    notice, exit_report = stderr.split("returned after", 1)
    assert "1 socket keeps it waiting" in " ".join(notice.split())  # while it waited
    words = " ".join(exit_report.split())
    term_line = line_of(app, "term-here")
    assert "term() was blocked: 1 culprit" in words  # the summary line
    assert re.search(
        r"term\(\) of context c1 was blocked for \d+\.\d s until it returned"
        rf" \(called at app\.py:{term_line} in <module> by MainThread\);"
        " 1 socket kept it waiting:",
        words,
    ), exit_report
    assert f"then MainThread was blocked in pyzmq's term() at app.py:{term_line}" in words
    assert "is waiting" not in words and "keeps it waiting" not in words
    assert " now " not in exit_report
    report = read_json_when_written(report_path)
    (context,) = report["contexts"]
    assert context["state"] == "terminated"
    assert context["term_blocked_since"] is None
    assert context["term_blocked_for"] >= 1.0  # the grace period passed before it was reported
    assert [c["socket"] for c in report["culprits"]] == ["s1"]
