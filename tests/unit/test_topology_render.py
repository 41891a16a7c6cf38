"""A topology's outputs show hostile strings literally and cannot be broken or injected into."""

from __future__ import annotations

import io
import json
import re
import shlex
from dataclasses import replace

import pydot
import pytest
from hypothesis import given, settings
from rich.console import Console

from tests.helpers.hostile import ARG, ENDPOINT, NAME, controls, hostile_text
from tests.helpers.topology import bind, connect, process, socket
from zmqscope.model import ThreadRef
from zmqscope.model.topology import HostFacts, HostProcess, HostSocket, Topology, build_topology
from zmqscope.model.wording import visible
from zmqscope.reporting.topology import (
    render_dot,
    render_mermaid,
    render_topology_json,
    render_topology_plain,
    render_topology_text,
)
from zmqscope.reporting.topology_graphs import dot_label, mermaid_label

# No deadline: the suite asserts no timings (pydot builds its parser on first use, ~0.5 s).
HOSTILE = settings(deadline=None, database=None)

# pydot's parser uses pyparsing's old names, which pyparsing 3.3 warns about.
pytestmark = pytest.mark.filterwarnings("ignore:'setParseAction' deprecated")

# A Mermaid label as zmqscope writes it: harmless characters and entity codes only.
_MERMAID_LABEL = re.compile(r"(?:[A-Za-z0-9 ._:/,=@+()\-]|#\d+;)*")
# Every line of zmqscope's Mermaid: its own syntax around quoted labels.
_LABEL = r'"(?:[^"]*)"'
_MERMAID_LINES = [
    re.compile(r"flowchart LR"),
    re.compile(rf"  subgraph p\d+\[{_LABEL}\]"),
    re.compile(rf"    p\d+_s\d+\[{_LABEL}\]"),
    re.compile(r"  end"),
    re.compile(rf"  p\d+\(\[{_LABEL}\]\)"),
    re.compile(rf"  p\d+(?:_s\d+)? (?:-->|-\.->)\|{_LABEL}\| p\d+(?:_s\d+)?"),
    re.compile(r"  classDef diagnosed stroke:#c00,stroke-width:2px"),
    re.compile(r"  class p\d+_s\d+(?:,p\d+_s\d+)* diagnosed"),
]


def hostile_topology(text: str = NAME, arg: str = ARG, endpoint: str = ENDPOINT) -> Topology:
    """Two processes whose argv, endpoints, thread and function names are ``text``-like."""
    thread = ThreadRef(7, text)
    binder = socket("s1", "PULL", bind(endpoint), file=f"/srv/app/{text}.py")
    binder = replace(binder, created=replace(binder.created, thread=thread))
    pusher = socket("s2", "PUSH", connect(endpoint))
    stray = socket("s3", "PUB", connect(f"tcp://127.0.0.1:6{len(text) % 10}00"))
    one = process(10, binder, pusher, stray, argv=("python", arg, text))
    other = process(11, socket("s1", "SUB", connect("tcp://127.0.0.1:7000")), argv=(text,))
    host = HostFacts(
        (HostSocket("tcp://127.0.0.1:7000", None, True, 99),), (HostProcess(99, (text, arg)),)
    )
    return build_topology([one, other], host)


def _mermaid_text(label: str) -> str:
    return re.sub(r"#(\d+);", lambda m: chr(int(m.group(1))), label)


@HOSTILE
@given(hostile_text)
def test_a_mermaid_label_is_inert_and_says_the_text(text: str) -> None:
    label = mermaid_label(text)
    assert _MERMAID_LABEL.fullmatch(label)
    assert _mermaid_text(label) == visible(text)


@HOSTILE
@given(hostile_text)
def test_a_dot_label_reads_back_as_the_text(text: str) -> None:
    graph = pydot.graph_from_dot_data(f"digraph g {{ a [label={dot_label(text)}]; a -> b; }}")
    assert graph is not None
    (parsed,) = graph
    assert [n.get_name() for n in parsed.get_nodes()] == ["a"]
    assert len(parsed.get_edges()) == 1
    raw = parsed.get_node("a")[0].get_attributes()["label"]
    assert raw[0] == raw[-1] == '"'
    assert re.sub(r"\\(.)", r"\1", raw[1:-1]) == visible(text)


@HOSTILE
@given(hostile_text)
def test_hostile_strings_cannot_break_the_mermaid_graph(text: str) -> None:
    topology = hostile_topology(text, text, f"inproc://{text}")
    mermaid = render_mermaid(topology)
    lines = mermaid.splitlines()
    for line in lines:
        assert any(p.fullmatch(line) for p in _MERMAID_LINES), line
    for label in re.findall(r'"([^"]*)"', mermaid):
        assert _MERMAID_LABEL.fullmatch(label.replace("<br/>", " ")), label
    assert sum(1 for line in lines if line.startswith("  subgraph ")) == 2
    assert sum(1 for line in lines if "-->" in line or "-.->" in line) == len(topology.edges)


@HOSTILE
@given(hostile_text)
def test_hostile_strings_cannot_break_the_dot_graph(text: str) -> None:
    topology = hostile_topology(text, text, f"inproc://{text}")
    graphs = pydot.graph_from_dot_data(render_dot(topology))
    assert graphs is not None
    (graph,) = graphs
    clusters = graph.get_subgraphs()
    assert [c.get_name() for c in clusters] == ["cluster_p0", "cluster_p1"]
    assert sum(len(c.get_nodes()) for c in clusters) == 4  # the four sockets
    assert len(graph.get_edges()) == len(topology.edges) == 2  # inproc, and to pid 99
    process_label = clusters[1].get_attributes()["label"]
    assert re.sub(r"\\(.)", r"\1", process_label[1:-1]) == f"pid 11: {visible(shlex.join([text]))}"


def test_the_graphs_show_the_wiring() -> None:
    server = process(10, socket("s1", "PULL", bind("tcp://0.0.0.0:5555"), line=3))
    client = process(11, socket("s1", "PUB", connect("tcp://localhost:5555"), line=4))
    topology = build_topology([server, client])

    mermaid = render_mermaid(topology)
    assert 'p0_s0["PULL s1<br/>bind tcp://0.0.0.0:5555<br/>app.py:3 in main()"]' in mermaid
    assert 'p1_s0 -.->|"tcp://localhost:5555 (types cannot talk)"| p0_s0' in mermaid
    assert "  class p0_s0,p1_s0 diagnosed" in mermaid
    dot = render_dot(topology)
    assert 'p1_s0 -> p0_s0 [label="tcp://localhost:5555 (types cannot talk)"' in dot
    assert (
        'p0_s0 [label="PULL s1\\lbind tcp://0.0.0.0:5555\\lapp.py:3 in main()\\l", color=red];'
        in dot
    )


def test_the_text_shows_hostile_strings_literally() -> None:
    topology = hostile_topology()
    out = io.StringIO()
    Console(file=out, width=100_000, force_terminal=True, color_system=None).print(
        render_topology_text(topology)
    )
    text = out.getvalue()
    assert controls(text) == []
    for fragment in ("worker[/x]", "[link=https://e.example]x[/link]", "<script>", "\\x1b"):
        assert fragment in text
    assert "PUB s3 of pid 10" in text and "connect-to-nothing" in text


@HOSTILE
@given(hostile_text)
def test_the_plain_text_for_a_pipe_is_the_terminal_text_without_styles(text: str) -> None:
    topology = hostile_topology(text, text, f"tcp://127.0.0.1:1/{text}")
    plain = render_topology_plain(topology)
    assert plain == render_topology_text(topology).plain
    assert controls(plain.replace("\n", "")) == []


def test_the_json_keeps_hostile_strings_as_they_were() -> None:
    topology = hostile_topology()
    document = json.loads(render_topology_json(topology))
    assert document["processes"][0]["argv"] == ["python", ARG, NAME]
    assert Topology.from_dict(document) == topology
    assert controls(render_topology_json(topology)) == []  # JSON escapes them
