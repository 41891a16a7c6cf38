"""Read the report files zmqscope writes, and check the stacks recorded in them."""

from __future__ import annotations

import asyncio
import json
import os
import runpy
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import zmq

import zmqscope

SCHEMA = "zmqscope.report/1"
Report = dict[str, Any]


def read_report(path: Path) -> Report:
    """A report file written by zmqscope, checked to be ``zmqscope.report/1``."""
    assert path.is_file(), f"no report written at {path}"
    report: Report = json.loads(path.read_text(encoding="utf-8"))
    assert report["schema"] == SCHEMA
    return report


def socket_of(report: Report, socket_id: str) -> dict[str, Any]:
    """The socket record with id ``socket_id``."""
    matches: list[dict[str, Any]] = [s for s in report["sockets"] if s["id"] == socket_id]
    assert len(matches) == 1, f"socket {socket_id!r} in {report['sockets']}"
    return matches[0]


def leaked_sockets(report: Report) -> list[dict[str, Any]]:
    """The socket records of the report's leaks, in leak order."""
    return [socket_of(report, leak["socket"]) for leak in report["leaks"]]


def leak_of(report: Report, socket_id: str) -> dict[str, Any]:
    """The leak entry for ``socket_id``."""
    matches: list[dict[str, Any]] = [
        leak for leak in report["leaks"] if leak["socket"] == socket_id
    ]
    assert len(matches) == 1, f"leak of {socket_id!r} in {report['leaks']}"
    return matches[0]


def _plumbing() -> tuple[str, ...]:
    """Files and folders whose frames must never be a socket's recorded site."""
    folders = [
        os.path.dirname(os.path.abspath(module.__file__ or ""))
        for module in (zmq, zmqscope, asyncio)
    ]
    files = [os.path.abspath(module.__file__ or "") for module in (threading, runpy)]
    return (*(folder + os.sep for folder in folders), *files)


PLUMBING = _plumbing()


def own_frame(app: Path, line: int, function: str) -> dict[str, Any]:
    """A recorded frame of the application's file ``app``, run from its folder."""
    return {
        "file": str(app),
        "line": line,
        "function": function,
        "origin": "user",
        "display": app.name,
    }


def assert_application_stack(stack: Iterable[Mapping[str, Any]], app: Path) -> None:
    """Every frame is application code, absolute, and the first is in ``app``."""
    frames = list(stack)
    assert frames, "no creation stack recorded"
    assert frames[0]["file"] == str(app), frames
    for frame in frames:
        assert os.path.isabs(frame["file"]), frame
        assert not frame["file"].startswith(PLUMBING), f"plumbing frame {frame} in {frames}"
