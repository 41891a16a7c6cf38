"""The Textual TUI of ``zmqscope attach``; it sees only the client and the model."""

from __future__ import annotations

from zmqscope.tui.app import ScopeApp

__all__ = ["ScopeApp"]
