"""A hostile server cannot crash a client: what it sends is checked as a saved report is.

The server here is a ROUTER on loopback tcp that answers every request with a
reply a zmqscope server would send, with one value made hostile: NaN or
Infinity (which Python's JSON writer and reader both take), 1e308 as a time,
integers past 2**64, a megabyte name, threads started by threads 200 deep.
Every request then fails with :class:`ClientError` and one line, never
another exception; the TUI on such a server says the connection is lost and
stays up.
"""

from __future__ import annotations

import asyncio
import copy
import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import zmq

from tests.helpers.hostile import NOW, honest_data
from zmqscope import _own_context
from zmqscope.model._base import MAX_TEXT
from zmqscope.remote.client import ClientError, LiveClient
from zmqscope.remote.protocol import VERSION

pytestmark = pytest.mark.timeout(60)

Reply = dict[str, Any]


def nested_starts(depth: int) -> list[Any]:
    """A compact thread ``[id, name, started]`` whose start sites nest ``depth`` deep."""
    thread: list[Any] = [1, "t"]
    for _ in range(depth):
        thread = [1, "t", [NOW, thread, [], None, False]]
    return thread


def at(path: tuple[Any, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    """A change that puts ``value`` at ``path`` in a request's data."""

    def change(data: dict[str, Any]) -> None:
        target: Any = data
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return change


NAN, INF, HUGE = float("nan"), float("inf"), 1e308
# (request, change): each makes the server's answer to ``request`` hostile.
HOSTILE = {
    "hello started NaN": ("hello", at(("started",), NAN)),
    "hello open_sockets Infinity": ("hello", at(("open_sockets",), INF)),
    "hello pid past 2**64": ("hello", at(("pid",), 2**70)),
    "snapshot taken_at 1e308": ("snapshot", at(("taken_at",), HUGE)),
    "snapshot generation Infinity": ("snapshot", at(("generation",), INF)),
    "snapshot created_total -1": ("snapshot", at(("created_total",), -1)),
    "socket created at NaN": ("snapshot", at(("sockets", 0, 4, 0), NAN)),
    "frame line Infinity": ("snapshot", at(("frames", 0, 1), INF)),
    "frame file a megabyte": ("snapshot", at(("frames", 0, 0), "x" * (MAX_TEXT + 1))),
    "traffic count Infinity": ("snapshot", at(("traffic", "s1", 0), INF)),
    "traffic time 1e308": ("snapshot", at(("traffic", "s1", 6), HUGE)),
    "thread starts 200 deep": ("snapshot", at(("sockets", 0, 4, 1), nested_starts(200))),
    "stats started Infinity": ("snapshot", at(("stats", "started"), INF)),
    "context blocked since NaN": ("snapshot", at(("contexts", 0, "term_blocked_since"), NAN)),
    "report generated in 9999": ("report", at(("generated_at",), "9999-12-31T23:59:59Z")),
    "report time 1e308": ("report", at(("sockets", 0, "created", "time"), HUGE)),
    "thread name a megabyte": ("threads", at((0, "name"), "x" * (MAX_TEXT + 1))),
    "event time NaN": ("events", at(("events", 0, "time"), NAN)),
    "events cursor Infinity": ("events", at(("cursor",), INF)),
}


@contextmanager
def hostile_server(request: str, change: Callable[[dict[str, Any]], None]) -> Iterator[str]:
    """A server on loopback tcp; its endpoint.

    It answers as a zmqscope server would, but from the second ``request`` on
    with ``change`` made to the data: the first answer shows the client reads
    the honest one.
    """
    honest = honest_data()
    ctx = _own_context.private_context()
    router = ctx.socket(zmq.ROUTER)
    router.linger = 0
    port = router.bind_to_random_port("tcp://127.0.0.1")
    stop = threading.Event()
    asked: Counter[str] = Counter()

    def serve() -> None:
        while not stop.is_set():
            if not router.poll(50):
                continue
            peer, payload = router.recv_multipart()
            message = json.loads(payload)
            kind = message["type"]
            data = copy.deepcopy(honest[kind])
            if kind == request and asked[kind]:
                change(data)
            asked[kind] += 1
            reply = {"v": VERSION, "type": f"{kind}.reply", "id": message["id"], "data": data}
            router.send_multipart([peer, json.dumps(reply).encode()])  # NaN/Infinity as is

    thread = threading.Thread(target=serve, name="hostile-server", daemon=True)
    thread.start()
    try:
        yield f"tcp://127.0.0.1:{port}"
    finally:
        stop.set()
        thread.join(timeout=10)
        router.close()
        _own_context.term_private_context(ctx)


def ask(client: LiveClient, request: str) -> Any:
    if request == "snapshot":
        return client.snapshot()
    if request == "events":
        return client.events()
    return getattr(client, request)()


@pytest.mark.parametrize("case", list(HOSTILE))
def test_a_hostile_answer_is_a_client_error_of_one_line(case: str) -> None:
    request, change = HOSTILE[case]
    with hostile_server(request, change) as endpoint:
        client = LiveClient(endpoint, timeout=10)
        try:
            ask(client, request)  # the honest answer reads
            with pytest.raises(ClientError) as refused:
                ask(client, request)
        finally:
            client.close()
    message = str(refused.value)
    assert message.startswith(endpoint), message
    assert "\n" not in message and len(message) < 500, message


def test_the_tui_on_a_hostile_server_says_the_connection_is_lost_and_stays_up() -> None:
    from tests.helpers.tui import RecordingScopeApp, settle

    async def attach(client: LiveClient) -> tuple[str, list[str]]:
        app = RecordingScopeApp(client, interval=3600.0)
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            connection = app.header.connection
            assert app.is_running
        return connection, app.notes

    request, change = HOSTILE["snapshot taken_at 1e308"]
    with hostile_server(request, change) as endpoint:
        client = LiveClient(endpoint, timeout=10)
        try:
            client.snapshot()  # the honest answer: the app's first fetch gets the hostile one
            connection, notes = asyncio.run(attach(client))
        finally:
            client.close()
    assert connection == "connection lost"
    assert notes == [
        f"{endpoint} sent a malformed snapshot (taken_at is not a time between 1970 and 3000)"
    ]
