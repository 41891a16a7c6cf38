"""The runtime folder: where it is, and that what was checked is what is used."""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from zmqscope.remote.runtime import (
    RuntimeDirError,
    RuntimeDirMissing,
    RuntimeFolder,
    ensure_runtime_dir,
    runtime_dir,
)


@pytest.fixture
def folder(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "zmqscope"
    path.mkdir(mode=0o700)
    yield path


def test_a_folder_swapped_for_a_symlink_after_the_check_does_not_redirect_a_removal(
    folder: Path, tmp_path: Path
) -> None:
    (folder / "123.json").write_text("{}", encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "123.json").write_text("someone's", encoding="utf-8")
    with RuntimeFolder.open(folder) as opened:
        folder.rename(tmp_path / "moved")  # between the check and the removal...
        folder.symlink_to(elsewhere)  # ...the name now leads elsewhere
        assert opened.remove_own("123.json")
    assert not (tmp_path / "moved" / "123.json").exists()  # removed where it was checked
    assert (elsewhere / "123.json").read_text(encoding="utf-8") == "someone's"


@pytest.mark.parametrize(
    "name", ["package.json", "123.json.tmp", "12a.json", "123.txt", ".123.json", "123.ipc"]
)
def test_only_what_a_server_makes_is_removed(folder: Path, name: str) -> None:
    (folder / name).write_text("", encoding="utf-8")  # 123.ipc: a file, not a socket
    with RuntimeFolder.open(folder) as opened:
        assert not opened.remove_own(name)
    assert (folder / name).exists()


def test_a_symlink_named_like_a_discovery_file_is_left_alone(folder: Path, tmp_path: Path) -> None:
    target = tmp_path / "target.json"
    target.write_text("keep", encoding="utf-8")
    (folder / "123.json").symlink_to(target)
    with RuntimeFolder.open(folder) as opened:
        assert not opened.remove_own("123.json")
        with pytest.raises(OSError):
            opened.read("123.json", 100)
    assert (folder / "123.json").is_symlink() and target.read_text(encoding="utf-8") == "keep"


def test_reading_a_fifo_neither_waits_nor_reads(folder: Path) -> None:
    os.mkfifo(folder / "123.json")
    outcome: list[BaseException] = []

    def read() -> None:
        try:
            with RuntimeFolder.open(folder) as opened:
                opened.read("123.json", 100)
        except OSError as error:
            outcome.append(error)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(30)
    assert not reader.is_alive(), "read() waited for a writer"
    assert outcome and "not a regular file" in str(outcome[0])


def test_reading_stops_at_the_limit(folder: Path) -> None:
    (folder / "123.json").write_bytes(b"x" * 101)
    with RuntimeFolder.open(folder) as opened, pytest.raises(OSError, match="larger than 100"):
        opened.read("123.json", 100)


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another uid needs root")
def test_another_users_file_is_not_read_or_removed(folder: Path) -> None:
    (folder / "123.json").write_text("{}", encoding="utf-8")
    os.chown(folder / "123.json", 54321, 54321)  # any uid but ours
    with RuntimeFolder.open(folder) as opened:
        with pytest.raises(OSError, match="belongs to uid 54321"):
            opened.read("123.json", 100)
        assert not opened.remove_own("123.json")
    assert (folder / "123.json").exists()


def test_create_writes_whole_private_files_and_never_replaces_one(folder: Path) -> None:
    with RuntimeFolder.open(folder) as opened:
        assert opened.create("keys.json", b"first")
        assert not opened.create("keys.json", b"second")
        assert opened.read("keys.json", 100) == b"first"
    info = (folder / "keys.json").stat()
    assert stat.S_IMODE(info.st_mode) == 0o600
    assert sorted(p.name for p in folder.iterdir()) == ["keys.json"]  # no temporary left


def test_create_does_not_write_through_a_planted_symlink(folder: Path, tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious", encoding="utf-8")
    (folder / "keys.json").symlink_to(victim)
    with RuntimeFolder.open(folder) as opened:
        assert not opened.create("keys.json", b"overwritten?")
    assert victim.read_text(encoding="utf-8") == "precious"


@pytest.mark.parametrize(
    ("mode", "reason"),
    [(0o755, "other users can use it (mode 0755"), (0o770, "other users can use it (mode 0770")],
)
def test_an_open_folder_is_refused(folder: Path, mode: int, reason: str) -> None:
    folder.chmod(mode)
    with pytest.raises(RuntimeDirError, match=reason.replace("(", r"\(")):
        RuntimeFolder.open(folder)


def test_a_missing_folder_is_told_apart(tmp_path: Path) -> None:
    with pytest.raises(RuntimeDirMissing):
        RuntimeFolder.open(tmp_path / "never-made")


# -- where it is ------------------------------------------------------------------------


def test_xdg_runtime_dir_is_used_when_it_is_an_existing_folder_of_this_user(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    assert runtime_dir() == tmp_path / "zmqscope"


@pytest.mark.parametrize("value", ["", "relative/run", "{tmp}/missing", "{tmp}/a-file"])
def test_an_unusable_xdg_runtime_dir_falls_back_to_the_temp_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    (tmp_path / "a-file").write_text("", encoding="utf-8")
    monkeypatch.setenv("XDG_RUNTIME_DIR", value.format(tmp=tmp_path))
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path / "temp"))
    assert runtime_dir() == tmp_path / "temp" / f"zmqscope-{os.getuid()}"


def test_ensure_makes_the_folder_but_never_its_parents(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path / "gone"))
    with pytest.raises(RuntimeDirError, match="cannot create"):
        ensure_runtime_dir()
    assert not (tmp_path / "gone").exists()
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    made = ensure_runtime_dir()
    assert made == tmp_path / f"zmqscope-{os.getuid()}"
    assert stat.S_IMODE(made.stat().st_mode) == 0o700
