"""``zmqscope run`` prints the application's tracebacks as plain ``python`` prints them.

Each case runs the same application under ``python`` and under ``zmqscope
run`` and compares the traceback line by line: zmqscope's own frames (its
launcher, its hooks between the application's call and pyzmq's) and the
import system's frames while ``-m`` imports the parent packages never
appear. ``python -m`` adds frames of its launcher (``<frozen runpy>``), which
are left out of the comparison; ``zmqscope run`` starts at the application's
frame. After the traceback comes zmqscope's summary, and the status is 1.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.helpers.processes import describe, run_python, write_app, zmqscope_cli
from tests.helpers.report_files import read_report

pytestmark = pytest.mark.timeout(120)


def traceback_lines(stderr: str) -> list[str]:
    """What Python printed for the uncaught exception: everything before zmqscope's summary."""
    lines = []
    for line in stderr.splitlines():
        if line.startswith("zmqscope:"):
            break
        lines.append(line)
    return lines


def without_launcher(lines: list[str]) -> list[str]:
    """``python -m``'s own frames left out: a ``File "<frozen runpy>"`` line (no source line)."""
    return [line for line in lines if not line.startswith('  File "<frozen runpy>"')]


SCRIPTS = {
    "syntax error": "x = 1\ndef broken(:\n    pass\n",
    "failing connect": """
        import zmq

        ctx = zmq.Context()
        sock = ctx.socket(zmq.PUSH)
        sock.connect("tcp://no-port-here")
    """,
    "failing socket()": """
        import zmq

        ctx = zmq.Context()
        ctx.socket(12345)
    """,
    "failing bind, caught and chained": """
        import zmq

        ctx = zmq.Context()
        sock = ctx.socket(zmq.PULL)
        try:
            sock.bind("ipc:///no/such/folder/x.ipc")
        except zmq.ZMQError as error:
            sock.close()
            raise RuntimeError("the service cannot start") from error
    """,
    "failing setsockopt in a function": """
        import zmq


        def configure(sock):
            sock.setsockopt(zmq.SUBSCRIBE, 3)


        ctx = zmq.Context()
        sock = ctx.socket(zmq.SUB)
        try:
            configure(sock)
        finally:
            sock.close()
    """,
}


@pytest.mark.parametrize("case", list(SCRIPTS))
def test_a_scripts_traceback_is_pythons(tmp_path: Path, case: str) -> None:
    source = SCRIPTS[case]
    app = tmp_path / "app.py"
    if case == "syntax error":
        app.write_text(source, encoding="utf-8")
    else:
        write_app(tmp_path, source)

    plain = run_python(str(app), cwd=tmp_path)
    scoped = zmqscope_cli("run", "--no-serve", str(app), cwd=tmp_path)

    assert plain.returncode == scoped.returncode == 1, describe(scoped)
    expected = plain.stderr.splitlines()
    assert expected, describe(plain)
    assert traceback_lines(scoped.stderr) == expected, describe(scoped)
    assert "zmqscope" not in "\n".join(traceback_lines(scoped.stderr))
    # The report still follows.
    assert "zmqscope: " in scoped.stderr.split(expected[-1], 1)[1], describe(scoped)


def test_a_syntax_error_shows_no_traceback_header(tmp_path: Path) -> None:
    """As ``python app.py`` shows it: the file, the line, the caret, the error."""
    app = tmp_path / "app.py"
    app.write_text(SCRIPTS["syntax error"], encoding="utf-8")
    scoped = zmqscope_cli("run", "--no-serve", str(app), cwd=tmp_path)
    lines = traceback_lines(scoped.stderr)
    assert lines[0] == f'  File "{app}", line 2', describe(scoped)
    assert lines[-1] == "SyntaxError: invalid syntax"


# -- -m MODULE whose package fails ------------------------------------------------

PACKAGES = {
    "package raises": {
        "shop/__init__.py": """
            import zmq

            ctx = zmq.Context()
            leaked = ctx.socket(zmq.PUSH)  # made before the failure
            raise RuntimeError("configuration missing")
        """,
        "shop/service.py": "print('never runs')\n",
    },
    "package fails an import": {
        "shop/__init__.py": "import a_dependency_that_is_not_installed\n",
        "shop/service.py": "print('never runs')\n",
    },
    "package has a syntax error": {
        "shop/__init__.py": "def broken(:\n",
        "shop/service.py": "print('never runs')\n",
    },
    "package __main__ raises": {
        "shop/__init__.py": "",
        "shop/service/__init__.py": "raise LookupError('no such shop')\n",
        "shop/service/__main__.py": "print('never runs')\n",
    },
}


@pytest.mark.parametrize("case", list(PACKAGES))
def test_a_module_that_fails_is_the_applications_failure(tmp_path: Path, case: str) -> None:
    """``run -m shop.service``: the traceback from the app's own frame, status 1, the report."""
    for name, source in PACKAGES[case].items():
        write_app(tmp_path, source, name)
    report = tmp_path / "report.json"

    plain = run_python("-m", "shop.service", cwd=tmp_path)
    scoped = zmqscope_cli(
        "run", "--no-serve", "--json", str(report), "-m", "shop.service", cwd=tmp_path
    )

    assert plain.returncode == scoped.returncode == 1, describe(scoped)
    assert "zmqscope: error" not in scoped.stderr, describe(scoped)
    expected = without_launcher(plain.stderr.splitlines())
    if case == "package has a syntax error":
        # Python shows a SyntaxError by its place: with no frame of the app, no header.
        expected = [line for line in expected if line != "Traceback (most recent call last):"]
    assert traceback_lines(scoped.stderr) == expected, describe(scoped)
    # Then the report, and its file.
    summary = [line for line in scoped.stderr.splitlines() if line.startswith("zmqscope: ")]
    assert summary, describe(scoped)
    leaks = read_report(report)["leaks"]
    if case == "package raises":
        assert summary[0] == "zmqscope: 1 socket created, 1 leak: 1 open at exit"
        assert [leak["kind"] for leak in leaks] == ["open-at-exit"]


def test_a_missing_module_is_a_usage_error_a_missing_dependency_is_not(tmp_path: Path) -> None:
    """``no module named`` (status 2) only when the module or its package does not exist."""
    write_app(tmp_path, "", "shop/__init__.py")
    write_app(tmp_path, "import not_installed_anywhere\n", "broken/__init__.py")
    write_app(tmp_path, "", "broken/service.py")
    for name in ("shop.nothing", "nothing.at_all"):
        scoped = zmqscope_cli("run", "-m", name, cwd=tmp_path)
        assert scoped.returncode == 2, describe(scoped)
        (line,) = scoped.stderr.splitlines()
        assert line.startswith(f"zmqscope: error: no module named {name!r}"), line
    scoped = zmqscope_cli("run", "--no-serve", "-m", "broken.service", cwd=tmp_path)
    assert scoped.returncode == 1, describe(scoped)
    assert traceback_lines(scoped.stderr)[-1] == (
        "ModuleNotFoundError: No module named 'not_installed_anywhere'"
    )


def test_the_package_sees_argv_as_python_m_gives_it(tmp_path: Path) -> None:
    """While the module is being found, ``sys.argv[0]`` is ``-m``, as under ``python -m``."""
    write_app(tmp_path, "import sys\nprint('package', sys.argv)\n", "shop/__init__.py")
    write_app(tmp_path, "import sys\nprint('module', sys.argv[1:])\n", "shop/service.py")
    plain = run_python("-m", "shop.service", "x", cwd=tmp_path)
    scoped = zmqscope_cli("run", "--no-serve", "-m", "shop.service", "x", cwd=tmp_path)
    assert scoped.returncode == 0, describe(scoped)
    assert scoped.stdout == plain.stdout == "package ['-m', 'x']\nmodule ['x']\n"


@pytest.mark.skipif(sys.version_info < (3, 11), reason="ExceptionGroup is new in 3.11")
def test_members_of_an_exception_group_lose_zmqscopes_frames(tmp_path: Path) -> None:
    app = write_app(
        tmp_path,
        """
        import zmq

        ctx = zmq.Context()
        errors = []
        for address in ("tcp://bad-one", "tcp://bad-two"):
            sock = ctx.socket(zmq.PUSH)
            try:
                sock.connect(address)
            except zmq.ZMQError as error:
                errors.append(error)
            finally:
                sock.close()
        raise ExceptionGroup("no peer", errors)
        """,
    )
    plain = run_python(str(app), cwd=tmp_path)
    scoped = zmqscope_cli("run", "--no-serve", str(app), cwd=tmp_path)
    assert plain.returncode == scoped.returncode == 1
    assert traceback_lines(scoped.stderr) == plain.stderr.splitlines(), describe(scoped)
