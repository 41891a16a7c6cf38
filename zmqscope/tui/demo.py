"""The TUI as ``zmqscope demo`` shows it: one more key, to shut the demo down."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from textual.binding import Binding

from zmqscope.tui.app import ScopeApp


class DemoApp(ScopeApp):
    """:class:`ScopeApp` plus ``x``: ask the demo application to shut down."""

    BINDINGS: ClassVar = [
        *ScopeApp.BINDINGS,
        Binding("x", "shutdown_demo", "Shut demo down"),
    ]

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
