"""Hostile strings and records, shared by the tests that every output shows data literally.

A thread name, a path, an endpoint or anything in a saved report is chosen by
someone else. These are the shapes that broke zmqscope's outputs (issue #14):
rich markup (``worker[/x]`` raised MarkupError, ``[link=...]`` made a
hyperlink), terminal escape sequences (a title change, a cleared screen), and
in Markdown a newline, a backtick, a pipe or HTML that broke out of its place.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from hypothesis import strategies as st
from markdown_it import MarkdownIt

from zmqscope.model import (
    CallSite,
    ContextRecord,
    ContextState,
    Culprit,
    Endpoint,
    EndpointOp,
    Event,
    Frame,
    ProcessInfo,
    ProcessStats,
    Snapshot,
    SocketRecord,
    SocketState,
    ThreadInfo,
    ThreadRef,
    UsageWarning,
)
from zmqscope.remote.wire import FrameTable, encode_socket
from zmqscope.reporting import build_report

# The thread name of the issue: markup, a terminal title change, and what
# breaks Markdown (a backtick, a newline starting a heading, HTML, a pipe).
NAME = "worker[/x]\x1b]0;pwned\x07`\n# HEAD <script>alert(1)</script> | [link=https://e.example]x[/link]"
ARG = "--route=[/api]\x1b[2J"
ENDPOINT = "inproc://a[/b]\x1b[2J|`x`"

FRAGMENTS = [
    "[/x]",
    "[bold]",
    "[link=https://e.example]x[/link]",
    "\x1b]0;pwned\x07",
    "\x1b[2J",
    "\x9b31m",
    "\x00",
    "\r",
    "\t",
    "\n# HEAD\n",
    "\n- item\n",
    "`",
    "```",
    "|",
    "\\|",
    "<script>alert(1)</script>",
    "&amp;",
    "\u202e",
    "\u2028",
    "*_~",
    "1. ",
    "- ",
    "    ",
    ":smile:",
    "ü字",
]
hostile_text = st.lists(
    st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=6)), min_size=1, max_size=5
).map("".join)

# Characters a terminal acts on (C0 and C1 controls, DEL), the line break aside.
CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")

NOW = 1_764_324_000.0


def controls(output: str) -> list[str]:
    """The control characters in ``output`` (none may reach a terminal)."""
    return CONTROL.findall(output)


# What GitHub reads: CommonMark with tables, raw HTML passed through.
MARKDOWN = MarkdownIt("commonmark", {"html": True}).enable("table")
# Tokens that make a Markdown document's structure.
STRUCTURE = (
    "heading_open",
    "tr_open",
    "th_open",
    "td_open",
    "strong_open",
    "em_open",
    "s_open",
    "link_open",
    "image",
    "fence",
    "code_block",
    "html_block",
    "html_inline",
    "bullet_list_open",
    "ordered_list_open",
    "blockquote_open",
    "hr",
    "hardbreak",
)
# The only HTML zmqscope writes into Markdown.
OUR_TAGS = ("<details>", "</details>", "<summary>", "</summary>", "<br>")


def structure(markdown: str) -> Counter[str]:
    """How many of each structural token the Markdown makes, as GitHub would parse it."""
    counts: Counter[str] = Counter()
    for token in MARKDOWN.parse(markdown):
        tokens = [token, *(token.children or [])]
        counts.update(t.type for t in tokens if t.type in STRUCTURE)
    return counts


def foreign_html(markdown: str) -> list[str]:
    """Raw HTML in the Markdown that zmqscope did not write (after its own tags are taken out)."""
    found = []
    for token in MARKDOWN.parse(markdown):
        for t in [token, *(token.children or [])]:
            if t.type in ("html_block", "html_inline"):
                rest = t.content
                for tag in OUR_TAGS:
                    rest = rest.replace(tag, "")
                if "<" in rest:
                    found.append(t.content)
    return found


def hostile_snapshot(text: str = NAME, arg: str = ARG, endpoint: str = ENDPOINT) -> Snapshot:
    """Two leaked sockets, a thread-sharing warning and a blocked term(), ``text`` everywhere.

    Thread names, the socket type, paths, function names, option values, the
    linger source, the culprit's words and the command line all hold ``text``.
    """
    starter = ThreadRef(1, f"main {text}")
    started = CallSite(NOW - 20, starter, (Frame(f"/srv/{text}/start.py", 3, f"go{text}"),))
    thread = ThreadRef(2, text, started)
    site = Frame(
        f"/srv/{text}/app.py", 7, f"make{text}", "user", f"{text}/app.py", None, f"s = {text}"
    )
    cell = Frame(f"<ipython-input-{text}>", 2, "<module>", "user", None, 3, f"c = {text}")
    created = CallSite(NOW - 10, thread, (site, cell), 0)
    sockets = tuple(
        SocketRecord(
            id=f"s{number}",
            context="c1",
            type=f"PUSH{text}",
            state=SocketState.OPEN,
            created=created,
            endpoints=(Endpoint(EndpointOp.BIND, endpoint, requested=f"{endpoint}*"),),
            linger=-1,
            linger_source=f"set {text}",
            options=((f"OPT{text}", f"value {text}"),),
            threads_used=(thread,),
            proxied_by=None,
        )
        for number in (1, 2)
    )
    culprit = Culprit(
        socket="s1",
        reason=f"reason {text}",
        owner_stack=(site,),
        owner=thread,
        owner_alive=True,
        remedy=f"remedy {text}",
        where=f"{text} is at app.py:7",
        context="c1",
    )
    warning = UsageWarning(
        kind=f"thread-sharing{text}",
        socket="s2",
        message=f"used by {text}",
        time=NOW - 5,
        first=thread,
        first_site=site,
        second=starter,
        second_site=None,
    )
    context = ContextRecord(
        "c1",
        ContextState.TERMINATING,
        term_called=CallSite(NOW - 3, starter, (site,), 0),
        term_blocked_since=NOW - 3,
    )
    return Snapshot(
        taken_at=NOW,
        process=ProcessInfo(4242, (f"/srv/{text}/main.py", arg), f"3.11{text}", "27", "4.3"),
        contexts=(context,),
        sockets=sockets,
        created_total=2,
        culprits=(culprit,),
        warnings=(warning,),
    )


def honest_data() -> dict[str, Any]:
    """What a zmqscope server answers to each request, for one snapshot."""
    snapshot = hostile_snapshot("name")
    table = FrameTable()
    sockets = [encode_socket(s, table) for s in snapshot.sockets]
    stats = ProcessStats(started=NOW - 60, cpu_percent=1.0, rss=1000, threads=2, fds=9)
    process = snapshot.process.to_dict()
    thread = ThreadInfo(2, "worker", False, snapshot.sockets[0].created.stack, ("s1",))
    return {
        "hello": {**process, "endpoint": "tcp://x", "started": NOW - 60, "open_sockets": 2},
        "snapshot": {
            "instance": "1-2-3",
            "generation": 7,
            "full": True,
            "taken_at": NOW,
            "process": process,
            "contexts": [c.to_dict() for c in snapshot.contexts],
            "frames": table.rows,
            "sockets": sockets,
            "removed": [],
            "traffic": {"s1": [1, 2, 1, 2, 10, 20, NOW - 1, 0.0]},
            "culprits": [c.to_dict() for c in snapshot.culprits],
            "warnings": [w.to_dict() for w in snapshot.warnings],
            "created_total": 2,
            "dropped": 0,
            "stats": stats.to_dict(),
        },
        "report": build_report(snapshot, generated_at=NOW).to_dict(),
        "threads": [thread.to_dict()],
        "events": {
            "events": [Event(1, NOW - 5, "created", "s1", "c1", "PUSH").to_dict()],
            "cursor": 1,
            "missed": 0,
        },
    }
