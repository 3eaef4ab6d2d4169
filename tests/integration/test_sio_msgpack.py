"""``Server(parser="msgpack")`` against the official client with socket.io-msgpack-parser,
and our msgpack parser against the official Node server configured with that parser."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import gevent.event
import pytest

import sockio_wsgi
from sockio_wsgi.protocol.msgpack_parser import MsgpackDecoder, MsgpackParser
from sockio_wsgi.protocol.sio import SioPacket, SioType, event_packet
from tests.helpers.node import NodeClient, start_node_script
from tests.helpers.raw import RawWebSocket, parse_open
from tests.helpers.server import Running, serving_sio
from tests.helpers.sio_interop import Recorder, connected_sid, socket_of

pytestmark = pytest.mark.node

SioRun = tuple[sockio_wsgi.Server, Running]

TRANSPORTS = {
    "polling-upgrade": ["polling", "websocket"],
    "websocket-only": ["websocket"],
    "polling-only": ["polling"],
}
BINARY_ARGS = [
    b"\x00\x01\xff",
    {"nested": [b"", {"deep": bytes(range(256)) * 20}], "n": 1.5, "none": None},
    "text",
    [True, False, -7, 2**40],
]


def make_sio(record: Recorder, **kwargs: Any) -> sockio_wsgi.Server:
    sio = sockio_wsgi.Server(parser="msgpack", **kwargs)

    @sio.on("connect")
    def connect(socket: sockio_wsgi.Socket, auth: Any) -> None:
        record.add("auth", auth)

    @sio.on("disconnect")
    def disconnect(socket: sockio_wsgi.Socket, reason: str) -> None:
        record.add("disconnect", reason)

    @sio.on("echo")
    def echo(socket: sockio_wsgi.Socket, *args: Any) -> Any:
        record.add("echo", args)
        return args

    @sio.on("ask_back")
    def ask_back(socket: sockio_wsgi.Socket, *args: Any) -> Any:
        return {"client said": socket.emit_with_ack("question", *args, timeout=5)}

    @sio.on("echo", namespace="/chat")
    def chat_echo(socket: sockio_wsgi.Socket, *args: Any) -> Any:
        return ("chat", *args)

    @sio.on("connect", namespace="/private")
    def private(socket: sockio_wsgi.Socket, auth: Any) -> None:
        raise sockio_wsgi.ConnectionRefusedError("not allowed", {"code": 42, "raw": b"\x01"})

    return sio


@pytest.fixture
def sio_run(record: Recorder) -> Iterator[SioRun]:
    sio = make_sio(record)
    with serving_sio(sio) as run:
        yield sio, run


def connect(client: NodeClient, url: str, transports: list[str], id: str = "c1") -> str:
    client.connect(
        url, id, transports=transports, parser="msgpack", auth={"token": "t", "n": [1, None]}
    )
    sid = connected_sid(client, id)
    if transports == ["polling", "websocket"]:
        assert client.wait_for("upgrade", id=id)["transport"] == "websocket"
    return sid


@pytest.mark.parametrize("transports", TRANSPORTS.values(), ids=TRANSPORTS.keys())
def test_round_trips_with_binary_and_acks_both_ways(
    client: NodeClient, sio_run: SioRun, record: Recorder, transports: list[str]
) -> None:
    sio, run = sio_run
    sid = connect(client, run.url, transports)
    assert record.wait("auth") == {"token": "t", "n": [1, None]}
    socket = socket_of(sio, sid)

    # client -> server with an ack: binary inline, every JSON type
    assert client.call("c1", "echo", *BINARY_ARGS) == BINARY_ARGS
    assert record.wait("echo") == tuple(BINARY_ARGS)

    # server -> client with an ack, from a handler
    client.auto_ack("c1", "question", "echo")
    assert client.call("c1", "ask_back", b"\xfe", "why") == [{"client said": [b"\xfe", "why"]}]

    # server -> client with a callback, and a plain event
    client.auto_ack("c1", "ask", [b"yes", {"n": 2}])
    replies: gevent.event.AsyncResult = gevent.event.AsyncResult()
    socket.emit("ask", "q", callback=lambda *args: replies.set(args))
    assert replies.get(timeout=5) == (b"yes", {"n": 2})
    socket.emit("news", {"bin": b"\x00\xff"}, [1, 2])
    news = client.wait_for("event", id="c1", event="news")
    assert news["args"] == [{"bin": b"\x00\xff"}, [1, 2]]


def test_namespaces_and_broadcast(client: NodeClient, sio_run: SioRun) -> None:
    sio, run = sio_run
    connect(client, run.url, ["websocket"])
    client.connect(run.url, "chat", nsp="/chat", transports=["websocket"], parser="msgpack")
    connected_sid(client, "chat")
    assert client.call("chat", "echo", b"\x01") == ["chat", b"\x01"]
    sio.of("/chat").emit("hello", b"all")
    assert client.wait_for("event", id="chat", event="hello")["args"] == [b"all"]


def test_connect_error_carries_data(client: NodeClient, sio_run: SioRun) -> None:
    _, run = sio_run
    client.connect(run.url, "p", nsp="/private", transports=["websocket"], parser="msgpack")
    error = client.wait_for("connect_error", id="p")
    assert error["message"] == "not allowed"
    assert error["data"] == {"code": 42, "raw": b"\x01"}
    client.connect(run.url, "u", nsp="/unknown", transports=["websocket"], parser="msgpack")
    assert client.wait_for("connect_error", id="u")["message"] == "Invalid namespace"


def test_server_disconnect_reaches_the_client(
    client: NodeClient, sio_run: SioRun, record: Recorder
) -> None:
    sio, run = sio_run
    sid = connect(client, run.url, ["polling"])
    socket_of(sio, sid).disconnect()
    assert client.wait_for("disconnect", id="c1")["reason"] == "io server disconnect"
    assert record.wait("disconnect") == "server namespace disconnect"


# -- bad input over a raw WebSocket ----------------------------------------------------

parser = MsgpackParser()


def raw_session(run: Running) -> RawWebSocket:
    ws = RawWebSocket.connect(run.address, "/socket.io/?EIO=4&transport=websocket")
    parse_open(str(ws.recv()))
    [connect_packet] = parser.encode(SioPacket(SioType.CONNECT, "/", {"a": 1}))
    ws.send(connect_packet)
    reply = MsgpackDecoder().feed(ws.recv())
    assert reply is not None and reply.type is SioType.CONNECT
    return ws


@pytest.mark.parametrize(
    "garbage",
    [
        b"\xc1",
        b"\x93\x02\xa1/\x90",  # an array, not a map
        b"\x83\xa4type\x05\xa3nsp\xa1/\xa4data\x91\xa1e",  # type 5 does not exist here
        b"\x82\xa4type\x02\xa3nsp\xa1/",  # EVENT without data
        '42["text on a msgpack server"]',
    ],
)
def test_malformed_msgpack_closes_with_parse_error(
    sio_run: SioRun, record: Recorder, garbage: str | bytes
) -> None:
    _, run = sio_run
    ws = raw_session(run)
    try:
        ws.send(garbage)
        assert record.wait("disconnect") == "parse error"
        ws.recv_until_closed()
        assert ws.closed
    finally:
        ws.close()


def test_oversized_message_is_refused(record: Recorder) -> None:
    sio = make_sio(record, max_http_buffer_size=10_000)
    with serving_sio(sio) as run:
        ws = raw_session(run)
        try:
            [big] = parser.encode(event_packet("/", "echo", [b"x" * 20_000]))
            ws.send(big)
            ws.recv_until_closed()
            assert ws.close_code == 1009
            assert record.wait("disconnect") in ("transport close", "transport error")
            assert record.values("echo") == []
        finally:
            ws.close()


# -- our parser against the official Node server -----------------------------------------


def test_official_node_server_with_msgpack_parser() -> None:
    node, ready = start_node_script("echo_server.js", "msgpack")
    with node:
        ws = RawWebSocket.connect(
            ("127.0.0.1", ready["port"]), "/socket.io/?EIO=4&transport=websocket"
        )
        decoder = MsgpackDecoder()

        def next_packet() -> SioPacket:
            while True:
                message = ws.recv()
                if message == "2":  # the Node server's heartbeat
                    ws.send("3")
                    continue
                assert isinstance(message, bytes), message
                packet = decoder.feed(message)
                assert packet is not None
                return packet

        try:
            parse_open(str(ws.recv()))
            [data] = parser.encode(SioPacket(SioType.CONNECT, "/"))
            ws.send(data)
            reply = next_packet()
            assert reply.type is SioType.CONNECT and isinstance(reply.data["sid"], str)

            args = [b"\x00\xff", {"deep": [b"bin", 1.5, None]}, "text"]
            [data] = parser.encode(event_packet("/", "echo", args, 12))
            ws.send(data)
            ack = next_packet()
            assert ack == SioPacket(SioType.ACK, "/", args, 12)

            [data] = parser.encode(event_packet("/", "ping_me", [b"\x05"]))
            ws.send(data)
            pong = next_packet()
            assert pong.type is SioType.EVENT
            assert pong.data == ["pong", {"bin": bytes([0, 1, 2, 253, 254, 255]), "got": [b"\x05"]}]

            [data] = parser.encode(event_packet("/", "ask_me", ["q"]))
            ws.send(data)
            ask = next_packet()
            assert ask.type is SioType.EVENT and ask.data == ["ask", "q"] and ask.id is not None
            [data] = parser.encode(SioPacket(SioType.ACK, "/", [b"answer"], ask.id))
            ws.send(data)
            answer = next_packet()
            assert answer.data == ["answer", {"reply": [b"answer"]}]
        finally:
            ws.close()
