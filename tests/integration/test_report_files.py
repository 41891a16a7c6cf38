"""Report files are written whole, never through a symlink, and only by their process.

``zmqscope run --json/--markdown``, the JSON a blocked ``term()`` writes at
once, ``ZMQSCOPE_JSON``/``ZMQSCOPE_MARKDOWN`` and a server's discovery file
(issue #14, items 7, 15 and 16).
"""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path
from typing import TYPE_CHECKING

import psutil
import pytest

import zmqscope
from tests.helpers.processes import describe, run_python, run_zmqscope, write_app, zmqscope_cli
from tests.helpers.report_files import read_report
from tests.helpers.serving import short_folder

if TYPE_CHECKING:
    from tests.helpers.second_user import OtherUser

VICTIM_TEXT = "export PATH=/usr/bin  # the victim's .bashrc\n"

LEAKS_TWENTY = """
import sys
import zmq

ctx = zmq.Context()
kept = [ctx.socket(zmq.PUSH) for _ in range(20)]  # leaked
sys.exit(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
"""


def sticky_folder(tmp_path: Path) -> Path:
    """A folder like /tmp: everyone may create files in it, only owners remove theirs."""
    folder = tmp_path / "shared"
    folder.mkdir()
    folder.chmod(0o1777)
    return folder


def victim(tmp_path: Path) -> Path:
    path = tmp_path / "home" / ".bashrc"
    path.parent.mkdir()
    path.write_text(VICTIM_TEXT, encoding="utf-8")
    return path


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("zmqscope: error:")]


# -- symlinks and other users' files ------------------------------------------------


def test_run_refuses_a_symlink_planted_at_the_report_path_before_the_app_runs(
    tmp_path: Path,
) -> None:
    shared, target = sticky_folder(tmp_path), victim(tmp_path)
    (shared / "leaks.json").symlink_to(target)
    result = run_zmqscope(tmp_path, "print('the app ran')\n", "--json", str(shared / "leaks.json"))
    assert result.returncode == 2, describe(result)
    assert result.stderr.splitlines() == [
        f"zmqscope: error: --json: cannot write {shared / 'leaks.json'}: it is a symlink"
        " (zmqscope never writes through one)"
    ]
    assert "the app ran" not in result.stdout
    assert target.read_text(encoding="utf-8") == VICTIM_TEXT


def test_run_refuses_another_users_file_at_the_report_path(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root: only root can give a file to another user")
    shared = sticky_folder(tmp_path)
    theirs = shared / "leaks.md"
    theirs.write_text("theirs\n", encoding="utf-8")
    os.chown(theirs, 65534, 65534)
    result = run_zmqscope(tmp_path, "print('the app ran')\n", "--markdown", str(theirs))
    assert result.returncode == 2, describe(result)
    assert error_lines(result.stderr) == [
        f"zmqscope: error: --markdown: cannot write {theirs}: it belongs to uid 65534, not to you"
    ]
    assert theirs.read_text(encoding="utf-8") == "theirs\n"


PLANTS_A_SYMLINK_AT_ITS_OWN_REPORT = """
import os
import sys
import zmq

# What another user does in a shared folder, for the pid they expect.
os.symlink(sys.argv[2], sys.argv[1].replace("{pid}", str(os.getpid())))
ctx = zmq.Context()
sock = ctx.socket(zmq.PUSH)  # leaked
"""


def test_zmqscope_json_with_pid_never_writes_through_a_planted_symlink(tmp_path: Path) -> None:
    """The README's ZMQSCOPE_JSON=/tmp/leaks-{pid}.json, with an attacker's symlink there."""
    shared, target = sticky_folder(tmp_path), victim(tmp_path)
    app = write_app(tmp_path, PLANTS_A_SYMLINK_AT_ITS_OWN_REPORT)
    pattern = str(shared / "leaks-{pid}.json")
    env = {"ZMQSCOPE": "1", "ZMQSCOPE_SERVE": "0", "ZMQSCOPE_JSON": pattern}
    result = run_python(str(app), pattern, str(target), cwd=tmp_path, env=env)
    assert result.returncode == 0, describe(result)
    assert target.read_text(encoding="utf-8") == VICTIM_TEXT
    (link,) = shared.iterdir()
    assert link.is_symlink(), "the planted link is left alone"
    assert result.stderr.splitlines()[-1] == (
        f"zmqscope: ZMQSCOPE_JSON: cannot write {link}: it is a symlink"
        " (zmqscope never writes through one)"
    ), describe(result)


HANGS_IN_TERM = """
import sys
import threading
import zmq

ctx = zmq.Context()
sock = ctx.socket(zmq.PUSH)
blocked = threading.Event()


def close_once_reported():
    # The JSON written for the blocked term() is there: let term() return.
    import os, time
    while not os.path.exists(sys.argv[1]):
        time.sleep(0.02)
    sock.close()


threading.Thread(target=close_once_reported).start()
ctx.term()
"""


def test_the_blocked_term_report_ignores_symlinks_at_old_temporary_names(tmp_path: Path) -> None:
    """``report.json.partial`` was the fixed temporary name: a symlink there overwrote .profile."""
    shared, target = sticky_folder(tmp_path), victim(tmp_path)
    report = shared / "report.json"
    for name in ("report.json.partial", "report.json.tmp", ".report.json.tmp"):
        (shared / name).symlink_to(target)
    result = run_zmqscope(
        tmp_path, HANGS_IN_TERM, "--grace", "0.2", "--json", str(report), app_args=[str(report)]
    )
    assert result.returncode == 0, describe(result)
    assert target.read_text(encoding="utf-8") == VICTIM_TEXT
    assert read_report(report)["summary"]["sockets_total"] == 1
    assert stat.S_IMODE(report.stat().st_mode) == 0o600  # a report holds the command line
    left = sorted(p.name for p in shared.iterdir())
    assert left == [".report.json.tmp", "report.json", "report.json.partial", "report.json.tmp"]


def test_a_server_never_writes_its_discovery_file_through_a_planted_symlink(
    runtime: Path, scope: None, tmp_path: Path
) -> None:
    target = victim(tmp_path)
    runtime.mkdir(mode=0o700)
    pid = os.getpid()
    (runtime / f"{pid}.json.tmp").symlink_to(target)  # the name it used to write through
    server = zmqscope.serve()
    try:
        document = json.loads((runtime / f"{pid}.json").read_text(encoding="utf-8"))
        assert document["endpoint"] == server.endpoint
    finally:
        server.stop(timeout=10)
    assert target.read_text(encoding="utf-8") == VICTIM_TEXT


# -- whole or not at all -------------------------------------------------------------

FILE_SIZE_LIMITED = """
import resource
import sys
import zmq

ctx = zmq.Context()
kept = [ctx.socket(zmq.PUSH) for _ in range(20)]  # leaked: a report of ~20 KB
# ulimit -f 4 (blocks of 1 KiB): the report cannot be written whole.
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
"""


def test_a_report_that_cannot_be_written_whole_leaves_the_old_one_intact(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    previous = json.dumps({"schema": "zmqscope.report/1", "previous": True})
    report.write_text(previous, encoding="utf-8")
    result = run_zmqscope(tmp_path, FILE_SIZE_LIMITED, "--no-serve", "--json", str(report))
    assert result.returncode == 0, describe(result)
    assert report.read_text(encoding="utf-8") == previous
    assert error_lines(result.stderr) == [
        f"zmqscope: error: cannot write {report}: the file size limit was reached (ulimit -f);"
        " the previous file is unchanged"
    ], describe(result)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["app.py", "report.json"]


REPLACES_ITS_JSON_PATH_WITH_A_FOLDER = """
import os
import sys
import zmq

os.mkdir(sys.argv[1])  # the --json path, checked before the app ran, is a folder now
ctx = zmq.Context()
sock = ctx.socket(zmq.PUSH)  # leaked
sys.exit(7)
"""


@pytest.mark.parametrize(("fail_on_leak", "status"), [(False, 7), (True, 3)])
def test_a_failed_report_file_keeps_the_status_and_the_other_file(
    tmp_path: Path, fail_on_leak: bool, status: int
) -> None:
    report, markdown = tmp_path / "report.json", tmp_path / "report.md"
    options = ["--json", str(report), "--markdown", str(markdown)]
    options += ["--fail-on-leak"] if fail_on_leak else []
    result = run_zmqscope(
        tmp_path, REPLACES_ITS_JSON_PATH_WITH_A_FOLDER, *options, app_args=[str(report)]
    )
    assert result.returncode == status, describe(result)
    assert error_lines(result.stderr) == [
        f"zmqscope: error: cannot write {report}: it is a folder"
    ], describe(result)
    assert "PUSH" in markdown.read_text(encoding="utf-8")
    assert report.is_dir()


def test_bad_report_paths_are_refused_before_the_app_runs(tmp_path: Path) -> None:
    write_app(tmp_path, "print('the app ran')\n")
    (tmp_path / "a_folder").mkdir()
    for option, path, reason in (
        ("--json", "", "cannot write '': an empty path"),
        ("--json", "a_folder", f"cannot write {Path('a_folder')}: it is a folder"),
        ("--markdown", "a_folder/", "cannot write a_folder: it names a folder, not a file"),
        ("--json", "nowhere/r.json", "cannot write nowhere/r.json: folder nowhere does not exist"),
        ("--markdown", "app.py/r.md", "cannot write app.py/r.md: app.py is not a folder"),
    ):
        result = zmqscope_cli("run", option, path, "app.py", cwd=tmp_path)
        assert result.returncode == 2, describe(result)
        assert result.stderr.splitlines() == [f"zmqscope: error: {option}: {reason}"]
        assert "the app ran" not in result.stdout


def test_a_folder_the_user_cannot_write_is_refused_before_the_app_runs(
    other_user: OtherUser,
) -> None:
    from zmqscope.cli import main

    with short_folder() as base:
        base.chmod(0o755)  # theirs to read, not to write
        app = write_app(base, "open(__file__ + '.ran', 'w').close()\n")
        report = base / "r.json"
        status, output = other_user.run(lambda: main(["run", "--json", str(report), str(app)]))
        assert status == 2, output
        assert output.splitlines() == [
            f"zmqscope: error: --json: cannot write {report}: folder {base} is not writable"
        ]
        assert not Path(f"{app}.ran").exists()


# -- a forked child writes nothing of its parent's -----------------------------------

DAEMONIZES = """
import os
import sys
import time
import zmq

ctx = zmq.Context()
sock = ctx.socket(zmq.PUSH)  # the parent's leak
child = os.fork()
if child:
    print(child, flush=True)
    sys.exit(0)  # the parent exits first, as a daemonizing app's does
# The child carries on, then ends normally once its parent's report is written.
parent = os.getppid()
while os.getppid() == parent:
    time.sleep(0.02)
sock.close()
ctx.term()
"""


def wait_until_gone(pid: int) -> None:
    deadline = time.monotonic() + 30
    while psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < deadline, f"process {pid} still runs after 30 s"
        time.sleep(0.05)


def test_a_forked_child_does_not_replace_its_parents_run_report(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    # Without following children (with it, the child's report is the run's).
    result = run_zmqscope(
        tmp_path, DAEMONIZES, "--no-serve", "--no-children", "--json", str(report)
    )
    assert result.returncode == 0, describe(result)
    child = int(result.stdout)
    wait_until_gone(child)
    written = read_report(report)
    assert written["process"]["pid"] != child
    assert [leak["socket"] for leak in written["leaks"]] == ["s1"]
    assert (
        f"zmqscope: process {child} is a fork of {written['process']['pid']}: its report is not"
        f" written to {report} (they are {written['process']['pid']}'s)"
    ) in result.stderr.splitlines(), describe(result)


def test_a_forked_child_writes_zmqscope_json_only_to_pid_paths(tmp_path: Path) -> None:
    app = write_app(tmp_path, DAEMONIZES)
    shared, per_pid = tmp_path / "leaks.json", str(tmp_path / "leaks-{pid}.md")
    env = {"ZMQSCOPE": "1", "ZMQSCOPE_SERVE": "0"}
    env |= {"ZMQSCOPE_JSON": str(shared), "ZMQSCOPE_MARKDOWN": per_pid}
    result = run_python(str(app), cwd=tmp_path, env=env)
    assert result.returncode == 0, describe(result)
    child = int(result.stdout)
    wait_until_gone(child)
    written = read_report(shared)
    assert [leak["socket"] for leak in written["leaks"]] == ["s1"]
    parent = written["process"]["pid"]
    assert parent != child
    assert (
        f"zmqscope: process {child} is a fork of {parent}: its report is not written to"
        f" ZMQSCOPE_JSON={shared} (without {{pid}} it is {parent}'s)"
    ) in result.stderr.splitlines(), describe(result)
    # Each process's own Markdown, at its own {pid} path.
    assert Path(per_pid.replace("{pid}", str(child))).is_file()
    assert Path(per_pid.replace("{pid}", str(parent))).is_file()


DAEMONIZES_AND_HANGS = """
import os
import sys
import threading
import time
import zmq

ctx = zmq.Context()
sock = ctx.socket(zmq.PUSH)  # the parent's leak
child = os.fork()
if child:
    print(child, flush=True)
    sys.exit(0)
parent = os.getppid()
while os.getppid() == parent:
    time.sleep(0.02)
# The child's own term() blocks past the grace period: the watchdog reports it.
child_ctx = zmq.Context()
held = child_ctx.socket(zmq.PUSH)
threading.Timer(1.0, held.close).start()
child_ctx.term()
sock.close()
ctx.term()
"""


def test_a_forked_childs_blocked_term_does_not_replace_its_parents_report(
    tmp_path: Path,
) -> None:
    report = tmp_path / "report.json"
    result = run_zmqscope(
        tmp_path, DAEMONIZES_AND_HANGS, "--no-serve", "--grace", "0.1", "--json", str(report)
    )
    assert result.returncode == 0, describe(result)
    child = int(result.stdout)
    wait_until_gone(child)
    assert "1 socket keeps it waiting" in result.stderr, describe(result)  # the child's
    written = read_report(report)
    assert written["process"]["pid"] != child
    assert [leak["socket"] for leak in written["leaks"]] == ["s1"]
    assert written["culprits"] == []
