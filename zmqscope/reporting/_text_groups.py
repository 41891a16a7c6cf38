"""One panel for many leaks from one line (see :mod:`zmqscope.reporting._groups`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Group, RenderableType
from rich.panel import Panel

from zmqscope._shown import shown
from zmqscope.model.wording import plural
from zmqscope.reporting._groups import LeakGroup

if TYPE_CHECKING:
    from rich.style import StyleType


def group_panel(group: LeakGroup, details: RenderableType | None, border: StyleType) -> Panel:
    """The count, a few ids, then the first socket's leak and ``details`` as an example.

    A group of one is not shown with this panel: its own panel says it all.
    """
    first = group.first
    record = group.record
    type_name = record.type if record else "unknown type"
    count = len(group)
    kind = group.kind.value
    intro = (
        f"{count:,} {type_name} sockets made at the same line by the same thread leaked"
        f" the same way: {group.ids()} (the JSON report lists every one). The first of them:"
    )
    body: list[RenderableType] = [shown(intro), shown(first.message, style="bold")]
    if details is not None:
        body.append(details)
    return Panel(
        Group(*body),
        title=shown(f"{plural(count, 'socket')} · {type_name} · {kind} · {first.socket} …"),
        title_align="left",
        border_style=border,
    )
