"""Official socket.io-client against our server: connection and per-packet middleware.

``sio.use(fn)`` runs ``fn(socket, auth)`` in order before the socket joins (before the
``connect`` handler); ``socket.use(fn)`` runs ``fn(socket, [event, *args])`` before each
event's handler. That an event was dropped is shown with ``barrier``-like later calls:
one socket's events run in order.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

import sockio_wsgi
from tests.helpers.node import NodeClient
from tests.helpers.server import Running, serving_sio
from tests.helpers.sio_interop import Recorder, connected_sid

pytestmark = pytest.mark.node


@pytest.fixture
def sio(record: Recorder) -> sockio_wsgi.Server:
    sio = sockio_wsgi.Server()

    @sio.use
    def first(socket: sockio_wsgi.Socket, auth: Any) -> None:
        record.add("mw", ("first", socket.nsp))
        socket.data["user"] = (auth or {}).get("user")

    def second(socket: sockio_wsgi.Socket, auth: Any) -> None:
        record.add("mw", ("second", socket.nsp))
        auth = auth or {}
        if auth.get("refuse"):
            raise sockio_wsgi.ConnectionRefusedError("not authorized", {"need": "token"})
        if auth.get("crash"):
            raise RuntimeError("middleware bug")

    sio.use(second)

    @sio.on("connect")
    def connect(socket: sockio_wsgi.Socket, auth: Any) -> None:
        record.add("connect", (socket.id, socket.data.get("user")))

        def guard(socket: sockio_wsgi.Socket, packet: list[Any]) -> None:
            record.add("guard", list(packet))
            if packet[0] == "forbidden":
                raise ValueError("not allowed")
            if packet[0] == "shout":
                packet[1:] = [str(arg).upper() for arg in packet[1:]]

        socket.use(guard)

    @sio.on("whoami")
    def whoami(socket: sockio_wsgi.Socket) -> Any:
        return socket.data["user"]

    @sio.on("forbidden")
    def forbidden(socket: sockio_wsgi.Socket) -> Any:
        record.add("forbidden ran")
        return "should not happen"

    @sio.on("shout")
    def shout(socket: sockio_wsgi.Socket, *words: str) -> Any:
        return list(words)

    @sio.on("error")
    def error(socket: sockio_wsgi.Socket, exc: Exception) -> None:
        record.add("error", (socket.id, type(exc).__name__, str(exc)))
        socket.emit("refused", str(exc))

    other = sio.of("/other")

    @other.use
    def other_only(socket: sockio_wsgi.Socket, auth: Any) -> None:
        record.add("mw", ("other_only", socket.nsp))

    return sio


@pytest.fixture
def running(sio: sockio_wsgi.Server) -> Iterator[Running]:
    with serving_sio(sio) as run:
        yield run


@pytest.mark.parametrize("transports", [["polling"], ["websocket"]])
def test_middleware_runs_in_order_before_connect_and_sets_data(
    client: NodeClient, running: Running, record: Recorder, transports: list[str]
) -> None:
    client.connect(running.url, "c1", auth={"user": "ada"}, transports=transports)
    sid = connected_sid(client, "c1")
    assert record.wait("connect") == (sid, "ada")
    kinds = [kind for kind, _ in record.items]
    assert kinds == ["mw", "mw", "connect"]
    assert record.values("mw") == [("first", "/"), ("second", "/")]
    assert client.call("c1", "whoami") == ["ada"]


@pytest.mark.parametrize("transports", [["polling"], ["websocket"]])
def test_middleware_refusal_reaches_the_client_with_data(
    client: NodeClient,
    running: Running,
    sio: sockio_wsgi.Server,
    record: Recorder,
    transports: list[str],
) -> None:
    client.connect(
        running.url, "c1", auth={"refuse": True}, transports=transports, reconnection=False
    )
    error = client.wait_for("connect_error", id="c1")
    assert error["message"] == "not authorized"
    assert error["data"] == {"need": "token"}
    assert record.values("connect") == []
    assert sio.of("/").sockets == {}
    assert sio.of("/").adapter.sids == {}  # type: ignore[attr-defined]
    # the refused client may try again on the same connection
    client.connect(running.url, "c2", auth={"user": "bob"}, transports=transports)
    assert record.wait("connect")[1] == "bob"


def test_a_failing_middleware_refuses_and_is_logged(
    client: NodeClient,
    running: Running,
    record: Recorder,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR, logger="sockio_wsgi"):
        client.connect(running.url, "c1", auth={"crash": True}, reconnection=False)
        assert client.wait_for("connect_error", id="c1")["message"] == (
            "Connection rejected by server"
        )
    failures = [r for r in caplog.records if "middleware" in r.getMessage()]
    assert failures and failures[0].exc_info is not None
    assert "second" in failures[0].getMessage()
    client.connect(running.url, "c2", forceNew=True)
    connected_sid(client, "c2")


def test_each_namespace_runs_only_its_own_middleware(
    client: NodeClient, running: Running, record: Recorder
) -> None:
    client.connect(running.url, "o", nsp="/other")
    connected_sid(client, "o")
    assert record.values("mw") == [("other_only", "/other")]


@pytest.mark.parametrize("transports", [["polling"], ["websocket"]])
def test_packet_middleware_drops_an_event_and_reports_it(
    client: NodeClient, running: Running, record: Recorder, transports: list[str]
) -> None:
    client.connect(running.url, "c1", transports=transports)
    sid = connected_sid(client, "c1")
    client.emit("c1", "forbidden", 1, ack=True, timeout_ms=5000)
    assert record.wait("error") == (sid, "ValueError", "not allowed")
    assert client.wait_for("event", id="c1", event="refused")["args"] == ["not allowed"]
    # the connection lives on; the dropped event never reached its handler
    assert client.call("c1", "whoami") == []  # None: an ack without arguments
    assert record.values("forbidden ran") == []
    assert record.values("guard") == [["forbidden", 1], ["whoami"]]
    assert client.state("c1")["connected"] is True


def test_packet_middleware_may_rewrite_arguments(client: NodeClient, running: Running) -> None:
    client.connect(running.url, "c1", transports=["websocket"])
    connected_sid(client, "c1")
    assert client.call("c1", "shout", "hi", "there") == [["HI", "THERE"]]


def test_without_an_error_handler_a_dropped_event_is_only_logged(
    client: NodeClient, running: Running, sio: sockio_wsgi.Server, record: Recorder
) -> None:
    del sio.of("/").handlers["error"]
    client.connect(running.url, "c1", transports=["websocket"])
    connected_sid(client, "c1")
    client.emit("c1", "forbidden")
    assert client.call("c1", "whoami") == []  # None: an ack without arguments
    assert record.values("error") == [] and record.values("forbidden ran") == []
