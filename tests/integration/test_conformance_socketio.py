"""Socket.IO v5 conformance: every case the Socket.IO protocol's reference test suite checks.

The server is set up as that suite expects: pingInterval 300 ms, pingTimeout 200 ms,
maxPayload 1e6, connect timeout 1 s; a socket that connects (to "/" or "/custom") is sent
``auth`` with its handshake's auth payload, ``message`` is echoed back as ``message-back``
and ``message-with-ack`` is acknowledged with its own arguments. The clients are raw
WebSocket and polling ones, so what is checked is the exact text on the wire.

The suite's first half repeats the Engine.IO cases against this Socket.IO server at
``/socket.io/``; they run here against it (``test_engine_*``). Cases other tests already
check are listed and not repeated:

=====================================================  ==========================================
case                                                   test
=====================================================  ==========================================
connect to "/" or "/custom", with or without auth:     test_connect_replies_with_sid_only
``40[/nsp,]{"sid"}``, then the ``auth`` event
connect to an unknown namespace: exact CONNECT_ERROR   test_unknown_namespace_connect_error
invalid first packet closes the connection             test_malformed_packets_close_the_connection
no CONNECT within connect timeout closes it            test_no_connect_within_connect_timeout;
                                                       test_sio_lifecycle.py::test_connect_timeout_
                                                       closes_a_session_without_connect (polling)
DISCONNECT from "/" keeps the connection open          test_disconnect_from_main_namespace_keeps_
                                                       the_connection
connect then DISCONNECT "/custom"; "/" goes on         test_sio_namespaces.py::
                                                       test_two_namespaces_share_one_connection
EVENT echoed, plain text                               test_event_and_ack_wire_format
EVENT with binary attachments echoed                   test_binary_event_and_ack_wire_format
EVENT with an ack id, acknowledged                     test_event_and_ack_wire_format
binary EVENT with an ack id, BINARY_ACK                test_binary_event_and_ack_wire_format
unknown packet type closes the connection              test_malformed_packets_close_the_connection;
                                                       test_sio_lifecycle.py::test_malformed_
                                                       socketio_packet_closes_only_that_session
EVENT payload not an array closes the connection       test_malformed_packets_close_the_connection;
                                                       test_sio_lifecycle.py (as above)
invalid ack id closes the connection                   test_malformed_packets_close_the_connection
=====================================================  ==========================================
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import gevent
import pytest

import sockio_wsgi
from tests.helpers.raw import (
    SUITE_OPTIONS,
    Polling,
    RawWebSocket,
    WebSocketClosed,
    assert_bad_handshakes_refused,
    assert_gone_after_ping_deadline,
    assert_suite_handshake,
    assert_upgraded_sid_refuses_polling_and_websockets,
    eio_target,
    parse_open,
    probe_websocket,
    wait_polling,
)
from tests.helpers.server import serving_sio

PATH = "/socket.io/"


@dataclass
class Served:
    sio: sockio_wsgi.Server
    address: tuple[str, int]

    def polling(self) -> Polling:
        client = Polling(self.address, PATH)
        client.open()
        return client

    def websocket(self) -> RawWebSocket:
        """A WebSocket-only Engine.IO session whose OPEN packet was read."""
        ws = RawWebSocket.connect(self.address, eio_target(PATH, transport="websocket"))
        parse_open(str(ws.recv()))
        return ws

    def connected(self) -> RawWebSocket:
        """A WebSocket connected to "/" (the CONNECT reply and ``auth`` event read)."""
        ws = self.websocket()
        assert_connects(ws)
        assert ws.recv_answering_pings() == '42["auth",{}]'
        return ws


def assert_connects(ws: RawWebSocket) -> None:
    """A CONNECT to "/" over ``ws`` is accepted."""
    ws.send("40")
    assert str(ws.recv_answering_pings()).startswith("40{")


def suite_server() -> sockio_wsgi.Server:
    sio = sockio_wsgi.Server(connect_timeout=1, **SUITE_OPTIONS)

    def send_auth(socket: sockio_wsgi.Socket, auth: Any) -> None:
        socket.emit("auth", socket.handshake.auth)

    sio.on("connect", send_auth)
    sio.on("connect", send_auth, namespace="/custom")

    @sio.on("message")
    def message(socket: sockio_wsgi.Socket, *args: Any) -> None:
        socket.emit("message-back", *args)

    @sio.on("message-with-ack")
    def message_with_ack(socket: sockio_wsgi.Socket, *args: Any) -> tuple[Any, ...]:
        return args

    return sio


def assert_closed_before_any_timeout(ws: RawWebSocket, started: float) -> None:
    """``ws`` (opened at ``started``) is closed with nothing more sent, and sooner than its
    first ping could time out (0.5 s) or the connect timeout (1 s) end it: the close is
    the server's answer to what the client sent."""
    assert ws.recv_until_closed(timeout=2) == []
    assert time.monotonic() - started < 0.45


@pytest.fixture
def served() -> Iterator[Served]:
    sio = suite_server()
    with serving_sio(sio) as running:
        yield Served(sio, running.address)


# -- the Engine.IO cases, against the Socket.IO server -----------------------------------


def test_engine_handshakes(served: Served) -> None:
    """The OPEN packet over polling offers the WebSocket upgrade, over WebSocket none; both
    carry exactly sid, upgrades, pingInterval, pingTimeout and maxPayload."""
    assert_suite_handshake(served.polling().handshake, ["websocket"])
    ws = RawWebSocket.connect(served.address, eio_target(PATH, transport="websocket"))
    try:
        assert_suite_handshake(parse_open(str(ws.recv())), [])
    finally:
        ws.close()


def test_engine_bad_handshakes_are_refused(served: Served) -> None:
    """A bad or missing ``EIO`` or ``transport``, or a POST or PUT handshake: HTTP 400."""
    assert_bad_handshakes_refused(served.address, PATH)
    assert served.sio.eio.sockets == {}


def test_engine_heartbeat_over_polling(served: Served) -> None:
    """The server pings every pingInterval; a client that pongs each time stays."""
    client = served.polling()
    for _ in range(3):
        assert client.get(timeout=2) == ["2"]
        client.post("3")
    assert client.sid in served.sio.eio.sockets


def test_engine_ping_timeout_over_polling(served: Served) -> None:
    """A polling client that never pongs is gone pingInterval + pingTimeout after its
    handshake (a GET then gets 400)."""
    assert_gone_after_ping_deadline(served.polling())


def test_engine_heartbeat_over_websocket(served: Served) -> None:
    """Pings over the WebSocket every pingInterval; once unanswered, the socket is closed
    (the client connected to "/" first, so only the ping timeout can close it)."""
    ws = served.connected()
    try:
        for _ in range(3):
            assert ws.recv(timeout=2) == "2"
            ws.send("3")
        assert ws.recv(timeout=2) == "2"
        started = time.monotonic()
        assert ws.recv_until_closed(timeout=2) == []
        assert time.monotonic() - started < 0.9  # pingTimeout, not a later timer
    finally:
        ws.close()


def test_engine_close_over_polling(served: Served) -> None:
    """A CLOSE packet ends the session: the waiting GET gets a noop, the sid is then
    unknown."""
    client = served.polling()
    poll = gevent.spawn(client.get_raw)
    wait_polling(served.sio.eio, client.sid)
    client.post("1")
    answered = poll.get(timeout=5)
    assert (answered.status, answered.text) == (200, "6")
    assert client.get_raw().status == 400


def test_engine_close_over_websocket(served: Served) -> None:
    """A CLOSE packet over the WebSocket closes it."""
    started = time.monotonic()
    ws = served.websocket()
    try:
        ws.send("1")
        assert_closed_before_any_timeout(ws, started)
    finally:
        ws.close()


def test_engine_upgrade(served: Served) -> None:
    """Probe, probe reply, upgrade packet: the session then runs over the WebSocket."""
    client = served.polling()
    ws = probe_websocket(served.address, PATH, client.sid)
    try:
        ws.send("5")
        assert_connects(ws)
    finally:
        ws.close()


def test_engine_upgraded_sid_refuses_polling_and_a_second_websocket(served: Served) -> None:
    """After an upgrade, an HTTP request for the sid gets 400 and a second WebSocket for it
    is closed."""
    client = served.polling()
    ws = assert_upgraded_sid_refuses_polling_and_websockets(served.sio.eio, served.address, client)
    ws.close()


# -- the Socket.IO cases ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("connect", "namespace", "auth"),
    [
        ("40", "", {}),
        ('40{"token":"123"}', "", {"token": "123"}),
        ("40/custom,", "/custom,", {}),
        ('40/custom,{"token":"abc"}', "/custom,", {"token": "abc"}),
    ],
    ids=["main", "main-with-auth", "custom", "custom-with-auth"],
)
def test_connect_replies_with_sid_only(
    served: Served, connect: str, namespace: str, auth: dict[str, str]
) -> None:
    """A CONNECT, with or without an auth payload, is answered ``40[<nsp>,]{"sid":…}`` (the
    sid and nothing else); the auth payload is the handshake's auth, ``{}`` when none."""
    ws = served.websocket()
    try:
        ws.send(connect)
        reply = str(ws.recv_answering_pings())
        assert reply.startswith("40" + namespace)
        handshake = json.loads(reply[2 + len(namespace) :])
        assert set(handshake) == {"sid"} and isinstance(handshake["sid"], str)
        auth_event = f"42{namespace}" + json.dumps(["auth", auth], separators=(",", ":"))
        assert ws.recv_answering_pings() == auth_event
    finally:
        ws.close()


def test_unknown_namespace_connect_error(served: Served) -> None:
    """A CONNECT to a namespace the server does not have gets exactly
    ``44/random,{"message":"Invalid namespace"}``."""
    ws = served.websocket()
    try:
        ws.send("40/random")
        assert ws.recv_answering_pings() == '44/random,{"message":"Invalid namespace"}'
    finally:
        ws.close()


def test_no_connect_within_connect_timeout(served: Served) -> None:
    """A WebSocket session that sends no CONNECT is closed after the connect timeout (1 s),
    although it answers every ping."""
    ws = served.websocket()
    started = time.monotonic()
    try:
        timeout = gevent.Timeout(3, AssertionError("not closed within 3 s"))
        with timeout, pytest.raises(WebSocketClosed):
            ws.recv_answering_pings()
        assert time.monotonic() - started >= 0.9
    finally:
        ws.close()


def test_disconnect_from_main_namespace_keeps_the_connection(served: Served) -> None:
    """A DISCONNECT from "/" is not answered and leaves the connection open: the next
    thing the client gets is the server's ping."""
    ws = served.connected()
    try:
        ws.send("41")
        assert ws.recv(timeout=2) == "2"
        ws.send("3")
        assert_connects(ws)
    finally:
        ws.close()


def test_event_and_ack_wire_format(served: Served) -> None:
    """An EVENT is echoed as ``42["message-back",…]``; an EVENT with an ack id is
    acknowledged ``43<id>[…]`` (compact JSON, arguments as sent)."""
    ws = served.connected()
    try:
        ws.send('42["message",1,"2",{"3":[true]}]')
        assert ws.recv_answering_pings() == '42["message-back",1,"2",{"3":[true]}]'
        ws.send('42456["message-with-ack",1,"2",{"3":[false]}]')
        assert ws.recv_answering_pings() == '43456[1,"2",{"3":[false]}]'
    finally:
        ws.close()


PLACEHOLDERS = '{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}'


def test_binary_event_and_ack_wire_format(served: Served) -> None:
    """A BINARY_EVENT ``452-[…]`` and its two attachments are echoed the same way, each
    attachment in its own binary frame; with an ack id the reply is a BINARY_ACK
    ``462-<id>[…]``."""
    ws = served.connected()
    try:
        for sent, expected in [
            (f'452-["message",{PLACEHOLDERS}]', f'452-["message-back",{PLACEHOLDERS}]'),
            (f'452-789["message-with-ack",{PLACEHOLDERS}]', f"462-789[{PLACEHOLDERS}]"),
        ]:
            ws.send(sent)
            ws.send(b"\x01\x02\x03")
            ws.send(b"\x04\x05\x06")
            received = [ws.recv_answering_pings() for _ in range(3)]
            assert received == [expected, b"\x01\x02\x03", b"\x04\x05\x06"]
    finally:
        ws.close()


@pytest.mark.parametrize(
    ("connect", "packet"),
    [
        (False, "4abc"),
        (True, "4abc"),
        (True, "42{}"),
        (True, '42abc["message-with-ack",1,"2",{"3":[false]}]'),
    ],
    ids=["invalid-handshake", "unknown-type", "payload-not-an-array", "invalid-ack-id"],
)
def test_malformed_packets_close_the_connection(served: Served, connect: bool, packet: str) -> None:
    """A packet that is not valid Socket.IO, before or after the CONNECT, closes the
    connection."""
    started = time.monotonic()
    ws = served.connected() if connect else served.websocket()
    try:
        ws.send(packet)
        assert_closed_before_any_timeout(ws, started)
    finally:
        ws.close()
