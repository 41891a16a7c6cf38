"""Who may talk to a server: CURVE on tcp by default, insecure only when asked.

A server on loopback tcp is reachable by every local user's processes, so it
admits only clients presenting this user's CURVE key, kept in the user's
runtime folder; ``insecure=True`` turns that off on purpose. The runtime
folder itself is never created where its root does not exist.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import zmq

import zmqscope
from tests.helpers.hanging import running
from tests.helpers.processes import describe, run_python, write_app, zmqscope_cli
from tests.helpers.second_user import OtherUser
from tests.helpers.serving import CLIENT_TIMEOUT, runtime_env, short_folder
from zmqscope.instrument.answers import ProcessServer as Server
from zmqscope.remote.client import ClientError, LiveClient, connect
from zmqscope.remote.server import ServerError

KEYS_FILE = "curve-keys.json"  # in the runtime folder, as the README says

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.skipif(not zmq.has("curve"), reason="this libzmq was built without CURVE"),
]


@pytest.fixture
def tcp_server(runtime: Path, scope: None) -> Iterator[zmqscope.Server]:
    served = zmqscope.serve("tcp://127.0.0.1:0")
    try:
        yield served
    finally:
        served.stop(timeout=10)


def keys_of(runtime: Path) -> dict[str, str]:
    document: dict[str, str] = json.loads((runtime / KEYS_FILE).read_text(encoding="utf-8"))
    return document


def test_tcp_without_curve_answers_nobody_who_lacks_the_users_key(
    runtime: Path, tcp_server: Server
) -> None:
    keys = keys_of(runtime)
    server_public = zmq.curve_public(keys["server"].encode())
    strangers = [
        LiveClient(tcp_server.endpoint, timeout=1.0),  # no CURVE at all
        # The server's key but a client key of its own: not this user's.
        LiveClient(tcp_server.endpoint, timeout=1.0, curve_server_key=server_public),
    ]
    try:
        for stranger in strangers:
            with pytest.raises(ClientError, match=r"no answer from .* within 1 s"):
                stranger.hello()
    finally:
        for stranger in strangers:
            stranger.close()
    assert tcp_server.requests == 0
    # This user's client, with the keys from the runtime folder, is answered.
    own = connect(tcp_server.endpoint, timeout=CLIENT_TIMEOUT)
    try:
        assert own.hello().process.pid == os.getpid()
    finally:
        own.close()


def test_the_keys_are_private_made_once_and_shared_by_the_users_servers(
    runtime: Path, tcp_server: Server
) -> None:
    keys = runtime / KEYS_FILE
    assert stat.S_IMODE(runtime.stat().st_mode) == 0o700
    info = keys.lstat()
    assert stat.S_ISREG(info.st_mode) and stat.S_IMODE(info.st_mode) == 0o600
    assert info.st_uid == os.getuid()
    first = keys_of(runtime)
    second = Server("tcp://127.0.0.1:0").start()  # another server of this user
    try:
        assert keys_of(runtime) == first
        client = connect(second.endpoint, timeout=CLIENT_TIMEOUT)
        try:
            assert client.hello().endpoint == second.endpoint
        finally:
            client.close()
    finally:
        second.stop(timeout=10)
    assert sorted(p.name for p in runtime.iterdir()) == [KEYS_FILE]  # no temporary left


def test_insecure_serves_plain_tcp_and_says_so_in_its_discovery_file(
    runtime: Path, scope: None
) -> None:
    served = zmqscope.serve("tcp://127.0.0.1:0", insecure=True)
    try:
        plain = LiveClient(served.endpoint, timeout=CLIENT_TIMEOUT)
        try:
            assert plain.hello().process.pid == os.getpid()
        finally:
            plain.close()
        document = json.loads((runtime / f"{os.getpid()}.json").read_text(encoding="utf-8"))
        assert document["curve"] is False
        assert not (runtime / KEYS_FILE).exists()  # no keys needed, none made
    finally:
        served.stop(timeout=10)


def test_an_abstract_ipc_name_is_served_with_curve_too(runtime: Path, scope: None) -> None:
    if not zmq.has("ipc") or os.uname().sysname != "Linux":
        pytest.skip("abstract ipc names exist on Linux only")
    served = zmqscope.serve(f"ipc://@zmqscope-test-{os.getpid()}")
    try:
        stranger = LiveClient(served.endpoint, timeout=1.0)
        try:
            with pytest.raises(ClientError, match="no answer"):
                stranger.hello()
        finally:
            stranger.close()
        own = connect(served.endpoint, timeout=CLIENT_TIMEOUT)
        try:
            assert own.hello().process.pid == os.getpid()
        finally:
            own.close()
    finally:
        served.stop(timeout=10)


def test_without_curve_in_libzmq_tcp_is_refused_unless_insecure(
    runtime: Path, scope: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # This libzmq has CURVE; a build without it answers has("curve") False.
    monkeypatch.setattr(zmq, "has", lambda capability: capability != "curve")
    with pytest.raises(ServerError) as caught:
        zmqscope.serve("tcp://127.0.0.1:0")
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("cannot serve on tcp://127.0.0.1:0 with CURVE: this libzmq")
    assert "insecure=True" in message
    served = zmqscope.serve("tcp://127.0.0.1:0", insecure=True)
    served.stop(timeout=10)


def test_keys_are_never_read_or_written_through_a_symlink(runtime: Path, scope: None) -> None:
    runtime.mkdir(mode=0o700)
    victim = runtime.parent / "victim.txt"
    victim.write_text("precious", encoding="utf-8")
    (runtime / KEYS_FILE).symlink_to(victim)
    with pytest.raises(ServerError, match=f"cannot read {runtime / KEYS_FILE}"):
        zmqscope.serve("tcp://127.0.0.1:0")
    assert victim.read_text(encoding="utf-8") == "precious"


TCP_APP = """
import os, sys, time
import zmq, zmqscope

server = zmqscope.serve("tcp://127.0.0.1:0")
ctx = zmq.Context()
push = ctx.socket(zmq.PUSH)  # the app's socket
print("serving", server.endpoint, file=sys.stderr, flush=True)
deadline = time.monotonic() + 60
while time.monotonic() < deadline and not os.path.exists("stop"):
    time.sleep(0.05)
push.close()
"""


def test_the_users_cli_reads_a_tcp_server_without_setup(tmp_path: Path) -> None:
    app = write_app(tmp_path, TCP_APP)
    with (
        short_folder() as base,
        running(app, "--no-serve", cwd=tmp_path, env=runtime_env(base)) as child,
    ):
        stderr = child.wait_for("serving tcp://")
        endpoint = stderr.split("serving ", 1)[1].split()[0]
        report = zmqscope_cli(
            "report", endpoint, "--format", "json", cwd=tmp_path, env=runtime_env(base)
        )
        assert report.returncode == 0, describe(report)
        document = json.loads(report.stdout)
        assert document["process"]["pid"] == child.process.pid
        assert [s["type"] for s in document["sockets"]] == ["PUSH"]
        stranger = LiveClient(endpoint, timeout=1.0)  # no keys: not let in
        try:
            with pytest.raises(ClientError, match="no answer"):
                stranger.hello()
        finally:
            stranger.close()

        listed = zmqscope_cli("ls", "--json", cwd=tmp_path, env=runtime_env(base))
        assert listed.returncode == 0, describe(listed)
        rows = json.loads(listed.stdout)
        assert [(r["pid"], r["endpoint"], r["state"]) for r in rows] == [
            (child.process.pid, endpoint, "running")
        ]
        (tmp_path / "stop").touch()
        assert child.wait_exit() == 0, child.stderr


def test_another_user_cannot_read_the_keys(
    runtime: Path, tcp_server: Server, other_user: OtherUser
) -> None:
    keys = runtime / KEYS_FILE
    assert keys.is_file()  # the server made them

    def steal() -> int:
        try:
            keys.read_bytes()
        except PermissionError:
            return 0
        return 3

    status, output = other_user.run(steal)
    assert status == 0, output


# -- where the runtime folder is ---------------------------------------------------------


SERVING = """
import os, zmqscope
server = zmqscope.serve()
print(os.getpid(), server.endpoint)
"""


def test_a_missing_xdg_runtime_dir_is_not_created_the_temp_folder_is_used(tmp_path: Path) -> None:
    app = write_app(tmp_path, SERVING)
    with short_folder() as base:
        temp = base / "tmp"
        temp.mkdir()
        env = {"XDG_RUNTIME_DIR": str(base / "nonexistent"), "TMPDIR": str(temp)}
        result = run_python(str(app), cwd=tmp_path, env={"ZMQSCOPE": "1", **env})
        assert result.returncode == 0, describe(result)
        assert not (base / "nonexistent").exists()
        folder = temp / f"zmqscope-{os.getuid()}"
        pid, endpoint = result.stdout.split()
        assert endpoint == f"ipc://{folder}/{pid}.ipc"
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700


@pytest.mark.parametrize("root", ["relative", "a file"])
def test_an_unusable_xdg_runtime_dir_falls_back_to_the_temp_folder(
    tmp_path: Path, root: str
) -> None:
    app = write_app(tmp_path, SERVING)
    with short_folder() as base:
        temp = base / "tmp"
        temp.mkdir()
        if root == "a file":
            (base / "file").write_text("", encoding="utf-8")
            xdg = str(base / "file")
        else:
            (tmp_path / "run").mkdir()
            xdg = "run"
        env = {"ZMQSCOPE": "1", "XDG_RUNTIME_DIR": xdg, "TMPDIR": str(temp)}
        result = run_python(str(app), cwd=tmp_path, env=env)
        assert result.returncode == 0, describe(result)
        assert result.stdout.split()[1].startswith(f"ipc://{temp}/zmqscope-{os.getuid()}/")
        assert not (tmp_path / "run" / "zmqscope").exists()


def test_another_users_xdg_runtime_dir_is_not_used(tmp_path: Path, other_user: OtherUser) -> None:
    """``sudo`` keeps the caller's XDG_RUNTIME_DIR: root must not make its folder there."""
    app = write_app(tmp_path, SERVING)
    with short_folder() as base:
        theirs = base / "run-user"
        theirs.mkdir(mode=0o700)
        os.chown(theirs, other_user.uid, other_user.gid)
        temp = Path(tempfile.mkdtemp(dir=base))
        env = {"ZMQSCOPE": "1", "XDG_RUNTIME_DIR": str(theirs), "TMPDIR": str(temp)}
        result = run_python(str(app), cwd=tmp_path, env=env)
        assert result.returncode == 0, describe(result)
        assert result.stdout.split()[1].startswith(f"ipc://{temp}/zmqscope-{os.getuid()}/")
        assert list(theirs.iterdir()) == []
