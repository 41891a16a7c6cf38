"""Which frames are the test runner's: where recorded stacks end, and what shown stacks leave out.

A socket's creation stack runs from the line that made it out to the test
function or fixture; pytest's frames (and pluggy's, its plugins', unittest's
runner's) beyond are noise, and never where a test made a socket.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Sequence

from zmqscope.model import Frame

# The test runner's own code: never where a test made a socket, and noise in
# a call chain. Recorded stacks end where it begins (hooks.stop_walks_at);
# frames of it that a stack still holds (the call site itself, a thread's
# runner) are left out when shown.
_RUNNER_MODULES = ("_pytest", "pytest", "pluggy", "pytest_asyncio", "pytest_timeout", "xdist")

# unittest's runner, which pytest calls for a unittest.TestCase: the frames
# between pytest's and the test method. Files, not the package: unittest.mock
# runs application code (side effects, patched functions) in between.
_UNITTEST_RUNNER_FILES = ("case.py", "async_case.py")


@functools.cache
def runner_paths() -> tuple[str, ...]:
    """The test runner's files and folders, as path prefixes (looked up once)."""
    paths = []
    for name in _RUNNER_MODULES:
        file = getattr(sys.modules.get(name), "__file__", None)
        if file:
            is_package = os.path.basename(file) == "__init__.py"
            paths.append(os.path.dirname(file) + os.sep if is_package else file)
    # Where unittest lives, without importing what has not been (async_case
    # brings asyncio): beside the standard library's os module.
    unittest_dir = os.path.join(os.path.dirname(os.path.abspath(os.__file__)), "unittest")
    paths += [os.path.join(unittest_dir, name) for name in _UNITTEST_RUNNER_FILES]
    # Not the launcher (``__main__``): it may be a test file that calls
    # pytest.main() on itself, and its frames sit above pytest's anyway.
    return tuple(paths)


def own_frames(stack: Sequence[Frame]) -> list[Frame]:
    """``stack`` without the test runner's frames (pytest, pluggy, their plugins)."""
    runner = runner_paths()
    return [frame for frame in stack if not frame.file.startswith(runner)]
