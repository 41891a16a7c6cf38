"""Leak analysis over a :class:`~zmqscope.model.Snapshot` and its renderers.

``build_report`` turns a snapshot into a :class:`Report`; a report renders
itself as JSON (``zmqscope.report/1``), Markdown and, through rich, text.
"""

from __future__ import annotations

from zmqscope.report._analysis import build_report
from zmqscope.report._markdown import render_markdown
from zmqscope.report._report import Report
from zmqscope.report._text import render_exit, render_text

__all__ = ["Report", "build_report", "render_exit", "render_markdown", "render_text"]
