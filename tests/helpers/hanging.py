"""Run an app that is expected to hang, watch its stderr, and always kill it."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.helpers.processes import clean_env

# Long enough for a loaded 2-core CI machine; a test waits only as long as
# it takes the expected text to appear.
WAIT = 30.0


class RunningApp:
    """A subprocess whose stderr is collected in the background."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self._stderr: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self._stderr.append(line)

    @property
    def stderr(self) -> str:
        return "".join(self._stderr)

    def wait_for(self, text: str, timeout: float = WAIT) -> str:
        """Stderr once it contains ``text``; AssertionError with stderr if it never does."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.stderr:
                # Give the rest of the same report a moment to arrive.
                time.sleep(0.3)
                return self.stderr
            if self.process.poll() is not None and not self._reader.is_alive():
                break
            time.sleep(0.05)
        raise AssertionError(f"{text!r} never appeared on stderr:\n{self.stderr}")

    def wait_exit(self, timeout: float = WAIT) -> int:
        code = self.process.wait(timeout=timeout)
        self._reader.join(timeout=5)
        return code


@contextmanager
def running(
    app: Path,
    *options: str,
    cwd: Path,
    command: Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
) -> Iterator[RunningApp]:
    """``zmqscope run OPTIONS app`` in the background; killed on the way out.

    ``env`` is added to the clean environment (e.g. a private ``XDG_RUNTIME_DIR``).
    """
    argv = list(command) if command else [sys.executable, "-m", "zmqscope", "run", *options]
    process = subprocess.Popen(
        [*argv, str(app)],
        cwd=cwd,
        env=clean_env(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield RunningApp(process)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


def read_json_when_written(path: Path, timeout: float = WAIT) -> Any:
    """The JSON document at ``path`` once it is there and whole.

    zmqscope writes it after printing the report to stderr, so a test that
    saw the report may look before the file is complete.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            time.sleep(0.05)
    raise AssertionError(f"no complete JSON document at {path} within {timeout} s")
