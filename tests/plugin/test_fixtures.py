"""Fixture sockets belong to the fixture's scope: checked when it ends, blamed on it."""

from __future__ import annotations

import pytest

from tests.helpers.pytester_runs import line_of, run, write_tests


def test_a_function_fixture_that_never_closes_fails_the_test_using_it(
    pytester: pytest.Pytester,
) -> None:
    source = """
    import pytest
    import zmq

    @pytest.fixture
    def client():
        sock = zmq.Context.instance().socket(zmq.DEALER)  # made
        sock.connect("tcp://127.0.0.1:5999")
        yield sock  # no close() after the yield

    def test_uses_client(client):
        assert client.type == zmq.DEALER

    def test_independent():
        pass
    """
    write_tests(pytester, "test_fn", source)
    result = run(pytester, "--zmqscope")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*_ test_uses_client _*",
            f"  s1: DEALER socket created at test_fn.py:{line_of(source, 'made')} in client()*"
            " was never closed (connected tcp://127.0.0.1:5999)",
        ]
    )


WIDER = """
import pytest
import zmq

@pytest.fixture(scope="module")
def closed_by_module():
    sock = zmq.Context.instance().socket(zmq.PUB)
    sock.bind("inproc://module-closed")
    yield sock
    sock.close()

@pytest.fixture(scope="module")
def leaked_by_module():
    sock = zmq.Context.instance().socket(zmq.PULL)  # module leak
    sock.bind("inproc://module-leaked")
    return sock

@pytest.fixture(scope="class")
def leaked_by_class():
    return zmq.Context.instance().socket(zmq.XPUB)  # class leak

class TestGroup:
    def test_one(self, leaked_by_class):
        pass

    def test_two(self, leaked_by_class):
        pass

def test_first(closed_by_module, leaked_by_module):
    pass

def test_second(closed_by_module, leaked_by_module):
    pass

def test_last_of_module():
    pass
"""


def test_class_and_module_fixtures_are_checked_when_their_scope_ends(
    pytester: pytest.Pytester,
) -> None:
    write_tests(pytester, "test_wider", WIDER)
    result = run(pytester, "--zmqscope", "-v")
    # The fixture's sockets outlive the tests that use them: only the test
    # during whose teardown the scope ended carries the failure.
    result.assert_outcomes(passed=3, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*_ TestGroup.test_two _*",
            "zmqscope: class-scoped fixture 'leaked_by_class' leaked 1 ZeroMQ socket"
            " (checked when its scope ended, during this test's teardown)",
            f"*XPUB socket created at test_wider.py:{line_of(WIDER, 'class leak')}"
            " in leaked_by_class()*",
            "*_ test_last_of_module _*",
            "zmqscope: module-scoped fixture 'leaked_by_module' leaked 1 ZeroMQ socket*",
            f"*PULL socket created at test_wider.py:{line_of(WIDER, 'module leak')}"
            " in leaked_by_module()*never closed (bound inproc://module-leaked)",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "test_wider.py::test_last_of_module (module-scoped fixture 'leaked_by_module'):"
            " PULL socket*",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "test_wider.py::TestGroup::test_one PASSED*",
            "test_wider.py::TestGroup::test_two FAILED*",
            "test_wider.py::test_first PASSED*",
            "test_wider.py::test_second PASSED*",
            "test_wider.py::test_last_of_module FAILED*",
        ]
    )
    result.stdout.no_fnmatch_line("*module-closed*")
    result.stdout.no_fnmatch_line("*_ test_first _*")


def test_a_session_fixture_leak_is_blamed_on_the_session_fixture(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeconftest(
        """
        import pytest
        import zmq

        @pytest.fixture(scope="session")
        def broker():
            sock = zmq.Context.instance().socket(zmq.ROUTER)
            sock.bind("tcp://127.0.0.1:*")
            return sock
        """
    )
    write_tests(
        pytester,
        "test_session",
        """
        def test_a(broker):
            pass

        def test_b(broker):
            pass
        """,
    )
    result = run(pytester, "--zmqscope")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*_ test_b _*",
            "zmqscope: session-scoped fixture 'broker' leaked 1 ZeroMQ socket*",
            "*ROUTER socket created at conftest.py:6 in broker()*",
        ]
    )


def test_fixture_ends_are_heard_only_while_a_wider_fixture_holds_sockets(
    pytester: pytest.Pytester,
) -> None:
    # pytest calls pytest_fixture_post_finalizer after every fixture of every
    # test: the plugin listens only while a wider fixture's sockets wait for it.
    pytester.makepyfile(
        test_a_first="""
        import pytest
        import zmq

        def listening(request):
            return request.config.pluginmanager.has_plugin("zmqscope_claims")

        def test_before_any_wider_fixture(request):
            assert not listening(request)

        @pytest.fixture(scope="module")
        def server():
            sock = zmq.Context.instance().socket(zmq.REP)
            sock.bind("inproc://claimed")
            yield sock
            sock.close()

        def test_while_the_module_fixture_holds_a_socket(request, server):
            assert listening(request)
        """,
        test_b_after="""
        def test_after_the_module_fixture_ended(request):
            assert not request.config.pluginmanager.has_plugin("zmqscope_claims")
        """,
    )
    result = run(pytester, "--zmqscope")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["zmqscope: 3 tests checked, 1 socket created, no leaks"])


def test_a_test_leaking_beside_a_wider_fixtures_open_socket_fails_alone(
    pytester: pytest.Pytester,
) -> None:
    source = """
    import pytest
    import zmq

    @pytest.fixture(scope="module")
    def server():
        sock = zmq.Context.instance().socket(zmq.REP)
        sock.bind("inproc://held")
        yield sock  # open for the whole module: the fixture's, not a leak
        sock.close()

    def test_clean(server):
        zmq.Context.instance().socket(zmq.PUSH).close()

    def test_leaks(server):
        test_leaks.kept = zmq.Context.instance().socket(zmq.PULL)  # leak
    """
    write_tests(pytester, "test_beside", source)
    result = run(pytester, "--zmqscope")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "zmqscope: 2 tests checked, 3 sockets created, 1 leak in 1 test",
            "FAILED test_beside.py::test_leaks - zmqscope: leaked PULL socket"
            f" from test_beside.py:{line_of(source, 'leak')}",
        ]
    )
