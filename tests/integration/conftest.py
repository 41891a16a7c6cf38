"""Fixtures of the integration tests: the introspection server in this process, a second user.

The helpers these tests share (running subprocesses, serving apps, reading
report files) are in tests/helpers/.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

import zmqscope

if TYPE_CHECKING:
    from tests.helpers.second_user import OtherUser
    from zmqscope import Server

# -- the introspection server, in this process --------------------------------------


@pytest.fixture
def runtime(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """zmqscope's runtime folder, under a private, short ``XDG_RUNTIME_DIR``."""
    from tests.helpers.serving import short_folder

    with short_folder() as base:
        monkeypatch.setenv("XDG_RUNTIME_DIR", str(base))
        yield base / "zmqscope"


@pytest.fixture
def server(runtime: Path, scope: None) -> Iterator[Server]:
    """This process instrumented and serving on its default endpoint; stopped afterwards."""
    started = zmqscope.serve()
    assert started.endpoint.startswith(f"ipc://{runtime}/"), "a server of another test"
    try:
        yield started
    finally:
        started.stop(timeout=10)
        assert not started.running, "the server did not stop within 10 s"


@pytest.fixture(scope="session")
def other_user() -> Iterator[OtherUser]:
    """A second local user for the whole session (tests using it skip where none can be made)."""
    from tests.helpers.second_user import throwaway_user

    with throwaway_user() as user:
        yield user
