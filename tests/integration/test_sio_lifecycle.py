"""Official socket.io-client (and raw Engine.IO polling) against our server: disconnect
reasons on both sides, connect timeout, ping timeout, shutdown, reconnection to a
restarted server, and bad Socket.IO input."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import gevent
import pytest

import sockio_wsgi
from tests.helpers.node import NodeClient
from tests.helpers.server import Running, serving_sio
from tests.helpers.sio_interop import RawPolling, Recorder, connected_sid

pytestmark = pytest.mark.node


def make_sio(record: Recorder, **kwargs: Any) -> sockio_wsgi.Server:
    sio = sockio_wsgi.Server(**kwargs)

    @sio.on("connect")
    def connect(socket: sockio_wsgi.Socket, auth: Any) -> None:
        record.add("connect", socket.id)

    @sio.on("disconnect")
    def disconnect(socket: sockio_wsgi.Socket, reason: str) -> None:
        record.add("disconnect", (socket.id, reason))

    @sio.on("echo")
    def echo(socket: sockio_wsgi.Socket, *args: Any) -> Any:
        return args

    @sio.on("kick_me")
    def kick_me(socket: sockio_wsgi.Socket, close: bool) -> None:
        socket.disconnect(close=close)

    @sio.on("disconnect", namespace="/chat")
    def chat_disconnect(socket: sockio_wsgi.Socket, reason: str) -> None:
        record.add("disconnect", (socket.id, reason))

    return sio


@pytest.fixture
def sio(record: Recorder) -> sockio_wsgi.Server:
    return make_sio(record)


@pytest.fixture
def running(sio: sockio_wsgi.Server) -> Iterator[Running]:
    with serving_sio(sio) as run:
        yield run


def reason_of(record: Recorder, sid: str) -> str:
    _, reason = record.wait("disconnect", lambda v: v[0] == sid)
    return str(reason)


TRANSPORTS = [["polling"], ["websocket"]]


@pytest.mark.parametrize("transports", TRANSPORTS, ids=["polling", "websocket"])
def test_server_disconnects_socket(
    client: NodeClient, running: Running, record: Recorder, transports: list[str]
) -> None:
    client.connect(running.url, "c1", transports=transports)
    sid = connected_sid(client, "c1")
    client.emit("c1", "kick_me", False)
    assert client.wait_for("disconnect", id="c1")["reason"] == "io server disconnect"
    assert reason_of(record, sid) == "server namespace disconnect"
    # "io server disconnect" is final for the client: it does not reconnect by itself
    assert client.state("c1")["connected"] is False
    client.open("c1")
    assert connected_sid(client, "c1") != sid


@pytest.mark.parametrize(
    "transports",
    [["polling"], ["websocket"]],
    ids=["polling", "websocket"],
)
def test_server_closes_connection(
    client: NodeClient, running: Running, record: Recorder, transports: list[str]
) -> None:
    """``disconnect(close=True)`` as in socket.io: every socket of the connection is told
    (DISCONNECT, so the client does not reconnect), then the connection closes."""
    client.connect(running.url, "c1", transports=transports)
    client.connect(running.url, "chat", nsp="/chat", transports=transports)
    sid = connected_sid(client, "c1")
    chat_sid = connected_sid(client, "chat")
    client.emit("c1", "kick_me", True)
    assert reason_of(record, sid) == "server namespace disconnect"
    assert reason_of(record, chat_sid) == "server namespace disconnect"
    for id in ("c1", "chat"):
        assert client.wait_for("disconnect", id=id)["reason"] == "io server disconnect"
    # "io server disconnect" is the reason after which socket.io-client does not reconnect
    assert client.state("c1")["connected"] is False


@pytest.mark.parametrize("transports", TRANSPORTS, ids=["polling", "websocket"])
def test_client_disconnects(
    client: NodeClient, running: Running, record: Recorder, transports: list[str]
) -> None:
    client.connect(running.url, "c1", transports=transports)
    sid = connected_sid(client, "c1")
    client.disconnect("c1")
    assert client.wait_for("disconnect", id="c1")["reason"] == "io client disconnect"
    assert reason_of(record, sid) == "client namespace disconnect"


@pytest.mark.parametrize("transports", TRANSPORTS, ids=["polling", "websocket"])
def test_client_transport_closes(
    client: NodeClient, running: Running, record: Recorder, transports: list[str]
) -> None:
    client.connect(running.url, "c1", transports=transports, reconnection=False)
    sid = connected_sid(client, "c1")
    client.drop("c1")
    assert client.wait_for("disconnect", id="c1")["reason"] in (
        "transport close",
        "forced close",
    )
    assert reason_of(record, sid) == "transport close"


def test_ping_timeout_of_a_silent_client(record: Recorder) -> None:
    sio = make_sio(record, ping_interval=0.3, ping_timeout=0.2)
    with serving_sio(sio) as running:
        raw = RawPolling(running.port)
        handshake = raw.open()
        assert handshake["pingInterval"] == 300 and handshake["pingTimeout"] == 200
        assert raw.post("40") == (200, "ok")
        (connect_reply,) = raw.poll()
        assert connect_reply.startswith("40{")
        sid = record.wait("connect")
        # never answer the server's PING: the session ends with "ping timeout"
        assert reason_of(record, sid) == "ping timeout"
        assert sio.clients == {}


def test_server_shutdown(client: NodeClient, record: Recorder) -> None:
    sio = make_sio(record)
    with serving_sio(sio) as running:
        client.connect(running.url, "ws", transports=["websocket"], reconnection=False)
        client.connect(
            running.url, "poll", transports=["polling"], reconnection=False, forceNew=True
        )
        sids = [connected_sid(client, "ws"), connected_sid(client, "poll")]
        sio.close()
        for sid in sids:
            assert reason_of(record, sid) == "server shutting down"
        assert client.wait_for("disconnect", id="ws")["reason"] == "transport close"
        # Polling: "transport close" when a GET was pending and got the CLOSE packet;
        # "transport error" when the engine forgot the sid before the next GET arrived.
        assert client.wait_for("disconnect", id="poll")["reason"] in (
            "transport close",
            "transport error",
        )


def test_connect_timeout_closes_a_session_without_connect(record: Recorder) -> None:
    sio = make_sio(record, connect_timeout=0.5)
    with NodeClient() as client, serving_sio(sio) as running:
        raw = RawPolling(running.port)
        raw.open()
        assert raw.sid in sio.clients
        # a well-behaved client on the same server is not affected
        client.connect(running.url, "c1", transports=["websocket"])
        connected_sid(client, "c1")
        packets = raw.poll_until_closed(timeout=5)
        assert packets in (["1"], ["400"])
        assert raw.sid not in sio.clients and raw.sid not in sio.eio.sockets
        status, _ = raw.request("GET")
        assert status == 400
        assert record.values("disconnect") == []
        assert client.call("c1", "echo", "ok") == ["ok"]


def test_connect_timeout_spares_connected_sessions(record: Recorder) -> None:
    sio = make_sio(record, connect_timeout=0.3)
    with NodeClient() as client, serving_sio(sio) as running:
        client.connect(running.url, "c1", transports=["polling"])
        connected_sid(client, "c1")
        # a second session that never connects acts as the clock: once it is closed,
        # the first session's own deadline has long passed
        raw = RawPolling(running.port)
        raw.open()
        raw.poll_until_closed(timeout=5)
        assert client.call("c1", "echo", "still") == ["still"]
        assert client.state("c1")["connected"] is True


def test_connect_timeout_closes_a_session_whose_connects_were_refused(
    record: Recorder,
) -> None:
    """Refused CONNECTs do not count as joining: the session still times out."""
    sio = make_sio(record, connect_timeout=0.5)

    @sio.on("connect", namespace="/closed")
    def refuse(socket: sockio_wsgi.Socket, auth: Any) -> None:
        raise sockio_wsgi.ConnectionRefusedError("closed", {"why": "test"})

    with serving_sio(sio) as running:
        raw = RawPolling(running.port)
        raw.open()
        raw.post("40/closed,")
        (refusal,) = raw.poll()
        assert refusal.startswith("44/closed,") and '"why":"test"' in refusal.replace(" ", "")
        raw.post("40/nowhere,")
        (invalid,) = raw.poll()
        assert invalid.startswith("44/nowhere,") and "Invalid namespace" in invalid
        assert raw.poll_until_closed(timeout=5)[-1] in ("1", "400")
        assert raw.sid not in sio.clients


def test_emit_with_ack_on_a_disconnected_socket_fails_at_once(
    client: NodeClient, running: Running, sio: sockio_wsgi.Server, record: Recorder
) -> None:
    client.connect(running.url, "c1", transports=["websocket"])
    sid = connected_sid(client, "c1")
    socket = sio.get_socket(sid)
    assert socket is not None
    client.disconnect("c1")
    reason_of(record, sid)
    with gevent.Timeout(5), pytest.raises(sockio_wsgi.DisconnectedError):
        socket.emit_with_ack("anyone", timeout=None)
    socket.emit("ignored")  # a plain emit to a gone socket is dropped silently


def test_reconnect_after_server_restart(record: Recorder) -> None:
    sio = make_sio(record)
    server = sockio_wsgi.make_server(sockio_wsgi.WSGIApp(sio), "127.0.0.1", 0)
    server.start()
    port = server.server_port
    with NodeClient() as client:
        try:
            client.connect(
                f"http://127.0.0.1:{port}",
                "c1",
                reconnectionDelay=50,
                reconnectionDelayMax=100,
                randomizationFactor=0,
            )
            first = connected_sid(client, "c1")
            assert client.call("c1", "echo", 1) == [1]
        finally:
            sio.close()
            server.stop(timeout=2)
        assert client.wait_for("disconnect", id="c1")["reason"] == "transport close"

        record2 = Recorder()
        sio2 = make_sio(record2)
        server2 = sockio_wsgi.make_server(sockio_wsgi.WSGIApp(sio2), "127.0.0.1", port)
        server2.start()
        try:
            client.wait_for("reconnect", id="c1", timeout=10)
            second = connected_sid(client, "c1")
            assert second != first and record2.wait("connect") == second
            assert client.call("c1", "echo", 2) == [2]
        finally:
            sio2.close()
            server2.stop(timeout=2)


# Socket.IO packets (the Engine.IO MESSAGE prefix "4" is added when sending; a binary
# attachment follows as an Engine.IO "b" packet of the same payload).
BAD_PACKETS = {
    "broken json": '2["event", {',
    "trailing garbage": '2["event"]xyz',
    "unknown type": "9",
    "event without name": "2[]",
    "event payload not a list": '2"text"',
    "reserved event name": '2["connect"]',
    "attachment count missing": '5["x"]',
    "placeholder out of range": '51-["x",{"_placeholder":true,"num":3}]\x1ebAA==',
    "ack without args": "31",
    "connect payload not an object": '0/chat,"token"',
    "disconnect with payload": "1{}",
    "connect error from client": '4{"message":"no"}',
}


@pytest.mark.parametrize("packet", BAD_PACKETS.values(), ids=BAD_PACKETS.keys())
def test_malformed_socketio_packet_closes_only_that_session(
    client: NodeClient, running: Running, sio: sockio_wsgi.Server, record: Recorder, packet: str
) -> None:
    client.connect(running.url, "good", transports=["polling"])
    good = connected_sid(client, "good")

    raw = RawPolling(running.port)
    raw.open()
    raw.post("40")
    (reply,) = raw.poll()
    assert reply.startswith("40{")
    bad = record.wait("connect", lambda sid: sid != good)
    raw.post("4" + packet)
    assert raw.poll_until_closed(timeout=5)[-1] in ("1", "400")
    assert reason_of(record, bad) == "parse error"
    assert raw.sid not in sio.clients

    assert client.call("good", "echo", "fine") == ["fine"]
    assert client.state("good")["connected"] is True
    assert sio.get_socket(good) is not None


def test_binary_attachment_without_a_pending_packet_closes_session(
    client: NodeClient, running: Running, sio: sockio_wsgi.Server, record: Recorder
) -> None:
    client.connect(running.url, "good", transports=["websocket"])
    good = connected_sid(client, "good")
    raw = RawPolling(running.port)
    raw.open()
    raw.post("40")
    raw.poll()
    bad = record.wait("connect", lambda sid: sid != good)
    raw.post("bAQID")  # a binary message while no packet awaits attachments
    raw.poll_until_closed(timeout=5)
    assert reason_of(record, bad) == "parse error"
    assert client.call("good", "echo", b"\x01") == [b"\x01"]
