"""The TUI as ``zmqscope demo`` shows it: one more key, to shut the demo down."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from textual.app import App
from textual.binding import Binding

from zmqscope.tui.app import ScopeApp


class DemoApp(ScopeApp, inherit_bindings=False):
    """:class:`ScopeApp` plus ``x``: ask the demo application to shut down."""

    # x comes right after q and ?, where a narrow footer still shows it
    # (inherited bindings would put it last: this list is all of them).
    BINDINGS: ClassVar = [
        *App.BINDINGS,
        *ScopeApp.BINDINGS[:3],
        Binding("x", "shutdown_demo", "Shut down"),
        *ScopeApp.BINDINGS[3:],
    ]
    EXTRA_KEYS: ClassVar = (
        ("x", "shut the demo down: its term() blocks, and Shutdown [3] shows why"),
    )

    def __init__(self, *args: Any, shutdown: Callable[[], None], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._ask_shutdown = shutdown
        self._asked = False

    def action_shutdown_demo(self) -> None:
        if self._asked:
            self.notify("the demo is already shutting down; watch Shutdown [3]")
            return
        self._asked = True
        self._ask_shutdown()
        self.notify("demo shutting down: its term() will block, see Shutdown [3]", timeout=5)
