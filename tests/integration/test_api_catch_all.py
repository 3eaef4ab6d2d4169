"""Official socket.io-client against our server: catch-all listeners.

``on_any`` listeners hear every incoming event, handled or not, before per-packet
middleware; at the namespace level as ``fn(socket, event, *args)``, on a socket as
``fn(event, *args)``. ``on_any_outgoing`` hears every event emitted to one socket.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import sockio_wsgi
from tests.helpers.node import NodeClient
from tests.helpers.server import Running, serving_sio
from tests.helpers.sio_interop import Recorder, connected_sid, socket_of

pytestmark = pytest.mark.node


@pytest.fixture
def sio(record: Recorder) -> sockio_wsgi.Server:
    sio = sockio_wsgi.Server()

    @sio.on_any
    def nsp_any(socket: sockio_wsgi.Socket, event: str, *args: Any) -> None:
        record.add("nsp_any", (event, list(args)))

    @sio.on_any_outgoing
    def nsp_out(socket: sockio_wsgi.Socket, event: str, *args: Any) -> None:
        record.add("nsp_out", (event, list(args)))

    @sio.on("connect")
    def connect(socket: sockio_wsgi.Socket, auth: Any) -> None:
        socket.on_any(lambda event, *args: record.add("order", ("second", event)))
        socket.prepend_any(lambda event, *args: record.add("order", ("first", event)))
        socket.on_any(lambda event, *args: record.add("sock_any", (event, list(args))))
        socket.on_any_outgoing(lambda event, *args: record.add("sock_out", (event, list(args))))
        socket.use(lambda socket, packet: record.add("middleware", packet[0]))

    @sio.on("handled")
    def handled(socket: sockio_wsgi.Socket, n: int) -> Any:
        return n + 1

    @sio.on("quiet")
    def quiet(socket: sockio_wsgi.Socket) -> None:
        socket.off_any()
        socket.off_any_outgoing()
        sio.off_any(nsp_any)

    @sio.on("greet_me")
    def greet_me(socket: sockio_wsgi.Socket) -> Any:
        socket.emit("greeting", "hi", 1)
        return "sent"

    return sio


@pytest.fixture
def running(sio: sockio_wsgi.Server) -> Iterator[Running]:
    with serving_sio(sio) as run:
        yield run


@pytest.mark.parametrize("transports", [["polling"], ["websocket"]])
def test_on_any_hears_handled_and_unhandled_events(
    client: NodeClient, running: Running, record: Recorder, transports: list[str]
) -> None:
    client.connect(running.url, "c1", transports=transports)
    connected_sid(client, "c1")
    assert client.call("c1", "handled", 1) == [2]
    client.emit("c1", "nobody_listens", "x", {"k": 1})
    assert client.call("c1", "handled", 5) == [6]
    expected = [("handled", [1]), ("nobody_listens", ["x", {"k": 1}]), ("handled", [5])]
    assert record.values("nsp_any") == expected
    assert record.values("sock_any") == expected
    # prepend_any puts a listener first; catch-alls run before packet middleware
    assert record.values("order")[:2] == [("first", "handled"), ("second", "handled")]
    kinds = [kind for kind, _ in record.items if kind in ("sock_any", "middleware")]
    assert kinds[:2] == ["sock_any", "middleware"]


def test_off_any_removes_listeners(
    client: NodeClient, running: Running, sio: sockio_wsgi.Server, record: Recorder
) -> None:
    client.connect(running.url, "c1", transports=["websocket"])
    sid = connected_sid(client, "c1")
    assert client.call("c1", "quiet") == []
    client.emit("c1", "after", 1)
    assert client.call("c1", "handled", 1) == [2]
    assert [event for event, _ in record.values("nsp_any")] == ["quiet"]
    assert [event for event, _ in record.values("sock_any")] == ["quiet"]
    socket_of(sio, sid).emit("silent")
    assert client.wait_for("event", id="c1", event="silent")
    assert record.values("sock_out") == []
    assert record.values("nsp_out") == [("silent", [])]


def test_on_any_outgoing_hears_emits_to_the_socket(
    client: NodeClient, running: Running, sio: sockio_wsgi.Server, record: Recorder
) -> None:
    client.connect(running.url, "c1", transports=["websocket"])
    sid = connected_sid(client, "c1")
    assert client.call("c1", "greet_me") == ["sent"]
    assert client.wait_for("event", id="c1", event="greeting")["args"] == ["hi", 1]
    client.auto_ack("c1", "ask", ["yes"])
    assert socket_of(sio, sid).emit_with_ack("ask", 2, timeout=5) == "yes"
    assert record.values("sock_out") == [("greeting", ["hi", 1]), ("ask", [2])]
    assert record.values("nsp_out") == [("greeting", ["hi", 1]), ("ask", [2])]
    # broadcasts are encoded once for every recipient: no per-socket outgoing call
    sio.emit("to_all", 3)
    assert client.wait_for("event", id="c1", event="to_all")["args"] == [3]
    assert len(record.values("sock_out")) == 2


def test_a_failing_listener_does_not_stop_the_event(
    client: NodeClient, running: Running, sio: sockio_wsgi.Server
) -> None:
    @sio.prepend_any
    def broken(socket: sockio_wsgi.Socket, event: str, *args: Any) -> None:
        raise RuntimeError("listener bug")

    client.connect(running.url, "c1", transports=["websocket"])
    connected_sid(client, "c1")
    assert client.call("c1", "handled", 1) == [2]
