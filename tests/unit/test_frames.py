"""Call-site capture: raw frames at capture time, file/line/function on first read."""

from __future__ import annotations

import os
import threading
import time

import _pytest
import pytest

from tests.conftest import here
from zmqscope._entries import Site
from zmqscope._frames import FrameFilter, RawFrame, line_at

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
    assert isinstance(raw, list) and len(raw) == 6  # code, offset for each of 3 frames
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
    import sys

    frame = sys._getframe()
    assert line_at(frame.f_code, frame.f_lasti) == frame.f_lineno
