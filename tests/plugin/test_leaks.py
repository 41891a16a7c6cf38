"""A test that leaves a ZeroMQ socket open fails, naming the socket; a clean suite is untouched."""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET

import pytest

from tests.helpers.pytester_runs import TIMEOUT, line_of, run, write_tests

LEAKY = """
import zmq

def test_clean():
    with zmq.Context.instance().socket(zmq.PUSH) as sock:
        sock.bind("inproc://clean")

def test_leaks():
    sock = zmq.Context.instance().socket(zmq.PULL)  # leak
    sock.bind("inproc://leaky")
    test_leaks.kept = sock  # still referenced: open after teardown
"""


# A plugin that runs each test's protocol itself, logging every report as
# pytest does (pytest-rerunfailures works this way for the tests it reruns).
PROTOCOL_PLUGIN = """
import pytest
from _pytest.runner import runtestprotocol

class Protocol:
    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(self, item, nextitem):
        item.ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
        runtestprotocol(item, nextitem=nextitem)
        item.ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
        return True
"""
# ... registered after zmqscope's manager, so pluggy calls it first.
AT_CONFIGURE = """
@pytest.hookimpl(trylast=True)
def pytest_configure(config):
    config.pluginmanager.register(Protocol(), "other-protocol")
"""


# A stand-in for pytest-rerunfailures, registered under its plugin name, with
# its get_reruns_count() and a plain pytest_runtest_protocol that runs the
# tests marked flaky itself: once more if they failed, logging the last
# attempt's reports, each marked as its own.
RERUNS_PLUGIN = """
import pytest
from _pytest.runner import runtestprotocol

class Reruns:
    @staticmethod
    def get_reruns_count(item):
        return 1 if item.get_closest_marker("flaky") else None

    def pytest_runtest_protocol(self, item, nextitem):
        if self.get_reruns_count(item) is None:
            return None
        item.ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
        for attempt in range(2):
            reports = runtestprotocol(item, nextitem=nextitem, log=False)
            if not any(report.failed for report in reports):
                break
        for report in reports:
            report.user_properties.append(("rerunfailures", "ran it"))
            item.ihook.pytest_runtest_logreport(report=report)
        item.ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
        return True

def pytest_configure(config):
    config.pluginmanager.register(Reruns(), "rerunfailures")
"""


def test_a_leaking_test_fails_naming_type_line_thread_and_endpoint(
    pytester: pytest.Pytester,
) -> None:
    write_tests(pytester, "test_app", LEAKY)
    line = line_of(LEAKY, "leak")
    result = run(pytester, "--zmqscope")
    # The test itself fails: no error at its teardown, nothing counted twice.
    result.assert_outcomes(passed=1, failed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "*= FAILURES =*",
            "*_ test_leaks _*",
            "zmqscope: test_leaks leaked 1 ZeroMQ socket",
            f"  s*: PULL socket created at test_app.py:{line} in test_leaks() by MainThread"
            " was never closed (bound inproc://leaky)",
            f"    created    test_app.py:{line} in test_leaks()",
            "    thread     MainThread (id *)",
            "    endpoints  bind inproc://leaky",
            "    linger     -1 (wait forever), source: default",
            "Close every socket a test creates*allow_leaks=True).",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*= zmqscope =*",
            "zmqscope: 2 tests checked, 2 sockets created, 1 leak in 1 test",
            f"test_app.py::test_leaks: PULL socket created at test_app.py:{line}*",
            "FAILED test_app.py::test_leaks - zmqscope: leaked PULL socket from"
            f" test_app.py:{line}",
        ]
    )
    result.stdout.no_fnmatch_line("*ERROR*")


def test_without_the_option_the_plugin_does_nothing(pytester: pytest.Pytester) -> None:
    write_tests(pytester, "test_app", LEAKY)
    result = run(pytester)
    result.assert_outcomes(passed=2)
    result.stdout.no_fnmatch_line("*= zmqscope =*")
    result.stdout.no_fnmatch_line("*leaked*")


def test_the_ini_setting_turns_it_on(pytester: pytest.Pytester) -> None:
    write_tests(pytester, "test_app", LEAKY)
    pytester.makeini("[pytest]\nzmqscope = true\n")
    result = run(pytester)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*PULL socket created at test_app.py:*"])


def test_a_socket_collected_without_close_is_reported(pytester: pytest.Pytester) -> None:
    source = """
    import zmq

    class Holder:
        def __init__(self):
            self.sock = zmq.Context.instance().socket(zmq.PUB)  # made
            self.me = self  # a reference cycle: only the garbage collector frees it

    def test_forgets_to_close():
        Holder()
    """
    write_tests(pytester, "test_cycle", source)
    result = run(pytester, "--zmqscope")
    result.assert_outcomes(failed=1)
    line = line_of(source, "made")
    result.stdout.fnmatch_lines(
        [
            f"  s1: PUB socket created at test_cycle.py:{line} in __init__() by MainThread"
            " was garbage-collected without close()",
            f"    called from test_cycle.py:{line + 4} in test_forgets_to_close()",
        ]
    )


CLEAN = """
import threading

import pytest
import zmq

@pytest.fixture
def server():
    sock = zmq.Context.instance().socket(zmq.REP)
    sock.bind("tcp://127.0.0.1:*")
    yield sock
    sock.close()

@pytest.fixture
def finalized(request):
    sock = zmq.Context.instance().socket(zmq.DEALER)
    request.addfinalizer(sock.close)
    return sock

def test_instance_context_kept_across_tests():
    zmq.Context.instance().socket(zmq.PUSH).close()

def test_fixture_closes_in_teardown(server):
    assert server.type == zmq.REP

def test_fixture_closes_in_a_finalizer(finalized):
    finalized.connect("inproc://nowhere")

def test_destroy_closes_every_socket():
    ctx = zmq.Context()
    a, b = ctx.socket(zmq.PAIR), ctx.socket(zmq.PAIR)
    a.bind("inproc://a")
    b.connect("inproc://a")
    ctx.destroy(linger=0)

def test_a_thread_that_closes_its_socket():
    def work():
        with zmq.Context.instance().socket(zmq.SUB) as sock:
            sock.subscribe(b"")
    thread = threading.Thread(target=work)
    thread.start()
    thread.join()

def test_no_sockets_at_all():
    assert True
"""


def test_a_clean_suite_passes_unchanged(pytester: pytest.Pytester) -> None:
    write_tests(pytester, "test_clean", CLEAN)
    result = run(pytester, "--zmqscope")
    result.assert_outcomes(passed=6)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["zmqscope: 6 tests checked, 6 sockets created, no leaks"])


def test_allow_leaks_marker_keeps_the_test_passing_but_lists_the_leak(
    pytester: pytest.Pytester,
) -> None:
    source = """
    import pytest
    import zmq

    @pytest.mark.zmqscope(allow_leaks=True)
    def test_known_leak():
        test_known_leak.kept = zmq.Context.instance().socket(zmq.ROUTER)  # allowed
    """
    write_tests(pytester, "test_marked", source)
    result = run(pytester, "--zmqscope", "--strict-markers")
    result.assert_outcomes(passed=1)
    line = line_of(source, "allowed")
    result.stdout.fnmatch_lines(
        [
            f"test_marked.py::test_known_leak: ROUTER socket created at test_marked.py:{line}"
            "*allowed by @pytest.mark.zmqscope(allow_leaks=True)]"
        ]
    )


def test_the_marker_is_registered_even_when_inactive(pytester: pytest.Pytester) -> None:
    write_tests(
        pytester,
        "test_marked",
        """
        import pytest

        @pytest.mark.zmqscope(allow_leaks=True)
        def test_marked():
            pass
        """,
    )
    run(pytester, "--strict-markers").assert_outcomes(passed=1)


def test_ignore_globs_skip_sockets_made_in_matching_files(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nzmqscope_ignore =\n    vendor/*.py\n")
    pytester.mkdir("vendor")
    (pytester.path / "vendor" / "__init__.py").write_text("")
    (pytester.path / "vendor" / "client.py").write_text(
        "import zmq\n\nOPEN = []\n\ndef connect():\n"
        "    OPEN.append(zmq.Context.instance().socket(zmq.REQ))\n"
    )
    source = """
    import zmq
    from vendor import client

    def test_vendor_socket_is_ignored():
        client.connect()

    def test_own_socket_still_counts():
        test_own_socket_still_counts.kept = zmq.Context.instance().socket(zmq.REQ)  # own
    """
    write_tests(pytester, "test_vendor", source)
    result = run(pytester, "--zmqscope")
    result.assert_outcomes(passed=1, failed=1)
    own = line_of(source, "own")
    result.stdout.fnmatch_lines(
        [f"FAILED test_vendor.py::test_own_socket_still_counts - *test_vendor.py:{own}"]
    )
    result.stdout.no_fnmatch_line("*client.py*")


def test_a_test_that_already_failed_is_not_failed_twice(pytester: pytest.Pytester) -> None:
    source = """
    import zmq

    def test_fails_before_closing():
        sock = zmq.Context.instance().socket(zmq.PUSH)  # made
        test_fails_before_closing.kept = sock
        assert 1 + 1 == 3
        sock.close()
    """
    write_tests(pytester, "test_failing", source)
    result = run(pytester, "--zmqscope")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "test_failing.py::test_fails_before_closing: PUSH socket created at"
            f" test_failing.py:{line_of(source, 'made')}*"
            "*not failed again: the test had already failed or was skipped]"
        ]
    )


def test_a_bad_grace_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nzmqscope = true\nzmqscope_grace = soon\n")
    write_tests(pytester, "test_app", "def test_nothing():\n    pass\n")
    result = run(pytester)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*zmqscope_grace must be a number of seconds, not 'soon'*"])


def test_last_failed_reruns_the_leaking_test(pytester: pytest.Pytester) -> None:
    write_tests(pytester, "test_app", LEAKY)
    # With the cache, which `run` turns off.
    first = pytester.runpytest_subprocess("--zmqscope", "-rf")
    first.assert_outcomes(passed=1, failed=1)
    first.stdout.fnmatch_lines(["FAILED test_app.py::test_leaks - zmqscope: leaked PULL socket*"])
    again = pytester.runpytest_subprocess("--zmqscope", "--lf", "-v")
    again.assert_outcomes(failed=1)
    again.stdout.fnmatch_lines(["run-last-failure: rerun previous 1 failure*"])
    again.stdout.fnmatch_lines(["test_app.py::test_leaks FAILED*"])


def test_an_unexpected_pass_that_leaks_fails(pytester: pytest.Pytester) -> None:
    source = """
    import pytest
    import zmq

    @pytest.mark.xfail(reason="flaky")
    def test_xpass():
        test_xpass.kept = zmq.Context.instance().socket(zmq.PUB)  # xpass

    @pytest.mark.xfail(reason="broken")
    def test_xfail():
        test_xfail.kept = zmq.Context.instance().socket(zmq.PUB)  # xfail
        assert False
    """
    write_tests(pytester, "test_xfails", source)
    result = run(pytester, "--zmqscope")
    result.assert_outcomes(failed=1, xfailed=1)
    result.stdout.fnmatch_lines(
        [f"FAILED test_xfails.py::test_xpass - *test_xfails.py:{line_of(source, 'xpass')}"]
    )
    result.stdout.fnmatch_lines(["test_xfails.py::test_xfail: PUB socket*[[]not failed again*"])


def test_a_teardown_error_is_not_failed_twice(pytester: pytest.Pytester) -> None:
    source = """
    import pytest
    import zmq

    @pytest.fixture
    def broken():
        yield
        raise RuntimeError("teardown broke")

    def test_leaks_and_breaks(broken):
        test_leaks_and_breaks.kept = zmq.Context.instance().socket(zmq.PUSH)  # made
    """
    write_tests(pytester, "test_broken", source)
    result = run(pytester, "--zmqscope")
    # pytest's own verdict: the call passed, its teardown is an error.
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["ERROR test_broken.py::test_leaks_and_breaks - RuntimeError*"])
    result.stdout.fnmatch_lines(
        [
            f"test_broken.py::test_leaks_and_breaks: PUSH socket created at test_broken.py:"
            f"{line_of(source, 'made')}*[[]not failed again*"
        ]
    )


def test_exitfirst_stops_after_a_leaking_test(pytester: pytest.Pytester) -> None:
    source = """
    import zmq

    def test_leaks():
        test_leaks.kept = zmq.Context.instance().socket(zmq.PULL)

    def test_never_runs():
        pass
    """
    write_tests(pytester, "test_stop", source)
    result = run(pytester, "--zmqscope", "-x")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*stopping after 1 failures*"])


def test_exitfirst_still_tears_down_wider_fixtures_in_the_failing_test(
    pytester: pytest.Pytester,
) -> None:
    # pytest tears every scope down in the teardown of a test that stops the
    # run; it knows to only if that test's failure was logged before its
    # teardown, which the plugin does for any failure but a leak.
    source = """
    import pytest
    import zmq

    @pytest.fixture(scope="module")
    def server():
        return zmq.Context.instance().socket(zmq.ROUTER)  # module leak

    def test_fails(server):
        assert False

    def test_never_runs(server):
        pass
    """
    write_tests(pytester, "test_stop", source)
    result = run(pytester, "--zmqscope", "-x")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "test_stop.py::test_fails (module-scoped fixture 'server'): ROUTER socket created at"
            f" test_stop.py:{line_of(source, 'module leak')}*[[]not failed again*"
        ]
    )


def test_setup_only_and_setup_show_work_as_without_the_plugin(pytester: pytest.Pytester) -> None:
    # zmqscope runs each test's protocol itself: pytest's --setup-only (set up
    # and tear down, never call) and --setup-show must keep their meaning.
    source = """
    import pytest
    import zmq

    @pytest.fixture
    def server():
        sock = zmq.Context.instance().socket(zmq.PULL)  # fixture leak
        yield sock

    def test_uses_server(server):
        raise AssertionError("never called with --setup-only")
    """
    write_tests(pytester, "test_setup", source)
    result = run(pytester, "--zmqscope", "--setup-only")
    # The fixture's leak is an error at teardown: there is no call report to fail.
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*SETUP    F server*",
            "*TEARDOWN F server*",
            f"  s*: PULL socket created at test_setup.py:{line_of(source, 'fixture leak')}*",
        ]
    )
    result.stdout.no_fnmatch_line("*never called*")
    shown = run(pytester, "--zmqscope", "--setup-show")
    shown.assert_outcomes(failed=1)
    shown.stdout.fnmatch_lines(
        ["*SETUP    F server*", "*test_setup.py::test_uses_server (fixtures used: *server*)*"]
    )


def test_with_pdb_a_failure_is_logged_before_the_debugger_opens(pytester: pytest.Pytester) -> None:
    # Quitting pdb ends the run at once (pytest.exit): the failure that opened
    # it must already be logged, or it is missing from the counts and JUnit.
    source = """
    def test_fails():
        assert 1 + 1 == 3

    def test_after():
        pass
    """
    write_tests(pytester, "test_debugged", source)
    # pytester's subprocess has its stdin closed: pdb reads end-of-file and quits.
    result = run(pytester, "--zmqscope", "--pdb", "--junitxml=junit.xml")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*Quitting debugger*"])
    suite = ET.parse(pytester.path / "junit.xml").getroot().find("testsuite")
    assert suite is not None and suite.get("failures") == "1"


def test_the_report_observer_is_registered_only_when_another_plugin_runs_tests(
    pytester: pytest.Pytester,
) -> None:
    # Its hooks would cost every test two more hook calls; alone, zmqscope
    # runs the protocol and needs none.
    pytester.makeconftest(
        """
        import pytest

        @pytest.fixture
        def observer(request):
            return request.config.pluginmanager.has_plugin("zmqscope_observer")
        """
    )
    write_tests(pytester, "test_alone", "def test_alone(observer):\n    assert not observer\n")
    run(pytester, "--zmqscope").assert_outcomes(passed=1)
    pytester.makepyfile(other_protocol=PROTOCOL_PLUGIN + AT_CONFIGURE)
    write_tests(pytester, "test_alone", "def test_alone(observer):\n    assert observer\n")
    run(pytester, "--zmqscope", "-p", "other_protocol").assert_outcomes(passed=1)


def test_when_another_plugin_runs_the_protocol_the_leak_errors_at_teardown(
    pytester: pytest.Pytester,
) -> None:
    # A plugin registered after zmqscope's that runs the protocol itself (as
    # pytest-rerunfailures does) logs the call report before the leak check:
    # the leak still fails the run, as an error at the test's teardown.
    pytester.makeconftest(PROTOCOL_PLUGIN + AT_CONFIGURE)
    write_tests(pytester, "test_app", LEAKY)
    result = run(pytester, "--zmqscope")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_leaks*",
            "zmqscope: test_leaks leaked 1 ZeroMQ socket",
            f"  s*: PULL socket created at test_app.py:{line_of(LEAKY, 'leak')}*",
        ]
    )


def test_a_protocol_plugin_registered_during_the_run_is_noticed(
    pytester: pytest.Pytester,
) -> None:
    # A fixture registers a plugin that runs the following tests' protocol:
    # their leaks are still found (as errors at teardown, as above).
    late = """
@pytest.fixture
def late_protocol(request):
    request.config.pluginmanager.register(Protocol(), "late-protocol")
"""
    pytester.makeconftest(PROTOCOL_PLUGIN + late)
    source = """
    import zmq

    def test_registers(late_protocol):
        pass

    def test_leaks_later():
        test_leaks_later.kept = zmq.Context.instance().socket(zmq.PULL)  # late leak
    """
    write_tests(pytester, "test_late", source)
    result = run(pytester, "--zmqscope")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(
        [f"ERROR test_late.py::test_leaks_later - *test_late.py:{line_of(source, 'late leak')}"]
    )


def test_pytest_rerunfailures_keeps_running_the_tests_it_reruns(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeconftest(RERUNS_PLUGIN)
    source = """
    import pytest
    import zmq

    @pytest.mark.flaky
    def test_flaky():
        test_flaky.kept = zmq.Context.instance().socket(zmq.PULL)

    def test_plain():
        test_plain.kept = zmq.Context.instance().socket(zmq.PULL)
    """
    write_tests(pytester, "test_reruns", source)
    result = run(pytester, "--zmqscope", "--junitxml=junit.xml")
    result.assert_outcomes(passed=1, failed=1, errors=1)
    result.stdout.fnmatch_lines(["ERROR test_reruns.py::test_flaky - zmqscope: leaked PULL*"])
    result.stdout.fnmatch_lines(["FAILED test_reruns.py::test_plain - zmqscope: leaked PULL*"])
    ran = {
        case.get("name"): [p.get("value") for p in case.iter("property")]
        for case in ET.parse(pytester.path / "junit.xml").iter("testcase")
    }
    assert "ran it" in ran["test_flaky"]
    assert ran["test_plain"] == []


def test_each_attempt_of_a_rerun_test_is_checked_on_its_own(pytester: pytest.Pytester) -> None:
    # The flaky test fails once, then passes but leaks; the stand-in runs it
    # again within the same protocol.
    pytester.makeconftest(RERUNS_PLUGIN)
    source = """
    import pytest
    import zmq

    ATTEMPTS = []

    @pytest.mark.flaky
    def test_flaky():
        ATTEMPTS.append(1)
        if len(ATTEMPTS) == 1:
            zmq.Context.instance().socket(zmq.PUSH).close()
            assert False, "the first attempt fails"
        test_flaky.kept = zmq.Context.instance().socket(zmq.PULL)  # second attempt
    """
    write_tests(pytester, "test_retried", source)
    result = run(pytester, "--zmqscope")
    # The first attempt's failure does not excuse the second attempt's leak,
    # and the second attempt does not count the first one's socket again.
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "ERROR test_retried.py::test_flaky - zmqscope: leaked PULL socket from"
            f" test_retried.py:{line_of(source, 'second attempt')}",
        ]
    )
    result.stdout.fnmatch_lines(["zmqscope: 2 tests checked, 2 sockets created, 1 leak in 1 test"])


def test_a_test_file_that_runs_pytest_on_itself_keeps_its_frames(
    pytester: pytest.Pytester,
) -> None:
    # python test_self.py: the test file is __main__, and not a runner file.
    source = """
    import sys
    import pytest
    import zmq

    def make():
        return zmq.Context.instance().socket(zmq.PULL)  # made

    def test_leak():
        test_leak.kept = make()  # called

    if __name__ == "__main__":
        sys.exit(pytest.main([__file__, "-p", "no:cacheprovider", "--zmqscope"]))
    """
    path = write_tests(pytester, "test_self", source)
    result = pytester.run(sys.executable, str(path), timeout=TIMEOUT)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            f"*created*test_self.py:{line_of(source, 'made')} in make()",
            f"*called from*test_self.py:{line_of(source, 'called')} in test_leak()",
        ]
    )
