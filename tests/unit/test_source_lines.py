"""Source lines are read only from regular files, never blocking, never more than a few MB.

A frame's path can name anything: ``compile(code, "/dev/zero", "exec")`` makes
one, and a server or a saved report may send any path. linecache read
/dev/zero until memory ran out and blocked for good on a FIFO; the shutdown
watchdog used it for the "now" line of a hung ``term()``'s culprit.
"""

from __future__ import annotations

import linecache
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from zmqscope._source import MAX_SOURCE_BYTES, source_line
from zmqscope.instrument import culprits as shutdown
from zmqscope.model import Frame, ThreadRef

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def fifo(tmp_path: Path) -> Iterator[tuple[Path, threading.Event]]:
    """A FIFO whose writer waits in open() for a reader (set once one came); let go at the end."""
    path = tmp_path / "pipe.py"
    os.mkfifo(path)
    opened = threading.Event()

    def writer() -> None:
        descriptor = os.open(path, os.O_WRONLY)
        opened.set()
        os.close(descriptor)

    thread = threading.Thread(target=writer, name="fifo-writer", daemon=True)
    thread.start()
    try:
        yield path, opened
    finally:
        reader = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        thread.join(timeout=10)
        os.close(reader)
        assert not thread.is_alive()


def test_a_regular_file_s_line_is_read(tmp_path: Path) -> None:
    path = tmp_path / "app.py"
    path.write_text("import zmq\r\nsock = ctx.socket(zmq.PUSH)  # here\nend\n", encoding="utf-8")
    assert source_line(str(path), 2) == "sock = ctx.socket(zmq.PUSH)  # here"
    assert source_line(str(path), 9) == source_line(str(path), 0) == ""


def test_a_changed_file_is_read_again(tmp_path: Path) -> None:
    path = tmp_path / "app.py"
    path.write_text("first = 1\n", encoding="utf-8")
    assert source_line(str(path), 1) == "first = 1"
    path.write_text("second = 22\n", encoding="utf-8")
    assert source_line(str(path), 1) == "second = 22"


def test_the_coding_cookie_is_honoured(tmp_path: Path) -> None:
    path = tmp_path / "latin.py"
    path.write_bytes(b"# -*- coding: latin-1 -*-\nname = '\xe9t\xe9'\n")
    assert source_line(str(path), 2) == "name = 'été'"


def test_lines_python_holds_are_taken_from_linecache_without_a_file() -> None:
    """A notebook cell's code lives only in linecache."""
    name = "<ipython-input-7-test>"
    linecache.cache[name] = (10, None, ["x = 1\n", "sock = ctx.socket(1)\n"], name)
    try:
        assert source_line(name, 2) == "sock = ctx.socket(1)"
    finally:
        del linecache.cache[name]


@pytest.mark.parametrize("path", ["/dev/zero", "/dev/null", "/", "/no/such/file.py", "a\0b"])
def test_what_is_not_a_regular_file_reads_as_no_line(path: str) -> None:
    assert source_line(path, 1) == ""


def test_a_symlink_to_dev_zero_reads_as_no_line(tmp_path: Path) -> None:
    link = tmp_path / "app.py"
    link.symlink_to("/dev/zero")
    assert source_line(str(link), 1) == ""


def test_a_file_past_the_size_bound_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "huge.py"
    with path.open("wb") as handle:
        handle.write(b"first = 1\n")
        handle.truncate(MAX_SOURCE_BYTES + 1)
    assert source_line(str(path), 1) == ""


def test_a_fifo_is_never_opened(fifo: tuple[Path, threading.Event]) -> None:
    path, opened = fifo
    assert source_line(str(path), 1) == ""
    writer = next(t for t in threading.enumerate() if t.name == "fifo-writer")
    writer.join(timeout=1)  # had a reader come, the writer would be let go by now
    assert not opened.is_set()


def test_the_watchdog_s_now_line_does_not_open_a_fifo(fifo: tuple[Path, threading.Event]) -> None:
    """The culprit's "now" line quotes the owner's source line: not from a FIFO."""
    path, opened = fifo
    stuck = (Frame(str(path), 1, "wait"),)
    where = shutdown._where(ThreadRef(1, "worker"), True, stuck)
    assert where == f"worker is at {path.name}:1 in wait()"
    writer = next(t for t in threading.enumerate() if t.name == "fifo-writer")
    writer.join(timeout=1)
    assert not opened.is_set()
