"""zmqscope's pytest plugin: every leaked ZeroMQ socket fails the test that leaked it.

Registered through the ``pytest11`` entry point and inactive until asked::

    pytest --zmqscope [--zmqscope-json PATH] [--zmqscope-markdown PATH] [--zmqscope-grace S]
    ini:  zmqscope = true   zmqscope_ignore = <globs>   zmqscope_grace = <seconds>
    mark: @pytest.mark.zmqscope(allow_leaks=True)

When active, all state lives in one :class:`~zmqscope.pytest_plugin.manager.ZmqscopeManager`
registered in ``pytest_configure``; when inactive nothing runs. The options,
ini keys and marker are :mod:`zmqscope.pytest_plugin.settings`'s, which stays loaded
under ``-p no:zmqscope``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from zmqscope.pytest_plugin import settings as _settings_plugin
from zmqscope.pytest_plugin.settings import DEFAULT_GRACE

if TYPE_CHECKING:
    from zmqscope.pytest_plugin.manager import Settings

MANAGER_NAME = "zmqscope_manager"


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    # The options, ini keys and marker live in their own plugin, which
    # -p no:zmqscope leaves loaded (see settings.py). Loaded without the
    # entry points (PYTEST_DISABLE_PLUGIN_AUTOLOAD=1, -p zmqscope.pytest_plugin),
    # the plugin brings it along; registering it here adds its options now.
    if not pluginmanager.has_plugin(_settings_plugin.PLUGIN_NAME):
        pluginmanager.register(_settings_plugin, _settings_plugin.PLUGIN_NAME)


def pytest_configure(config: pytest.Config) -> None:
    if not _enabled(config):
        return
    from zmqscope import _platform

    unsupported = _platform.problem()
    if unsupported is not None:
        raise pytest.UsageError(unsupported)
    # Imported only when active: a run without --zmqscope pays nothing for rich.
    from zmqscope.pytest_plugin.manager import ZmqscopeManager

    manager = ZmqscopeManager(config, _settings(config))
    manager.start()
    config.pluginmanager.register(manager, MANAGER_NAME)


def pytest_unconfigure(config: pytest.Config) -> None:
    manager = config.pluginmanager.get_plugin(MANAGER_NAME)
    if manager is not None:
        manager.stop()
        config.pluginmanager.unregister(manager, MANAGER_NAME)


def _enabled(config: pytest.Config) -> bool:
    option = config.getoption("zmqscope", None)
    if option is not None:
        return bool(option)
    try:
        return bool(config.getini("zmqscope"))
    except ValueError as error:
        if not config.pluginmanager.has_plugin(_settings_plugin.PLUGIN_NAME):
            return False  # -p no:zmqscope_settings: the ini key is unknown, so off
        # pytest's own reading of a bool ini value: "maybe" is neither.
        raise pytest.UsageError(f"ini option zmqscope must be true or false: {error}") from None


def _settings(config: pytest.Config) -> Settings:
    from zmqscope import _bounds as bounds
    from zmqscope.pytest_plugin.manager import Settings

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
