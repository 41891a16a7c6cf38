"""Where and when something happened: frames, threads, call sites."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from zmqscope.model._base import (
    MAX_NESTING,
    SchemaError,
    _optional,
    _require,
    _time,
    check_value,
)

# Where a frame's code comes from (Frame.origin).
ORIGIN_USER = "user"  # the application's own code
ORIGIN_LIBRARY = "library"  # an installed distribution (site-packages, dist-packages)
ORIGIN_STDLIB = "stdlib"  # the standard library
ORIGINS = (ORIGIN_USER, ORIGIN_LIBRARY, ORIGIN_STDLIB)


@dataclass(frozen=True, slots=True)
class Frame:
    """One Python frame: where a call was made.

    ``origin`` says whose code it is (:data:`ORIGINS`; None in reports made
    before zmqscope said so). ``display`` is the path as shown, where it
    differs from ``file``: relative to the project root for the
    application's files, to the site directory for a library's
    (``jupyter_client/connect.py``), to the standard library for its own
    (``unittest/case.py``). A notebook cell has its execution count in
    ``cell`` (shown ``Cell In[3], line 4``, as IPython does) and its source
    line in ``source``, since no file holds it.
    """

    file: str
    line: int
    function: str
    origin: str | None = None
    display: str | None = None
    cell: int | None = None
    source: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"file": self.file, "line": self.line, "function": self.function}
        if self.origin is not None:
            data["origin"] = self.origin
        if self.display is not None:
            data["display"] = self.display
        if self.cell is not None:
            data["cell"] = self.cell
        if self.source is not None:
            data["source"] = self.source
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Frame:
        origin = _optional(data, "origin", str)
        return cls(
            _require(data, "file", str),
            _require(data, "line", int),
            _require(data, "function", str),
            origin if origin in ORIGINS else None,
            _optional(data, "display", str),
            _optional(data, "cell", int),
            _optional(data, "source", str),
        )

    def short(self) -> str:
        """``file:line`` with only the file's base name."""
        name = self.file.rsplit("/", 1)[-1]
        return f"{name}:{self.line}"


def frames_to_list(frames: Sequence[Frame]) -> list[dict[str, Any]]:
    return [f.to_dict() for f in frames]


def frames_from_list(data: Any) -> tuple[Frame, ...]:
    if not isinstance(data, list):
        raise SchemaError("a stack is not a list")
    return tuple(Frame.from_dict(f) for f in check_value(data, "a stack"))


@dataclass(frozen=True, slots=True)
class ThreadRef:
    """A thread as it was known when something happened.

    ``started`` says where and when the thread was started (the line that
    called ``Thread.start()``; its ``thread`` is the thread that started
    it), when zmqscope saw it start: not for the main thread, nor for
    threads started before zmqscope was installed.
    """

    id: int
    name: str
    started: CallSite | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "name": self.name}
        if self.started is not None:
            data["started"] = self.started.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], nesting: int = 0) -> ThreadRef:
        # ``nesting``: how many threads' starts enclose this one (see MAX_NESTING).
        if nesting > MAX_NESTING:
            raise SchemaError(f"threads' starts nest deeper than {MAX_NESTING}")
        started = _optional(data, "started", dict)
        return cls(
            _require(data, "id", int),
            _require(data, "name", str),
            CallSite.from_dict(started, nesting + 1) if started else None,
        )


@dataclass(frozen=True, slots=True)
class CallSite:
    """When, in which thread and from where a lifecycle call was made.

    ``thread`` is None and ``stack`` empty for sockets adopted by ``watch()``:
    they were made before zmqscope looked.

    ``stack[0]`` is the innermost frame outside pyzmq and zmqscope (a
    library's, if a library made the call); ``user_frame`` is the index of
    the first frame of the application's own code, None when the recorded
    frames hold none (or, in reports made before zmqscope said so, not
    known: then every frame's ``origin`` is None). ``truncated``: the walk
    stopped at the stack depth, so frames further out were not recorded.
    """

    time: float
    thread: ThreadRef | None
    stack: tuple[Frame, ...]
    user_frame: int | None = None
    truncated: bool = False

    @property
    def site(self) -> Frame | None:
        """The innermost recorded frame (where pyzmq was called), if known."""
        return self.stack[0] if self.stack else None

    @property
    def user_site(self) -> Frame | None:
        """The first frame of the application's own code, if one was recorded."""
        index = self.user_frame
        return self.stack[index] if index is not None else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "time": self.time,
            "thread": self.thread.to_dict() if self.thread else None,
            "stack": frames_to_list(self.stack),
            "user_frame": self.user_frame,
            "truncated": self.truncated,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], nesting: int = 0) -> CallSite:
        thread = _optional(data, "thread", dict)
        stack = frames_from_list(data.get("stack", []))
        user_frame = _optional(data, "user_frame", int)
        if user_frame is not None and not 0 <= user_frame < len(stack):
            raise SchemaError("field 'user_frame' is not an index of the stack")
        return cls(
            _time(data, "time"),
            ThreadRef.from_dict(thread, nesting) if thread else None,
            stack,
            user_frame,
            bool(data.get("truncated", False)),
        )


def first_user_frame(stack: Sequence[Frame]) -> int | None:
    """The index of the first frame of the application's own code in ``stack``."""
    for index, frame in enumerate(stack):
        if frame.origin == ORIGIN_USER:
            return index
    return None
