"""Call sites as the hooks capture them: raw frames, resolved when first read.

A :class:`Site` is where a socket was made, closed or used, and by which
thread; :func:`thread_start` where that thread was started; frames are
frozen into the model's :class:`~zmqscope.model.Frame` once each.
"""

from __future__ import annotations

from types import CodeType
from typing import Any

from zmqscope.instrument.frames import FrameFilter, RawFrame, RawStack
from zmqscope.instrument.origins import classified_frame
from zmqscope.model import CallSite, Frame, ThreadRef, first_user_frame

RawThread = tuple[int, str]


class Site:
    """A call site as captured: raw frames, resolved the first time they are read.

    ``started`` is where the calling thread was started (a Site of its own,
    see :func:`thread_start`), for a socket's creation.
    """

    __slots__ = ("_frames", "_resolver", "started", "thread", "time", "truncated")

    def __init__(
        self,
        when: float,
        thread: RawThread | None,
        frames: RawStack | tuple[RawFrame, ...] = (),
        resolver: FrameFilter | None = None,
        started: Site | None = None,
    ) -> None:
        self.time = when
        self.thread = thread
        # A RawStack (code objects and offsets) until first read, then the
        # resolved frames. One slot, swapped in one step: readers on other
        # threads see either.
        self._frames = frames
        self._resolver = resolver
        self.started = started
        self.truncated = False  # known once resolved

    @property
    def stack(self) -> tuple[RawFrame, ...]:
        """The application's frames, innermost first."""
        frames = self._frames
        if _is_raw(frames):
            resolver = self._resolver
            if resolver is not None:
                self.truncated = resolver.walked_to_depth(frames)
                frames = self._frames = resolver.resolve(frames)
            else:
                frames = self._frames = ()
        return frames

    def trim(self) -> None:
        """Keep only the innermost frame (what the event log shows) of a stack not yet read."""
        frames = self._frames
        if len(frames) > 2 and _is_raw(frames):
            self._frames = frames[:2]

    @property
    def first(self) -> RawFrame | None:
        stack = self.stack
        return stack[0] if stack else None

    def freeze(self) -> CallSite:
        stack = tuple(frozen_frame(f) for f in self.stack)
        thread = None
        if self.thread:
            started = self.started.freeze() if self.started is not None else None
            thread = ThreadRef(self.thread[0], self.thread[1], started)
        return CallSite(self.time, thread, stack, first_user_frame(stack), self.truncated)


# Where a thread was started: a Site kept in the Thread object's own
# __dict__ by the Thread.start wrapper (_wrappers.py), so that it lives and
# dies with the thread object and needs no table keyed by thread idents,
# which Python reuses.
THREAD_START = "_zmqscope_started"


def thread_start(thread: Any) -> Site | None:
    """Where ``thread`` (a ``threading.Thread``) was started, if zmqscope saw it."""
    try:
        start = thread.__dict__.get(THREAD_START)
    except AttributeError:  # not a Thread object (a recorded (ident, name) pair)
        return None
    return start if isinstance(start, Site) else None


def _is_raw(frames: RawStack | tuple[RawFrame, ...]) -> bool:
    """True for a stack as walked (a code object first), not yet resolved."""
    return bool(frames) and type(frames[0]) is CodeType


# Where a thread last used a socket: a frame, or a captured site read lazily.
SiteRef = RawFrame | Site | None


def site_frame(site: SiteRef) -> RawFrame | None:
    """The frame a site stands for: a frame as is, a captured site's innermost."""
    return site.first if isinstance(site, Site) else site


# Frozen frames are shared like the raw ones: most sockets come from a few lines.
_FROZEN_FRAMES: dict[RawFrame, Frame] = {}
_MAX_FROZEN_FRAMES = 100_000


def frozen_frame(raw: RawFrame) -> Frame:
    """The model's frame for a resolved one, with whose code it is (see _origins)."""
    frame = _FROZEN_FRAMES.get(raw)
    if frame is None:
        if len(_FROZEN_FRAMES) > _MAX_FROZEN_FRAMES:
            _FROZEN_FRAMES.clear()
        frame = _FROZEN_FRAMES[raw] = classified_frame(*raw)
    return frame
