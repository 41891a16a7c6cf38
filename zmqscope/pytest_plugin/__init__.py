"""zmqscope's pytest plugin: every leaked ZeroMQ socket fails the test that leaked it.

This module is the ``zmqscope`` ``pytest11`` entry point (``-p
zmqscope.pytest_plugin``, ``-p no:zmqscope``), inactive until asked::

    pytest --zmqscope [--zmqscope-json PATH] [--zmqscope-markdown PATH] [--zmqscope-grace S]
    ini:  zmqscope = true   zmqscope_ignore = <globs>   zmqscope_grace = <seconds>
    mark: @pytest.mark.zmqscope(allow_leaks=True)

When active, all state lives in one
:class:`~zmqscope.pytest_plugin.manager.ZmqscopeManager` registered in
``pytest_configure``; when inactive nothing runs, and nothing but pytest and
:mod:`~zmqscope.pytest_plugin.settings` is imported. The package owns:

- ``settings``: the ``zmqscope_settings`` entry point (options, ini keys,
  marker and its checks), which stays loaded under ``-p no:zmqscope``;
- ``manager``: the hooks, the run of each test's protocol, its reports
  held and logged; ``observers``: the helper plugins registered only while
  needed; ``running``: the test being run;
- ``pytest_internals``: every use of pytest's private internals;
- ``windows``: which sockets a test made and which leaked; ``claims``: wider
  fixtures' sockets; ``threads``: which test started each thread;
  ``checks``: the findings they make; ``findings``: the finding values;
- ``hung_term``: a blocked ``term()`` interrupted and failed;
- ``terminal_text``: failure texts and the terminal summary;
  ``runner_frames``: which frames are pytest's; ``files``: the JSON and
  Markdown files.

What it may import: pytest's public API, and pytest's internals only through
``pytest_internals``; of zmqscope, the public API and ``_api`` (install,
uninstall, the watchdog's listeners), the instrumentation (``hooks``, the
registry and its entries, ``shutdown``), ``model``, ``reporting`` and small
helpers (``_files``, ``_bounds``, ``_platform``, ``_native``). Never the CLI,
the TUI or the introspection server and client; nothing else in zmqscope
imports this package.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from zmqscope._defaults import DEFAULT_GRACE
from zmqscope.pytest_plugin import settings as _settings_plugin
from zmqscope.pytest_plugin.settings import Settings

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
        value = config.getini("zmqscope")
    except ValueError:
        return False  # -p no:zmqscope_settings: the ini key is unknown, so off
    # Registered as text and judged here: pytest 9 judges a "bool" ini value
    # itself, in a line that does not name the setting.
    word = str(value).strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise pytest.UsageError(
        f"ini option zmqscope must be true or false: invalid truth value {value!r}"
    )


# What pytest reads as true or false in a "bool" ini value.
_TRUE = frozenset({"1", "yes", "y", "true", "t", "on"})
_FALSE = frozenset({"", "0", "no", "n", "false", "f", "off"})


def _settings(config: pytest.Config) -> Settings:
    from zmqscope import _bounds as bounds

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
