"""Text from an application or a saved report, as rich and Textual show it: literally.

Thread names, argv, paths, function names, endpoints, option values, leak
messages and everything a saved report holds are data that someone else
chose. Rich and Textual read markup in a plain string (a thread named
``worker[/x]`` raised MarkupError, ``[link=...]`` made a hyperlink), and a
terminal obeys the escape sequences in it (a title change, a cleared
screen). A :class:`rich.text.Text` is never read as markup; :func:`shown`
makes one with the control characters made visible (``\\x1b``), and is the
one way a view turns such a string into something to draw. Plain-text
outputs use :func:`zmqscope.model.wording.visible` directly.
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.style import StyleType
from rich.text import Text

from zmqscope.model.wording import visible

__all__ = ["shown", "shown_lines", "visible"]


def shown(text: str, style: StyleType = "") -> Text:
    """``text`` as a Text: never markup, control characters (newlines too) as escapes."""
    return Text(visible(text), style=style)


def shown_lines(lines: Iterable[str], style: StyleType = "") -> Text:
    """One Text, a line per item: each item is shown as by :func:`shown`.

    The line breaks are the caller's; a newline inside an item is data and
    shows as ``\\n``.
    """
    return Text("\n".join(visible(line) for line in lines), style=style)
