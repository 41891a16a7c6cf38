"""Configuring the plugin: turning it off, its marker's arguments, ``ZMQSCOPE=1`` with pytest."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.pytester_runs import run, write_tests

LEAKY = """
import pytest
import zmq

@pytest.mark.zmqscope(allow_leaks=True)
def test_allowed():
    test_allowed.kept = zmq.Context.instance().socket(zmq.PULL)

def test_leaks():
    test_leaks.kept = zmq.Context.instance().socket(zmq.PUSH)
"""

INI = """
[pytest]
zmqscope = true
zmqscope_grace = 3
zmqscope_ignore =
    */vendored/*
"""


def test_disabled_plugin_leaves_its_ini_keys_and_marker_valid(pytester: pytest.Pytester) -> None:
    """-p no:zmqscope, as the README suggests, passes --strict-config and --strict-markers."""
    pytester.makeini(INI)
    write_tests(pytester, "test_off", LEAKY)
    result = run(pytester, "-p", "no:zmqscope", "--strict-config", "--strict-markers")
    result.assert_outcomes(passed=2)
    assert result.ret == 0
    output = result.stdout.str() + result.stderr.str()
    assert "Unknown config option" not in output
    assert "PytestConfigWarning" not in output and "PytestUnknownMarkWarning" not in output
    assert "zmqscope:" not in output  # no check ran: no summary, no failure


def test_ini_can_be_overridden_off(pytester: pytest.Pytester) -> None:
    """-o zmqscope=false turns off what the ini turns on, and the checks with it."""
    pytester.makeini(INI)
    write_tests(pytester, "test_off", LEAKY)
    result = run(pytester, "-o", "zmqscope=false", "--strict-config", "--strict-markers")
    result.assert_outcomes(passed=2)
    # ... whereas the ini alone checks every test.
    run(pytester, "--strict-config", "--strict-markers").assert_outcomes(passed=1, failed=1)


def test_plugin_loaded_by_name_brings_its_options(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without entry points (PYTEST_DISABLE_PLUGIN_AUTOLOAD), -p zmqscope.pytest_plugin suffices."""
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    write_tests(pytester, "test_named", LEAKY)
    result = run(pytester, "-p", "zmqscope.pytest_plugin", "--zmqscope", "--strict-markers")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*test_named.py::test_leaks: PUSH socket created at*"])


@pytest.mark.parametrize(
    ("mark", "said"),
    [
        pytest.param(
            "allow_leak=True",
            "@pytest.mark.zmqscope has no argument 'allow_leak' (did you mean allow_leaks?)",
            id="typo",
        ),
        pytest.param(
            "True",
            "@pytest.mark.zmqscope takes no positional arguments (got True):"
            " write allow_leaks=True",
            id="positional",
        ),
        pytest.param(
            "allow_leaks='yes'",
            "@pytest.mark.zmqscope(allow_leaks=...) must be True or False, not 'yes'",
            id="not-a-bool",
        ),
    ],
)
@pytest.mark.parametrize("workers", [(), ("-n", "2")], ids=["serial", "xdist"])
def test_a_wrong_marker_argument_is_a_collection_error(
    pytester: pytest.Pytester, mark: str, said: str, workers: tuple[str, ...]
) -> None:
    write_tests(
        pytester,
        "test_marked",
        f"""
        import pytest
        import zmq

        def test_fine():
            pass

        class TestGroup:
            @pytest.mark.zmqscope({mark})
            def test_meant_to_leak(self):
                TestGroup.kept = zmq.Context.instance().socket(zmq.PULL)
        """,
    )
    result = run(pytester, "--zmqscope", *workers)
    result.stdout.fnmatch_lines(
        [f"zmqscope: test_marked.py::TestGroup::test_meant_to_leak: {said}*"]
    )
    # As for pytest's own collection errors (an unknown mark under --strict-markers):
    # the run stops before any test runs; pytest-xdist runs the tests it could collect.
    if workers:
        assert result.ret == pytest.ExitCode.TESTS_FAILED
        result.assert_outcomes(passed=1, errors=1)
    else:
        assert result.ret == pytest.ExitCode.INTERRUPTED
        result.assert_outcomes(errors=1)


def test_a_marked_class_is_checked_for_its_tests(pytester: pytest.Pytester) -> None:
    write_tests(
        pytester,
        "test_marked",
        """
        import pytest

        @pytest.mark.zmqscope(allow_leaks=True, strict=False)
        class TestGroup:
            def test_one(self):
                pass
        """,
    )
    result = run(pytester, "--zmqscope")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(
        ["zmqscope: test_marked.py::TestGroup::test_one: *has no argument 'strict'*"]
    )


def test_right_marker_arguments_pass(pytester: pytest.Pytester) -> None:
    write_tests(
        pytester,
        "test_marked",
        """
        import pytest
        import zmq

        pytestmark = pytest.mark.zmqscope

        @pytest.mark.zmqscope(allow_leaks=True)
        def test_allowed():
            test_allowed.kept = zmq.Context.instance().socket(zmq.PULL)

        @pytest.mark.zmqscope(allow_leaks=False)
        def test_not_allowed():
            test_not_allowed.kept = zmq.Context.instance().socket(zmq.PULL)
        """,
    )
    run(pytester, "--zmqscope").assert_outcomes(passed=1, failed=1)


def _installed_as_a_wheel_would(site: Path) -> None:
    """Metadata of a zmqscope installed from a wheel (``pip install .``), in ``site``.

    An editable install (the test suite's) lists no ``zmqscope/__init__.py``
    among its files, so pytest does not mark the package for assertion
    rewriting, and never warns. A wheel lists it: pytest marks ``zmqscope``,
    which ``ZMQSCOPE=1`` has imported (its ``.pth`` hook) before pytest looks.
    """
    info = site / "zmqscope_wheel-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: zmqscope-wheel\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[pytest11]\nzmqscope = zmqscope.pytest_plugin\n")
    (info / "RECORD").write_text(
        "zmqscope/__init__.py,,\nzmqscope/pytest_plugin.py,,\nzmqscope_wheel-1.0.dist-info/RECORD,,\n"
    )


def test_zmqscope_environment_does_not_make_pytest_warn_about_rewriting(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """ZMQSCOPE=1 pytest: no 'Module already imported so cannot be rewritten; zmqscope'."""
    site = tmp_path / "site"
    _installed_as_a_wheel_would(site)
    monkeypatch.setenv("PYTHONPATH", str(site))
    monkeypatch.setenv("ZMQSCOPE", "1")
    monkeypatch.setenv("ZMQSCOPE_SERVE", "0")
    write_tests(pytester, "test_plain", "def test_one():\n    assert 1 + 1 == 2\n")
    result = run(pytester, "-W", "error::pytest.PytestAssertRewriteWarning")
    result.assert_outcomes(passed=1)
    assert "cannot be rewritten" not in result.stdout.str() + result.stderr.str()
    # The plugin's own modules are still rewritten, as pytest rewrites any plugin's.
    write_tests(
        pytester,
        "test_rewritten",
        """
        import sys

        def test_plugin_module_was_rewritten():
            loader = sys.modules["zmqscope.pytest_plugin"].__loader__
            assert type(loader).__name__ == "AssertionRewritingHook"
        """,
    )
    run(pytester, "test_rewritten.py").assert_outcomes(passed=1)
