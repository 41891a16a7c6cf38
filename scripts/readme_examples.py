"""Make the README's example outputs from the real commands, so that they cannot drift.

    .venv/bin/python scripts/readme_examples.py           # rewrite the blocks in README.md
    .venv/bin/python scripts/readme_examples.py --check   # compare; exit 1 and a diff if stale

A block to generate is the fenced block right after a marker line::

    <!-- example: NAME (made by scripts/readme_examples.py) -->

Each example runs its commands in a fresh folder, ``/tmp/readme-example``
as the README shows it (its real name has the same length, so that panels
wrap the same), with a private runtime folder, no colour, and a fixed
terminal width. ``--check`` compares after blanking what changes from run
to run (pids, ports, thread ids, uptimes, durations) and runs of spaces or
rules in tables, whose widths follow the pids: line numbers, wording and
the order of panels must match. Used by ``tests/integration/test_readme_examples.py``.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
SHOWN_FOLDER = "/tmp/readme-example"  # as the README names the scratch folder
TIMEOUT = 60.0  # seconds for any one command
MARKER = re.compile(r"^<!-- example: ([\w-]+) .*-->$")


@dataclass(frozen=True)
class Example:
    """One README block: how to make it, and what to blank before comparing."""

    name: str
    make: Callable[[Path], str]  # the block's text, made in a scratch folder
    volatile: tuple[tuple[str, str], ...] = ()  # (regex, replacement), on top of COMMON


# What differs between any two runs, in every example.
COMMON = (
    (r"\(id \d+\)", "(id N)"),  # thread ids
    (r"127\.0\.0\.1:\d{4,5}\b", "127.0.0.1:PORT"),  # ports the OS chose
    (r" {2,}", " "),  # table columns follow the widths of pids and ports
    (r"─{2,}", "─"),
    (r" +$", ""),
)


def environment(folder: Path, columns: int) -> dict[str, str]:
    """This environment less zmqscope's and Python's switches; no colour; ``columns`` wide."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("ZMQSCOPE", "PYTEST", "PYTHON", "FORCE_COLOR", "TTY_"))
        and name not in ("COLUMNS", "LINES", "NO_COLOR")
    }
    env.update(
        COLUMNS=str(columns),
        NO_COLOR="1",
        XDG_RUNTIME_DIR=str(folder / "run"),
        PYTHONPATH=str(ROOT),  # this checkout's zmqscope, even without pip install -e
    )
    return env


def run(folder: Path, command: Sequence[str], columns: int = 80) -> str:
    """``command``'s stdout then stderr, run in ``folder``."""
    done = subprocess.run(
        list(command),
        cwd=folder,
        env=environment(folder, columns),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    return done.stdout + done.stderr


@contextmanager
def started(folder: Path, command: Sequence[str], until: str) -> Iterator[subprocess.Popen[str]]:
    """``command`` running in ``folder`` once its stderr has said ``until``; killed after."""
    child = subprocess.Popen(
        list(command),
        cwd=folder,
        env=environment(folder, 80),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stderr is not None
        deadline = time.monotonic() + TIMEOUT
        seen = ""
        while until not in seen:
            if time.monotonic() > deadline or child.poll() is not None:
                raise SystemExit(f"{' '.join(command)} did not say {until!r}:\n{seen}")
            seen += child.stderr.readline()
        yield child
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
        if child.stderr is not None:
            child.stderr.close()


def write(folder: Path, name: str, source: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source).lstrip("\n"), encoding="utf-8")
    return path


ZMQSCOPE = (sys.executable, "-m", "zmqscope")


# -- the examples ---------------------------------------------------------------------


def leaky_run(folder: Path) -> str:
    """The leak report at the top: the bundled leaky app under ``zmqscope run``."""
    command = "zmqscope run -m zmqscope.examples.leaky_app"
    # From the checkout, as a user who cloned it would: paths read zmqscope/examples/...
    return f"$ {command}\n" + run(ROOT, [*ZMQSCOPE, *command.split()[1:]])


HANGING_APP = """
    import threading
    import time

    import zmq


    def serve(ctx, ready):
        sock = ctx.socket(zmq.REP)
        sock.bind("tcp://127.0.0.1:*")
        ready.set()
        time.sleep(3600)


    ctx = zmq.Context()
    ready = threading.Event()
    threading.Thread(target=serve, args=(ctx, ready), name="svc-thread", daemon=True).start()
    ready.wait()
    ctx.term()  # waits for svc-thread's socket
"""


def hung_term(folder: Path) -> str:
    """The culprit report a blocked ``term()`` prints under ``zmqscope run``."""
    write(folder, "eterm.py", HANGING_APP)
    command = [*ZMQSCOPE, "run", "--grace", "1", "eterm.py"]
    child = subprocess.Popen(
        command,
        cwd=folder,
        env=environment(folder, 80),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stderr is not None
        lines: list[str] = []
        deadline = time.monotonic() + TIMEOUT
        while not (lines and lines[-1].startswith("╰")):
            if time.monotonic() > deadline or child.poll() is not None:
                raise SystemExit("eterm.py printed no culprit report:\n" + "".join(lines))
            lines.append(child.stderr.readline())
    finally:
        child.kill()
        child.wait(timeout=10)
        if child.stderr is not None:
            child.stderr.close()
    return "".join(lines)


POOL_APP = """
    import sys
    import time

    import zmq

    ctx = zmq.Context()
    ctx.set(zmq.MAX_SOCKETS, 20)
    pool = [ctx.socket(zmq.PUSH) for _ in range(18)]
    print("ready", file=sys.stderr, flush=True)
    time.sleep(60)
"""


def ls(folder: Path) -> str:
    """``zmqscope ls`` with one process near MAX_SOCKETS and one hung in ``term()``."""
    write(folder, "pool.py", POOL_APP)
    write(folder, "eterm.py", HANGING_APP)
    (folder / "run").mkdir(mode=0o700, exist_ok=True)
    pool = [*ZMQSCOPE, "run", "pool.py"]
    hung = [*ZMQSCOPE, "run", "--grace", "1", "eterm.py"]
    with started(folder, pool, "ready"), started(folder, hung, "keeps it waiting"):
        return "$ zmqscope ls\n" + run(folder, [*ZMQSCOPE, "ls"], columns=200)


PLUGIN_TEST = """
    import zmq


    def start_client(ctx, port):
        sock = ctx.socket(zmq.DEALER)
        sock.connect(f"tcp://127.0.0.1:{port}")
        return sock


    def test_request_reply():
        ctx = zmq.Context.instance()
        server = ctx.socket(zmq.ROUTER)
        port = server.bind_to_random_port("tcp://127.0.0.1")
        client = start_client(ctx, port)
        client.send(b"ping")
        identity, body = server.recv_multipart()
        assert body == b"ping"
        server.close()  # the client is never closed
        test_request_reply.client = client
"""


def plugin_failure(folder: Path) -> str:
    """The pytest plugin failing a test that leaked (its session header left out)."""
    write(folder, "tests/test_client.py", PLUGIN_TEST)
    write(folder, "pytest.ini", "[pytest]\n")  # the rootdir: nothing of the checkout's
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--zmqscope"]
    output = run(folder, [*command, "tests/test_client.py"], columns=110)
    lines = output.splitlines(keepends=True)
    # Drop "test session starts", platform, rootdir, plugins, "collected 1 item", and
    # the blank line after them: they list this machine's plugins and versions.
    start = next(i for i, line in enumerate(lines) if line.startswith("tests/test_client.py"))
    return "$ pytest --zmqscope tests/test_client.py\n" + "".join(lines[start:])


BROKER_APP = """
    import os, sys, time
    import zmq

    ctx = zmq.Context()
    jobs = ctx.socket(zmq.PUSH)
    port = jobs.bind_to_random_port("tcp://127.0.0.1")
    news = ctx.socket(zmq.PUB)
    news.bind("ipc://news.sock")
    with open("port.tmp", "w") as out:
        out.write(str(port))
    os.replace("port.tmp", "port")
    print("ready", file=sys.stderr, flush=True)
    time.sleep(60)
"""

WORKER_APP = """
    import sys, time
    import zmq

    ctx = zmq.Context()
    jobs = ctx.socket(zmq.PULL)
    jobs.connect(f"tcp://localhost:{open('port').read()}")
    news = ctx.socket(zmq.SUB)  # never subscribes
    news.connect("ipc://news.sock")
    done = ctx.socket(zmq.PULL)  # a PULL, to the PUB
    done.connect("ipc://news.sock")
    print("ready", file=sys.stderr, flush=True)
    time.sleep(60)
"""


def topology(folder: Path, *options: str) -> str:
    """``zmqscope topology OPTIONS`` over a broker and a worker, both under ``zmqscope run``."""
    write(folder, "broker.py", BROKER_APP)
    write(folder, "worker.py", WORKER_APP)
    (folder / "run").mkdir(mode=0o700, exist_ok=True)
    with (
        started(folder, [*ZMQSCOPE, "run", "broker.py"], "ready"),
        started(folder, [*ZMQSCOPE, "run", "worker.py"], "ready"),
    ):
        output = run(folder, [*ZMQSCOPE, "topology", *options])
    return output


def topology_json(folder: Path) -> str:
    """The JSON's edges and diagnoses, as jq shows them."""
    document = json.loads(topology(folder, "--format", "json"))
    shown = "\n".join(
        json.dumps(part, indent=2) for part in (document["edges"][0], document["diagnoses"][0])
    )
    return "$ zmqscope topology --format json | jq '.edges[0], .diagnoses[0]'\n" + shown


# Pids in a topology: in titles, labels and socket keys.
PIDS = (
    (r"pid \d+", "pid PID"),
    (r"localhost:\d{4,5}\b", "localhost:PORT"),
    (r'"\d+(/s\d+)?"', r'"PID\1"'),
)


EXAMPLES = {
    example.name: example
    for example in (
        Example("leaky-run", leaky_run),
        # The test the plugin example runs, as the README shows it.
        Example("plugin-test", lambda _folder: textwrap.dedent(PLUGIN_TEST).strip("\n")),
        Example(
            "hung-term",
            hung_term,
            ((r"blocked for \d+\.\d s", "blocked for N.N s"),),
        ),
        Example(
            "ls",
            ls,
            (
                (r"(?m)^\d+ +\d+s ", "PID UPTIME "),  # the table's first columns
                (r"/\d+\.ipc", "/PID.ipc"),
                (r"(?m)^\d+: ", "PID: "),
            ),
        ),
        Example("topology", lambda f: "$ zmqscope topology\n" + topology(f), PIDS),
        Example(
            "topology-mermaid",
            lambda f: "$ zmqscope topology --format mermaid\n" + topology(f, "--format", "mermaid"),
            PIDS,
        ),
        Example(
            "topology-dot",
            lambda f: "$ zmqscope topology --format dot\n" + topology(f, "--format", "dot"),
            PIDS,
        ),
        Example("topology-json", topology_json, PIDS),
        Example(
            "plugin-failure",
            plugin_failure,
            (
                (r" in \d+\.\d+s ", " in N.NNs "),
                (r"=+", "="),
            ),
        ),
    )
}


# -- README blocks --------------------------------------------------------------------


@dataclass(frozen=True)
class Block:
    name: str
    start: int  # index of the first line inside the fence
    end: int  # index of the closing fence


def blocks(lines: Sequence[str]) -> list[Block]:
    """Every marked block of the README (its lines, without newlines)."""
    found = []
    for index, line in enumerate(lines):
        match = MARKER.match(line)
        if match is None:
            continue
        fence = index + 1
        if not lines[fence].startswith("```"):
            raise SystemExit(f"README.md:{fence + 1}: no fenced block after the marker")
        end = next(i for i in range(fence + 1, len(lines)) if lines[i] == "```")
        found.append(Block(match.group(1), fence + 1, end))
    return found


def normalised(text: str, example: Example) -> str:
    for pattern, replacement in (*example.volatile, *COMMON):
        text = re.sub(pattern, replacement, text)
    return text.strip("\n")


def made(names: Sequence[str]) -> dict[str, str]:
    """The text of each named example, made now."""
    texts = {}
    for name in names:
        example = EXAMPLES[name]
        with scratch() as folder:
            text = example.make(folder)
            text = text.replace(str(folder), SHOWN_FOLDER)
            # Tables pad their last column; a README keeps no trailing spaces.
            texts[name] = "\n".join(line.rstrip() for line in text.splitlines())
    return texts


@contextmanager
def scratch() -> Iterator[Path]:
    """A fresh folder whose path has the length of SHOWN_FOLDER (panels wrap the same)."""
    folder = Path(tempfile.mkdtemp(prefix="zs-ex-", dir="/tmp"))
    try:
        assert len(str(folder)) == len(SHOWN_FOLDER), folder
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="compare, do not rewrite")
    parser.add_argument("--readme", type=Path, default=README, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    lines = args.readme.read_text(encoding="utf-8").split("\n")
    found = blocks(lines)
    unknown = [b.name for b in found if b.name not in EXAMPLES]
    if unknown:
        raise SystemExit(f"README.md names examples this script does not make: {unknown}")
    missing = sorted(set(EXAMPLES) - {b.name for b in found})
    if missing:
        raise SystemExit(f"README.md has no block for {missing}")
    texts = made([b.name for b in found])
    if args.check:
        return _check(lines, found, texts)
    for block in sorted(found, key=lambda b: b.start, reverse=True):
        lines[block.start : block.end] = texts[block.name].split("\n")
    args.readme.write_text("\n".join(lines), encoding="utf-8")
    print(json.dumps({b.name: len(texts[b.name].splitlines()) for b in found}), "lines written")
    return 0


def _check(lines: Sequence[str], found: Sequence[Block], texts: dict[str, str]) -> int:
    stale = 0
    for block in found:
        example = EXAMPLES[block.name]
        written = normalised("\n".join(lines[block.start : block.end]), example)
        now = normalised(texts[block.name], example)
        if written != now:
            stale += 1
            diff = difflib.unified_diff(
                written.splitlines(), now.splitlines(), "README.md", "now", lineterm=""
            )
            print(f"README.md:{block.start}: example {block.name!r} is out of date:")
            print("\n".join(diff))
    if stale:
        print("run: .venv/bin/python scripts/readme_examples.py")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
