"""Official socket.io-client against our server: handler ordering and concurrency.

Events of one socket run one after another, in arrival order, in the socket's own
greenlet; a handler blocked in ``emit_with_ack`` to the same client does not stop the
connection from routing acks, and does not stall other sockets.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import gevent.event
import pytest

import sockio_wsgi
from tests.helpers.node import NodeClient
from tests.helpers.server import Running, serving_sio
from tests.helpers.sio_interop import Recorder, connected_sid

pytestmark = pytest.mark.node

TRANSPORTS = [["polling"], ["websocket"]]


@pytest.fixture
def sio(record: Recorder) -> sockio_wsgi.Server:
    sio = sockio_wsgi.Server()

    @sio.on("seq")
    def seq(socket: sockio_wsgi.Socket, n: int, hold: bool = False) -> None:
        record.add("seq", n)
        if hold:
            record.add("held", socket.emit_with_ack("hold", n, timeout=5))

    @sio.on("echo")
    def echo(socket: sockio_wsgi.Socket, *args: Any) -> Any:
        return args

    @sio.on("ask_twice")
    def ask_twice(socket: sockio_wsgi.Socket) -> Any:
        first = socket.emit_with_ack("q", 1, timeout=5)
        second = socket.emit_with_ack("q", 2, timeout=5)
        return [first, second]

    @sio.on("wait_forever")
    def wait_forever(socket: sockio_wsgi.Socket) -> None:
        try:
            socket.emit_with_ack("never_answered", timeout=5)
        except sockio_wsgi.DisconnectedError as exc:
            record.add("disconnected_error", str(exc))

    @sio.on("disconnect")
    def disconnect(socket: sockio_wsgi.Socket, reason: str) -> None:
        record.add("disconnect", reason)

    marker = sio.of("/marker")

    @marker.on("mark")
    def mark(socket: sockio_wsgi.Socket) -> None:
        record.add("mark")

    return sio


@pytest.fixture
def running(sio: sockio_wsgi.Server) -> Iterator[Running]:
    with serving_sio(sio) as run:
        yield run


@pytest.mark.parametrize("transports", TRANSPORTS, ids=["polling", "websocket"])
def test_events_run_in_order_and_acks_route_while_a_handler_blocks(
    client: NodeClient,
    running: Running,
    sio: sockio_wsgi.Server,
    record: Recorder,
    transports: list[str],
) -> None:
    client.connect(running.url, "main", transports=transports, any=False)
    client.connect(running.url, "marker", nsp="/marker", transports=transports)
    client.on("main", "hold")
    sid = connected_sid(client, "main")
    connected_sid(client, "marker")
    socket = sio.get_socket(sid)
    assert socket is not None

    client.emit("main", "seq", 1, True)  # blocks its handler until the client acks "hold"
    for n in range(2, 21):
        client.emit("main", "seq", n)
    # Same connection, later packet: once "mark" ran, events 2..20 have reached the
    # server and wait behind the blocked handler.
    client.emit("marker", "mark")
    hold = client.wait_for("event", id="main", event="hold")
    assert hold["args"] == [1]
    record.wait("mark")
    assert record.values("seq") == [1]

    # The reader still routes acks to this socket while its handler greenlet blocks.
    client.auto_ack("main", "other", ["routed"])
    replies: gevent.event.AsyncResult = gevent.event.AsyncResult()
    socket.emit("other", callback=lambda *args: replies.set(args))
    assert replies.get(timeout=5) == ("routed",)
    assert socket.emit_with_ack("other", timeout=5) == "routed"
    assert record.values("seq") == [1]

    client.ack_reply("main", hold["ack_ref"], "go")
    record.wait("seq", lambda n: n == 20)
    assert record.values("held") == ["go"]
    assert record.values("seq") == list(range(1, 21))


def test_other_sockets_are_not_stalled(
    client: NodeClient, running: Running, record: Recorder
) -> None:
    client.connect(running.url, "blocked", transports=["websocket"])
    client.connect(running.url, "free", transports=["websocket"], forceNew=True)
    connected_sid(client, "blocked")
    connected_sid(client, "free")
    client.emit("blocked", "seq", 1, True)
    hold = client.wait_for("event", id="blocked", event="hold")
    assert client.call("free", "echo", "not stalled") == ["not stalled"]
    client.ack_reply("blocked", hold["ack_ref"], "done")
    assert record.wait("held") == "done"


def test_sequential_emit_with_ack_in_one_handler(client: NodeClient, running: Running) -> None:
    client.connect(running.url, "c1", transports=["polling"])
    connected_sid(client, "c1")
    client.auto_ack("c1", "q", "echo")
    assert client.call("c1", "ask_twice") == [[1, 2]]


def test_disconnect_wakes_a_pending_emit_with_ack(
    client: NodeClient, running: Running, record: Recorder
) -> None:
    client.connect(running.url, "c1", transports=["websocket"])
    connected_sid(client, "c1")
    client.emit("c1", "wait_forever")
    client.wait_for("event", id="c1", event="never_answered")
    client.disconnect("c1")
    assert "client namespace disconnect" in record.wait("disconnected_error")
    assert record.wait("disconnect") == "client namespace disconnect"
    # the disconnect handler ran after the blocked handler finished, not alongside it
    kinds = [kind for kind, _ in record.items]
    assert kinds.index("disconnected_error") < kinds.index("disconnect")


def test_a_failing_handler_does_not_break_the_socket(
    client: NodeClient, running: Running, sio: sockio_wsgi.Server
) -> None:
    @sio.on("boom")
    def boom(socket: sockio_wsgi.Socket) -> None:
        raise RuntimeError("handler bug")

    client.connect(running.url, "c1", transports=["websocket"])
    connected_sid(client, "c1")
    # no ack for a failed handler (as in socket.io): the client's own timeout fires
    with pytest.raises(TimeoutError):
        client.call("c1", "boom", timeout=0.3)
    assert client.call("c1", "echo", "after") == ["after"]
    assert client.state("c1")["connected"] is True


@pytest.mark.parametrize("transports", TRANSPORTS, ids=["polling", "websocket"])
def test_sleep_in_a_handler_keeps_the_connection_read(transports: list[str]) -> None:
    """``sio.sleep`` hands reading over: an ack the client sends meanwhile is routed."""
    sio = sockio_wsgi.Server()
    woke = gevent.event.Event()
    acked: list[Any] = []

    @sio.on("nap")
    def nap(socket: sockio_wsgi.Socket) -> str:
        socket.emit("poke", callback=lambda *reply: acked.append(reply))
        while not acked and not woke.is_set():
            sio.sleep(0.01)  # a handler that polls for something the reader delivers
        return "rested" if acked else "starved"

    with serving_sio(sio) as running, NodeClient() as client:
        client.connect(running.url, "c1", transports=transports)
        client.wait_for("connect", id="c1")
        client.auto_ack("c1", "poke", ["here"])
        try:
            assert client.call("c1", "nap", timeout=5) == ["rested"]
        finally:
            woke.set()
    assert acked == [("here",)]
