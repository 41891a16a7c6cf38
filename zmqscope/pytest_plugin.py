"""zmqscope's pytest plugin: every leaked ZeroMQ socket fails the test that leaked it.

Registered through the ``pytest11`` entry point and inactive until asked::

    pytest --zmqscope [--zmqscope-json PATH] [--zmqscope-markdown PATH] [--zmqscope-grace S]
    ini:  zmqscope = true   zmqscope_ignore = <globs>   zmqscope_grace = <seconds>
    mark: @pytest.mark.zmqscope(allow_leaks=True)

When active, all state lives in one :class:`~zmqscope._pytest_manager.ZmqscopeManager`
registered in ``pytest_configure``; when inactive the plugin adds its options
and marker and nothing else runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from zmqscope._pytest_manager import Settings

MANAGER_NAME = "zmqscope_manager"
DEFAULT_GRACE = 5.0
_MARKER = (
    "zmqscope(allow_leaks=False): with allow_leaks=True, ZeroMQ sockets this test leaves"
    " open are listed by zmqscope but do not fail it"
)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("zmqscope", "zmqscope: ZeroMQ socket leak checks")
    group.addoption(
        "--zmqscope",
        action="store_true",
        default=None,
        help="fail every test that leaves a ZeroMQ socket open (ini: zmqscope)",
    )
    group.addoption(
        "--zmqscope-json",
        metavar="PATH",
        type=Path,
        help="write every leak, with its test, as a zmqscope.report/1 JSON document",
    )
    group.addoption(
        "--zmqscope-markdown",
        metavar="PATH",
        type=Path,
        help="write a Markdown summary of the leaks (fits $GITHUB_STEP_SUMMARY)",
    )
    group.addoption(
        "--zmqscope-grace",
        metavar="SECONDS",
        type=float,
        help=f"fail a test whose term()/destroy() blocks longer (default {DEFAULT_GRACE:g})",
    )
    parser.addini("zmqscope", "check every test for leaked ZeroMQ sockets", type="bool")
    parser.addini(
        "zmqscope_ignore",
        "globs of files whose sockets zmqscope ignores (matched against the file"
        " that created the socket, absolute or relative to rootdir)",
        type="linelist",
    )
    parser.addini(
        "zmqscope_grace",
        f"seconds a term()/destroy() may block inside a test (default {DEFAULT_GRACE:g})",
        default=str(DEFAULT_GRACE),
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", _MARKER)
    if not _enabled(config):
        return
    # Imported only when active: a run without --zmqscope pays nothing for rich.
    from zmqscope._pytest_manager import ZmqscopeManager

    manager = ZmqscopeManager(config, _settings(config))
    manager.start()
    config.pluginmanager.register(manager, MANAGER_NAME)


def pytest_unconfigure(config: pytest.Config) -> None:
    manager = config.pluginmanager.get_plugin(MANAGER_NAME)
    if manager is not None:
        manager.stop()
        config.pluginmanager.unregister(manager, MANAGER_NAME)


def _enabled(config: pytest.Config) -> bool:
    option = config.getoption("zmqscope")
    if option is not None:
        return bool(option)
    try:
        return bool(config.getini("zmqscope"))
    except ValueError as error:  # pytest's own reading of a bool ini value
        raise pytest.UsageError(f"ini option zmqscope must be true or false: {error}") from None


def _settings(config: pytest.Config) -> Settings:
    from zmqscope import _bounds as bounds
    from zmqscope._pytest_manager import Settings

    grace = config.getoption("zmqscope_grace")
    name = "--zmqscope-grace"
    if grace is None:
        grace = str(config.getini("zmqscope_grace")).strip() or str(DEFAULT_GRACE)
        name = "zmqscope_grace"
    try:
        grace = bounds.grace(grace, name)
    except ValueError as error:
        raise pytest.UsageError(str(error)) from None
    ignore = tuple(str(glob) for glob in config.getini("zmqscope_ignore"))
    return Settings(
        grace=float(grace),
        ignore=ignore,
        json_path=_path(config, "zmqscope_json"),
        markdown_path=_path(config, "zmqscope_markdown"),
    )


def _path(config: pytest.Config, name: str) -> Path | None:
    value = config.getoption(name)
    # Relative to where pytest was started, as pytest's own --junitxml is.
    return Path(value).absolute() if value is not None else None
