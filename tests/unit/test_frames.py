"""Call-site capture: raw frames at capture time, file/line/function on first read."""

from __future__ import annotations

import os
import sys
import threading
import time
from types import FrameType
from typing import Any

import _pytest
import pytest

from tests.helpers.call_site import here
from zmqscope.instrument import frames as _frames
from zmqscope.instrument.frames import FrameFilter, RawFrame, RawStack, line_at
from zmqscope.instrument.registry.entries import Site

THIS_FILE = os.path.abspath(__file__)
THREADING_FILE = os.path.abspath(threading.__file__)


def capture_here(frames: FrameFilter, depth: int) -> Site:
    return Site(time.time(), None, frames.capture(depth, 2), frames)


def outer(frames: FrameFilter, depth: int) -> tuple[Site, list[int]]:
    lines = [here() + 1]
    site = inner(frames, depth, lines)
    return site, lines


def inner(frames: FrameFilter, depth: int, lines: list[int]) -> Site:
    lines.insert(0, here() + 1)
    return capture_here(frames, depth)


def test_a_stack_resolves_to_the_callers_lines_innermost_first() -> None:
    site, lines = outer(FrameFilter(prefixes=()), 2)
    assert site.stack == (
        (THIS_FILE, lines[0], "inner"),
        (THIS_FILE, lines[1], "outer"),
    )


def test_capture_stores_code_and_offsets_and_resolves_once() -> None:
    frames = FrameFilter(prefixes=())
    site, _ = outer(frames, 3)
    raw = site._frames
    assert isinstance(raw, tuple) and len(raw) == 6  # code, offset for each of 3 frames
    first = site.stack
    assert site.stack is first  # resolved once, then kept
    again, _ = outer(frames, 3)
    # Frames of the same call site (inner's and outer's) are the very same
    # tuples; the third, this test's own, is another line.
    assert again.stack[0] is first[0] and again.stack[1] is first[1]
    assert again.stack[2] != first[2]


def test_plumbing_before_the_call_site_is_skipped_and_among_the_frames_left_out() -> None:
    frames = FrameFilter(prefixes=(THREADING_FILE,))
    sites: list[Site] = []

    def work() -> None:
        sites.append(capture_here(frames, 12))

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    (site,) = sites
    files = [frame[0] for frame in site.stack]
    assert files == [THIS_FILE]  # work(); Thread.run and its bootstrap are plumbing
    assert site.stack[0][2] == "work"


def test_depth_counts_frames_from_the_call_site() -> None:
    site, lines = outer(FrameFilter(prefixes=()), 1)
    assert site.stack == ((THIS_FILE, lines[0], "inner"),)


def test_a_walk_ends_at_the_first_frame_of_a_stop_file() -> None:
    # Above this test function are pytest's frames: a test runner's.
    runner = os.path.dirname(os.path.abspath(pytest.__file__)) + os.sep
    runner_files = (runner, os.path.dirname(os.path.abspath(_pytest.__file__)) + os.sep)
    frames = FrameFilter(prefixes=())
    site, _ = outer(frames, 12)
    assert len(site.stack) > 3  # without a stop, the walk goes on into pytest
    assert frames.stop_at(runner_files) == ()
    site, _ = outer(frames, 12)
    assert [frame[2] for frame in site.stack] == [
        "inner",
        "outer",
        "test_a_walk_ends_at_the_first_frame_of_a_stop_file",
    ]
    assert frames.stop_at(()) == runner_files


def test_the_call_site_is_taken_even_in_a_stop_file() -> None:
    frames = FrameFilter(prefixes=())
    frames.stop_at((THIS_FILE,))
    site, lines = outer(frames, 12)
    assert site.stack == ((THIS_FILE, lines[0], "inner"),)


def test_a_site_read_from_another_thread_sees_the_same_frames() -> None:
    site, lines = outer(FrameFilter(prefixes=()), 2)
    seen: list[tuple[RawFrame, ...]] = []
    reader = threading.Thread(target=lambda: seen.append(site.stack))
    reader.start()
    reader.join()
    assert seen == [site.stack] and seen[0][0][1] == lines[0]


def test_trim_keeps_the_innermost_frame_of_an_unread_stack() -> None:
    site, lines = outer(FrameFilter(prefixes=()), 4)
    site.trim()
    assert site.stack == ((THIS_FILE, lines[0], "inner"),)
    assert site.first == (THIS_FILE, lines[0], "inner")


def test_line_at_matches_what_the_frame_said() -> None:

    frame = sys._getframe()
    assert line_at(frame.f_code, frame.f_lasti) == frame.f_lineno


def walked_by_hand(frame: FrameType | None, depth: int) -> RawStack:
    out: list[Any] = []
    while frame is not None and len(out) < 2 * depth:
        out += [frame.f_code, frame.f_lasti]
        frame = frame.f_back
    return tuple(out)


def capture_and_by_hand(frames: FrameFilter, depth: int) -> tuple[RawStack, RawStack]:
    # Both start at this function's caller, stopped at the same instruction.
    return frames.capture(depth, 2), walked_by_hand(sys._getframe(1), depth)


def descend_and_compare(frames: FrameFilter, levels: int, depth: int) -> tuple[RawStack, RawStack]:
    if levels:
        return descend_and_compare(frames, levels - 1, depth)
    return capture_and_by_hand(frames, depth)


@pytest.mark.parametrize("depth", [1, 2, 3, 12, _frames.MAX_UNROLLED, _frames.MAX_UNROLLED + 1])
def test_a_walk_takes_the_same_frames_however_tall_the_stack(depth: int) -> None:
    # In a thread of its own, the stack is a few frames tall plus the
    # descent: shorter than the depth, as tall, and taller.
    frames = FrameFilter(prefixes=())
    mismatches: list[tuple[int, RawStack, RawStack]] = []
    heights: list[int] = []

    def compare() -> None:
        for levels in range(depth + 3):
            walked, by_hand = descend_and_compare(frames, levels, depth)
            heights.append(len(by_hand) // 2)
            if walked != by_hand:
                mismatches.append((levels, walked, by_hand))

    thread = threading.Thread(target=compare)
    thread.start()
    thread.join()
    assert mismatches == []
    assert max(heights) == depth
    if depth >= 12:  # a thread's own frames are fewer: some stacks were shorter
        assert min(heights) < depth
    # From 2 to MAX_UNROLLED frames, the walk was the written-out one (one
    # frame is the call site alone).
    assert (depth in _frames._WALKS) is (1 < depth <= _frames.MAX_UNROLLED)


def test_a_written_out_walk_is_zmqscope_plumbing() -> None:
    # A hung thread's stack can be read mid-walk (shutdown diagnosis): the
    # walk's own frame must not pass for the application's.
    walk = _frames._walker(5)
    assert FrameFilter().application_path(walk.__code__.co_filename) is None
    assert FrameFilter(prefixes=()).application_path(walk.__code__.co_filename) is not None
