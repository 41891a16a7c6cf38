"""The README and docs/ point at what exists, and the contract pages name every option and key.

The contracts live in docs/ (the README is the user's manual): these checks
keep a page from silently missing what the code offers.
"""

from __future__ import annotations

import argparse
import gc
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import zmq
from _pytest.config.argparsing import Parser

import zmqscope
from zmqscope.cli import build_parser
from zmqscope.instrument import hooks
from zmqscope.model import (
    CallSite,
    Culprit,
    Frame,
    LimitWarning,
    SiteCount,
    SocketFailure,
    ThreadRef,
    UsageWarning,
)
from zmqscope.model.topology import DiagnosisKind
from zmqscope.pytest_plugin.settings import pytest_addoption

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
PAGES = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
# [text](target) outside code spans; images too.
_LINK = re.compile(r"\]\(([^)\s]+)\)")


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to dashes."""
    text = re.sub(r"`", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    body = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    return {_slug(line.lstrip("#")) for line in body.splitlines() if line.startswith("#")}


def _links(page: Path) -> Iterator[str]:
    body = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    body = re.sub(r"`[^`\n]*`", "", body)
    for match in _LINK.finditer(body):
        target = match.group(1)
        if not re.match(r"[a-z]+:", target):  # not http:, mailto:
            yield target


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_relative_link_and_anchor_resolves(page: Path) -> None:
    broken = []
    for target in _links(page):
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists() or (anchor and file.suffix == ".md" and anchor not in _anchors(file)):
            broken.append(target)
    assert broken == [], f"{page.name} links to what does not exist"


def test_the_contracts_are_in_docs_and_the_readme_points_there() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "DESIGN.md" not in readme  # never in this repository
    for name in (
        "design",
        "cli",
        "api",
        "report-json",
        "server-protocol",
        "pytest-plugin",
        "topology-json",
    ):
        assert (DOCS / f"{name}.md").is_file()
        assert f"docs/{name}.md" in readme
    design = (DOCS / "design.md").read_text(encoding="utf-8")
    assert "## Changes to the contracts" in design
    assert "lazy-records.md" in design


def _options(parser: argparse.ArgumentParser) -> set[str]:
    return {
        option
        for action in parser._actions
        for option in action.option_strings
        if option.startswith("--") and option not in ("--help", "--version")
    }


def test_the_cli_page_names_every_command_and_option() -> None:
    page = (DOCS / "cli.md").read_text(encoding="utf-8")
    parser, _ = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert set(commands.choices) == {"run", "attach", "ls", "report", "topology", "demo"}
    for name, command in commands.choices.items():
        assert f"## `zmqscope {name}`" in page
        for option in _options(command):
            assert f"`{option}" in page, f"{option} of zmqscope {name}"
    assert "`-m MODULE`" in page or "-m MODULE" in page


def test_the_plugin_page_names_every_option_and_ini_key() -> None:
    page = (DOCS / "pytest-plugin.md").read_text(encoding="utf-8")
    parser = Parser(_ispytest=True)  # what pytest hands pytest_addoption
    pytest_addoption(parser)
    options = {name for opt in parser.getgroup("zmqscope").options for name in opt.names()}
    assert options == {"--zmqscope", "--zmqscope-json", "--zmqscope-markdown", "--zmqscope-grace"}
    for option in options:
        assert f"`{option}" in page
    for key in parser._inidict:
        assert f"`{key}" in page, key
    assert "allow_leaks" in page


@pytest.fixture
def recorded() -> Iterator[dict[str, Any]]:
    """A real report of sockets of every kind, in traffic mode, as a JSON document."""
    hooks.reset_registry()
    zmqscope.install(traffic=True)
    ctx: zmq.Context[Any] = zmq.Context()
    try:
        push = ctx.socket(zmq.PUSH)
        push.setsockopt(zmq.SNDHWM, 10)
        port = push.bind_to_random_port("tcp://127.0.0.1")
        pull = ctx.socket(zmq.PULL)
        pull.connect(f"tcp://127.0.0.1:{port}")
        push.send(b"x")
        pull.recv()
        made: list[zmq.Socket[Any]] = []
        worker = threading.Thread(target=lambda: made.append(ctx.socket(zmq.PAIR)))
        worker.start()
        worker.join()
        zmq.Socket(ctx, zmq.DEALER)  # collected without close()
        gc.collect()
        data = zmqscope.report().to_dict()
        pull.close()
        push.close()
        made[0].close()
        yield data
    finally:
        ctx.destroy(linger=0)
        zmqscope.uninstall()
        hooks.reset_registry()


def _keys(value: Any, into: set[str]) -> set[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            into.add(key)
            if key != "options":  # socket options by name: the application's
                _keys(item, into)
    elif isinstance(value, list):
        for item in value:
            _keys(item, into)
    return into


def test_the_report_json_page_names_every_key(recorded: dict[str, Any]) -> None:
    page = (DOCS / "report-json.md").read_text(encoding="utf-8")
    site = CallSite(1.0, ThreadRef(1, "MainThread"), (Frame("/a.py", 1, "f", "user", "a.py"),))
    samples = [
        recorded,
        Culprit("s1", "r", owner=ThreadRef(1, "t"), where="w", context="c1").to_dict(),
        UsageWarning(
            "cross-thread", "s1", "m", 1.0, ThreadRef(1, "a"), None, ThreadRef(2, "b"), None
        ).to_dict(),
        LimitWarning(
            "max-sockets",
            20,
            20,
            "c1",
            SocketFailure(site, 24, "EMFILE", 20, 20, "max-sockets"),
            1,
            sites=(SiteCount(site.stack[0], 20),),
        ).to_dict(),
        {"pytest": {"tests": 1, "sockets": 1, "tests_failed": []}},
        {
            "test": "",
            "scope": "",
            "fixture": None,
            "verdict": "",
            "thread_origin": {"thread": {}, "started_in": "", "started_by": None},
        },
    ]
    keys = set().union(*(_keys(sample, set()) for sample in samples))
    assert {"started", "traffic", "inventory", "limits", "term_blocked_for"} <= keys
    missing = sorted(key for key in keys if f"`{key}`" not in page and f'"{key}"' not in page)
    assert missing == []


def test_the_topology_json_page_names_every_key() -> None:
    from tests.helpers.topology import bind, connect, process, silent, socket
    from zmqscope.model.topology import HostFacts, HostSocket, build_topology

    page = (DOCS / "topology-json.md").read_text(encoding="utf-8")
    server = process(10, socket("s1", "PULL", bind("tcp://127.0.0.1:5555")))
    client = process(11, socket("s1", "PUB", connect("tcp://127.0.0.1:5555")))
    host = HostFacts((HostSocket("tcp://127.0.0.1:6379", None, True, 77),))
    peer = process(12, socket("s1", "DEALER", connect("tcp://127.0.0.1:6379")))
    document = build_topology([server, client, peer, silent(13)], host).to_dict()
    for node in document["processes"]:
        for sock in node["sockets"]:
            sock["record"] = {}  # a report's socket record: report-json.md's
    keys = _keys(document, set())
    assert {"host_checked", "reach", "compatible", "endpoint", "record"} <= keys
    missing = sorted(key for key in keys if f"`{key}`" not in page)
    assert not missing, f"keys docs/topology-json.md does not name: {missing}"
    for kind in DiagnosisKind:
        assert f"`{kind.value}`" in page
