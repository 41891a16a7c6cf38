"""Markdown escaping shared by the Markdown renderers: every value shown is literal.

A value (a thread name, a path, an endpoint, a message) must stay inside the
piece of Markdown it was put in: a newline in it must not start a ``# HEAD``
line, a backtick must not close its code span, a ``|`` must not split its
table cell, and ``<script>`` must reach the page as text. Control characters
(newlines included) are shown as escapes first, as in every other output.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable

from zmqscope.model.wording import visible

# Every ASCII punctuation character may be backslash-escaped in CommonMark;
# these are the ones that could start emphasis, links, HTML or code.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>~&#!])")
# A pipe and the backslashes before it (see md_cell).
_PIPE = re.compile(r"(\\*)\|")
# What makes a line a list item or a setext underline when a value starts it.
_BLOCK_START = re.compile(r"^(\d{1,9})([.)])|^([-+=])")
_LEADING_SPACES = re.compile(r"^ +")


def md_text(value: str) -> str:
    """Plain text that Markdown must not read as markup, even at the start of a line."""
    text = _MARKDOWN_SPECIAL.sub(r"\\\1", visible(value))
    text = _BLOCK_START.sub(lambda m: f"{m[1]}\\{m[2]}" if m[1] else f"\\{m[3]}", text)
    # Four spaces at a line's start make a code block; a character reference does not.
    return _LEADING_SPACES.sub(lambda m: "&#32;" * len(m[0]), text)


def md_code(value: str) -> str:
    """An inline code span, safe even when ``value`` holds backticks or newlines."""
    value = visible(value)
    ticks = "`" * (longest_backtick_run(value) + 1)
    # CommonMark takes one space off each end of a span that starts and ends
    # with one; padding keeps a value's own edge spaces and backticks apart.
    if value.strip(" ") and (value[0] == " " or value[-1] == " " or "`" in value):
        return f"{ticks} {value} {ticks}"
    return f"{ticks}{value}{ticks}"


def md_html(value: str) -> str:
    """Text inside an HTML element (``<summary>``): escaped for HTML, on one line."""
    return html.escape(visible(value))


def md_fenced(lines: Iterable[str], info: str = "text") -> list[str]:
    """A fenced code block of ``lines``, each on its own line as given.

    The fence is longer than any backtick run inside, so no line can close it.
    """
    body = [visible(line) for line in lines]
    fence = "`" * max(3, longest_backtick_run("\n".join(body)) + 1)
    return [f"{fence}{info}", *body, fence]


def longest_backtick_run(text: str) -> int:
    return max((len(run) for run in re.findall(r"`+", text)), default=0)


def md_cell(value: str) -> str:
    """A table cell: GFM splits cells on ``|`` even inside code spans.

    A ``|`` after an even number of backslashes (none, or escaped ones) is a
    cell border to GFM; one more backslash makes it text.
    """
    return _PIPE.sub(_escape_pipe, value).replace("\n", " ")


def _escape_pipe(match: re.Match[str]) -> str:
    slashes = match[1]
    return slashes + ("|" if len(slashes) % 2 else "\\|")


def md_row(cells: list[str]) -> str:
    """``| a | b |``, each cell made safe for the table."""
    return "| " + " | ".join(md_cell(c) for c in cells) + " |"
