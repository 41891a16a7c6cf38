"""Discovery trusts nothing it did not check: folders, files, endpoints, pids.

Another local user must not be able to make ``zmqscope ls`` show invented
processes, make ``report PID`` talk to their server, or make ``ls`` (or the
attach picker's scan) delete files anywhere. Tests that need a second user
make one where they run as root and skip elsewhere (see ``tests/helpers/second_user.py``).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.hanging import running
from tests.helpers.processes import describe, write_app, zmqscope_cli
from tests.helpers.second_user import OtherUser
from tests.helpers.serving import SERVING_APP, runtime_env, serving, short_folder
from zmqscope import cli
from zmqscope.instrument.answers import ProcessServer as Server
from zmqscope.remote.client import discover

pytestmark = pytest.mark.timeout(120)


@contextmanager
def sleeper(cwd: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A live process of this user that serves nothing: a pid to impersonate."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], cwd=cwd)
    try:
        yield process
    finally:
        process.kill()
        process.wait(timeout=10)


def dead_pid(cwd: Path) -> int:
    """The pid of a process that has just ended (what a SIGKILLed server leaves behind)."""
    process = subprocess.Popen([sys.executable, "-c", "pass"], cwd=cwd)
    process.wait(timeout=30)
    return process.pid


def discovery(pid: int, endpoint: str) -> dict[str, Any]:
    return {
        "pid": pid,
        "argv": ["victim-app.py"],
        "endpoint": endpoint,
        "started": time.time(),
        "versions": {},
    }


def plant(folder: Path, document: dict[str, Any]) -> None:
    folder.mkdir(mode=0o700, exist_ok=True)
    (folder / f"{document['pid']}.json").write_text(json.dumps(document), encoding="utf-8")


def ls(cwd: Path, base: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """``zmqscope ls --json`` with the runtime folder under ``base``: its rows and stderr lines."""
    result = zmqscope_cli("ls", "--json", cwd=cwd, env=runtime_env(base))
    assert result.returncode == 0, describe(result)
    return json.loads(result.stdout), result.stderr.splitlines()


# -- a folder the server would refuse ----------------------------------------------------


@pytest.mark.parametrize("owner", ["another user", "this user, open to others"])
def test_planted_files_in_a_folder_the_server_would_refuse_are_ignored(
    tmp_path: Path,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    scope: None,
    owner: str,
) -> None:
    with short_folder() as base, sleeper(tmp_path) as victim:
        monkeypatch.setenv("XDG_RUNTIME_DIR", str(base))
        folder = base / "zmqscope"
        evil = f"ipc://{folder}/evil.ipc"
        planted = discovery(victim.pid, evil)  # "the victim's app is here"
        if owner == "another user":
            attacker: OtherUser = request.getfixturevalue("other_user")
            base.chmod(0o1777)  # like /tmp: anyone may make a folder in it
            status, output = attacker.run(lambda: plant(folder, planted))
            assert status == 0, output
            reason = f"refusing {folder}: it belongs to uid {attacker.uid}, not to you"
        else:
            plant(folder, planted)
            folder.chmod(0o777)
            reason = f"refusing {folder}: other users can use it (mode 0777; run chmod 700)"
        # The attacker's server, answering for the victim's pid. It runs in
        # this process (the other user cannot start this Python); what
        # matters is whose folder names it.
        server = Server(evil).start()
        try:
            rows, notes = ls(tmp_path, base)
            assert rows == []
            assert notes == [f"zmqscope: {reason}; nothing in it is listed"]

            report = zmqscope_cli("report", str(victim.pid), cwd=tmp_path, env=runtime_env(base))
            assert report.returncode == 2, describe(report)
            assert report.stdout == ""
            assert report.stderr.splitlines() == [
                f"zmqscope: error: {reason} (where process {victim.pid} would be listed)"
            ]
            assert server.requests == 0  # nobody asked the attacker anything
        finally:
            server.stop()
        assert (folder / f"{victim.pid}.json").is_file()  # not ours to remove


# -- cleaning -----------------------------------------------------------------------------


def test_a_symlinked_runtime_folder_is_neither_read_nor_cleaned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with short_folder() as base:
        project = base / "project"  # someone's files, where the link points
        project.mkdir()
        gone = dead_pid(tmp_path)
        files = {
            "package.json": '{"name": "app"}',
            "settings.json": '{"theme": "dark"}',
            f"{gone}.json": json.dumps(discovery(gone, f"ipc://{project}/{gone}.ipc")),
            f"{gone}.ipc": "",
        }
        for name, text in files.items():
            (project / name).write_text(text, encoding="utf-8")
        (base / "zmqscope").symlink_to(project)

        rows, notes = ls(tmp_path, base)
        assert sorted(p.name for p in project.iterdir()) == sorted(files)  # nothing removed
        assert rows == []
        assert notes == [
            f"zmqscope: refusing {base / 'zmqscope'}: it is not a folder; nothing in it is listed"
        ]

        # The attach picker scans the same way, every two seconds.
        monkeypatch.setenv("XDG_RUNTIME_DIR", str(base))
        reasons: list[str] = []
        assert discover(reasons.append) == []
        assert len(reasons) == 1 and "it is not a folder" in reasons[0]
        assert sorted(p.name for p in project.iterdir()) == sorted(files)


def test_ls_removes_only_the_files_a_killed_server_left(tmp_path: Path) -> None:
    with short_folder() as base, sleeper(tmp_path) as newer:
        folder = base / "zmqscope"
        folder.mkdir(mode=0o700)
        # A server killed an hour ago whose pid another process has now.
        reused = {**discovery(newer.pid, f"ipc://{folder}/{newer.pid}.ipc"), "started": 1.0}
        plant(folder, reused)
        outside = base / "settings.json"
        outside.write_text('{"keep": true}', encoding="utf-8")
        killed, linked, fifo = (dead_pid(tmp_path) for _ in range(3))
        (folder / f"{killed}.json").write_text("{}", encoding="utf-8")
        with socket.socket(socket.AF_UNIX) as leftover:  # a socket file outlives its socket
            leftover.bind(str(folder / f"{killed}.ipc"))
        (folder / f"{linked}.json").symlink_to(outside)
        os.mkfifo(folder / f"{fifo}.json")  # opening it to read would wait for a writer
        (folder / "notes.json").write_text("mine", encoding="utf-8")
        (folder / f"{killed}.txt").write_text("mine too", encoding="utf-8")

        rows, notes = ls(tmp_path, base)
        assert (rows, notes) == ([], [])
        assert sorted(p.name for p in folder.iterdir()) == sorted(
            [f"{linked}.json", f"{fifo}.json", "notes.json", f"{killed}.txt"]
        )
        assert outside.read_text(encoding="utf-8") == '{"keep": true}'


# -- what a discovery file claims ------------------------------------------------------


def test_a_file_claiming_another_processs_server_is_not_believed(tmp_path: Path) -> None:
    app = write_app(tmp_path, SERVING_APP)
    with (
        short_folder() as base,
        serving(app, base, cwd=tmp_path) as live,
        sleeper(tmp_path) as impostor,
        sleeper(tmp_path) as renamed,
    ):
        # A live process of this user that claims the app's server...
        plant(live.runtime, discovery(impostor.pid, live.endpoint))
        # ...a file named for one pid that holds another...
        (live.runtime / f"{renamed.pid}.json").write_text(
            json.dumps(discovery(live.pid, live.endpoint)), encoding="utf-8"
        )
        # ...and a symlink to the app's own file.
        (live.runtime / "1.json").symlink_to(live.runtime / f"{live.pid}.json")

        rows, notes = ls(tmp_path, base)
        assert [row["pid"] for row in rows] == [live.pid], rows
        assert notes == []
        report = zmqscope_cli("report", str(impostor.pid), cwd=tmp_path, env=runtime_env(base))
        assert report.returncode == 2, describe(report)
        assert report.stderr.startswith(f"zmqscope: error: process {impostor.pid} is not instr")
        # Files of live processes are left alone, believed or not.
        assert (live.runtime / f"{impostor.pid}.json").is_file()


def test_a_server_whose_runtime_folder_has_a_space_in_its_path_is_listed(
    tmp_path: Path,
) -> None:
    """The kernel's unix table ends each row with the path, spaces and all."""
    app = write_app(tmp_path, SERVING_APP)
    with short_folder() as outer:
        base = outer / "a b"
        base.mkdir(mode=0o700)
        with serving(app, base, cwd=tmp_path) as live:
            assert live.endpoint.startswith("ipc://") and " " in live.endpoint
            rows, notes = ls(tmp_path, base)
            assert [row["pid"] for row in rows] == [live.pid], (rows, notes)


ELSEWHERE_APP = """
import os, sys, time
import zmqscope

server = zmqscope.serve("ipc://" + os.environ["ELSEWHERE"])
print("ready", file=sys.stderr, flush=True)
deadline = time.monotonic() + 60
while time.monotonic() < deadline and not os.path.exists("stop"):
    time.sleep(0.05)
"""


def test_a_server_outside_the_runtime_folder_is_not_listed_but_can_be_named(
    tmp_path: Path,
) -> None:
    """Its socket is where others may replace it: only the user who names it reaches it."""
    app = write_app(tmp_path, ELSEWHERE_APP)
    with short_folder() as base:
        socket_path = base / "elsewhere.ipc"
        env = runtime_env(base, {"ELSEWHERE": str(socket_path)})
        with running(app, "--no-serve", cwd=tmp_path, env=env) as child:
            child.wait_for("ready")
            pid = child.process.pid
            assert (base / "zmqscope" / f"{pid}.json").is_file()  # it says where it is

            rows, notes = ls(tmp_path, base)
            assert (rows, notes) == ([], [])
            named = zmqscope_cli(
                "report", f"ipc://{socket_path}", "--format", "json", cwd=tmp_path, env=env
            )
            assert named.returncode == 0, describe(named)
            assert json.loads(named.stdout)["process"]["pid"] == pid


# -- an endpoint the user names ----------------------------------------------------------


def _bind_socket_file(path: Path) -> None:
    path.parent.mkdir(mode=0o700)
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(str(path))


def test_an_ipc_socket_of_another_user_is_refused_in_one_line(
    tmp_path: Path, other_user: OtherUser
) -> None:
    with short_folder() as base:
        base.chmod(0o1777)
        theirs = base / "theirs" / "1234.ipc"
        status, output = other_user.run(lambda: _bind_socket_file(theirs))
        assert status == 0, output
        result = zmqscope_cli("report", f"ipc://{theirs}", cwd=tmp_path)
        assert result.returncode == 2, describe(result)
        assert result.stderr.splitlines() == [
            f"zmqscope: error: refusing ipc://{theirs}: it belongs to uid {other_user.uid}, "
            "not to you"
        ]


def test_an_ipc_endpoint_in_a_folder_closed_to_the_user_is_refused_in_one_line(
    tmp_path: Path, other_user: OtherUser
) -> None:
    """Not a PermissionError traceback: the other user runs ``zmqscope report`` here."""
    with short_folder() as base:  # 0700, this user's (root's)
        target = f"ipc://{base}/zmqscope/1234.ipc"
        status, output = other_user.run(lambda: cli.main(["report", target]))
        assert status == 2, output
        assert output.splitlines() == [
            f"zmqscope: error: refusing {target}: {base}/zmqscope is not open to you "
            "(another user's folder?)"
        ]
