"""Markdown escaping shared by the Markdown renderers: every value shown is literal."""

from __future__ import annotations

import re

# Every ASCII punctuation character may be backslash-escaped in CommonMark;
# these are the ones that could start emphasis, links, HTML or code.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>~&#!])")


def md_text(value: str) -> str:
    """Plain text that Markdown must not read as markup."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", value)


def md_code(value: str) -> str:
    """An inline code span, safe even when ``value`` holds backticks."""
    longest = longest_backtick_run(value)
    if not longest:
        return f"`{value}`"
    ticks = "`" * (longest + 1)
    return f"{ticks} {value} {ticks}"


def longest_backtick_run(text: str) -> int:
    return max((len(run) for run in re.findall(r"`+", text)), default=0)


def md_cell(value: str) -> str:
    """A table cell: GFM splits cells on ``|`` even inside code spans."""
    return value.replace("|", r"\|").replace("\n", " ")


def md_row(cells: list[str]) -> str:
    """``| a | b |``, each cell made safe for the table."""
    return "| " + " | ".join(md_cell(c) for c in cells) + " |"
