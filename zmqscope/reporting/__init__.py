"""Leak analysis over a :class:`~zmqscope.model.Snapshot` and its renderers.

``build_report`` turns a snapshot into a :class:`Report`; a report renders
itself as JSON (``zmqscope.report/1``), Markdown and, through rich, text.
``render_blocked`` is the notice printed while a ``term()`` is still blocked;
``find_leak`` judges one socket. ``by_test`` reads and renders the pytest
plugin's file (leaks by test), ``markup`` escapes values for Markdown.
"""

from __future__ import annotations

from zmqscope.reporting._analysis import build_report, find_leak
from zmqscope.reporting._limits import fd_usage
from zmqscope.reporting._markdown import render_markdown
from zmqscope.reporting._report import Report, use_renderers
from zmqscope.reporting._text import render_exit, render_text
from zmqscope.reporting._text_culprits import render_blocked

# The renderers import Report; Report gets them from here (no import loop).
use_renderers(text=render_text, markdown=render_markdown)

__all__ = [
    "Report",
    "build_report",
    "fd_usage",
    "find_leak",
    "render_blocked",
    "render_exit",
    "render_markdown",
    "render_text",
]
