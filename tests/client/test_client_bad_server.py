"""Servers that misbehave: refuse or garble the handshake, send garbage, close in the
middle of a frame, hang, or stop pinging. The client must raise a clear error or report
the loss (and reconnect), never hang, and leave no thread behind."""

from __future__ import annotations

import contextlib
import json
import queue
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, Request, TextMessage

import sockio_wsgi
from sockio_wsgi.client import ConnectionError
from tests.helpers.client import assert_no_client_threads
from tests.helpers.server import serving_sio

Behaviour = Callable[[socket.socket], None]


@contextlib.contextmanager
def fake_server(behave: Behaviour) -> Iterator[str]:
    """A TCP server running ``behave(conn)`` for each connection; yields its URL."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    conns: list[socket.socket] = []
    done = threading.Event()

    def serve() -> None:
        while not done.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            conns.append(conn)
            threading.Thread(target=run, args=(conn,), daemon=True).start()

    def run(conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            behave(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        done.set()
        listener.close()
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.close()
        thread.join(5)


def open_packet(ping_interval: int = 25000, ping_timeout: int = 20000) -> str:
    body = {
        "sid": "fake",
        "upgrades": [],
        "pingInterval": ping_interval,
        "pingTimeout": ping_timeout,
        "maxPayload": 1000000,
    }
    return "0" + json.dumps(body)


def accept_ws(conn: socket.socket) -> WSConnection:
    ws = WSConnection(ConnectionType.SERVER)
    while True:
        ws.receive_data(conn.recv(65536))
        for event in ws.events():
            if isinstance(event, Request):
                conn.sendall(ws.send(AcceptConnection()))
                return ws


def wait_for_text(conn: socket.socket, ws: WSConnection) -> str:
    while True:
        data = conn.recv(65536)
        if not data:
            raise OSError("closed")
        ws.receive_data(data)
        for event in ws.events():
            if isinstance(event, TextMessage):
                return str(event.data)


def ws_then(*frames: str, then: Callable[[socket.socket], None] | None = None) -> Behaviour:
    """Accept a WebSocket, send OPEN, answer the client's CONNECT, send ``frames``, then
    run ``then`` (default: read until EOF)."""

    def behave(conn: socket.socket) -> None:
        ws = accept_ws(conn)
        if frames:
            conn.sendall(ws.send(TextMessage(data=frames[0])))
        if len(frames) > 1:
            assert wait_for_text(conn, ws) == "40"
        for frame in frames[1:]:
            conn.sendall(ws.send(TextMessage(data=frame)))
        if then is not None:
            then(conn)
        else:
            while conn.recv(65536):
                pass

    return behave


def http_reply(status: str, body: str) -> Behaviour:
    def behave(conn: socket.socket) -> None:
        conn.recv(65536)
        data = body.encode()
        conn.sendall(
            f"HTTP/1.1 {status}\r\nContent-Length: {len(data)}\r\n"
            f"Content-Type: text/plain\r\nConnection: close\r\n\r\n".encode()
            + data
        )

    return behave


def watched(**kwargs: Any) -> tuple[sockio_wsgi.Client, queue.Queue[str]]:
    client = sockio_wsgi.Client(reconnection=False, request_timeout=2, **kwargs)
    reasons: queue.Queue[str] = queue.Queue()
    client.on("disconnect", reasons.put)
    return client, reasons


@pytest.mark.parametrize(
    "behave",
    [
        http_reply("403 Forbidden", '{"code":4,"message":"Forbidden"}'),
        http_reply("200 OK", "this is not engine.io"),
        http_reply("200 OK", '0{"sid": 5}'),
        http_reply("200 OK", "2"),
        lambda conn: conn.close(),
    ],
    ids=["403", "garbage", "bad-open", "not-open", "closed"],
)
def test_bad_polling_handshake_raises(behave: Behaviour) -> None:
    client, _ = watched()
    with fake_server(behave) as url, pytest.raises(ConnectionError):
        client.connect(url, transports=["polling"])
    assert client.wait(0)
    assert_no_client_threads()


def test_refused_handshake_carries_status() -> None:
    client, _ = watched()
    with (
        fake_server(http_reply("403 Forbidden", "go away")) as url,
        pytest.raises(ConnectionError) as info,
    ):
        client.connect(url, transports=["polling"])
    assert info.value.data == {"status": 403, "body": "go away"}


def test_allow_request_refusal_from_our_server() -> None:
    sio = sockio_wsgi.Server(allow_request=lambda environ: False)
    client, _ = watched()
    with serving_sio(sio) as running:
        for transports in (["polling"], ["websocket"]):
            with pytest.raises(ConnectionError):
                client.connect(running.url, transports=transports)
    assert_no_client_threads()


@pytest.mark.parametrize(
    "behave",
    [
        http_reply("400 Bad Request", "no"),
        ws_then("garbage"),
        ws_then(),
        lambda conn: conn.close(),
    ],
    ids=["http-400", "garbage", "silent", "closed"],
)
def test_bad_websocket_handshake_raises(behave: Behaviour) -> None:
    client, _ = watched()
    with fake_server(behave) as url, pytest.raises(ConnectionError):
        client.connect(url, transports=["websocket"])
    assert_no_client_threads()


def test_silent_tcp_server_times_out() -> None:
    client = sockio_wsgi.Client(reconnection=False, request_timeout=0.3)
    with fake_server(lambda conn: conn.recv(65536) and conn.recv(65536)) as url:
        for transports in (["polling"], ["websocket"]):
            with pytest.raises(ConnectionError):
                client.connect(url, transports=transports)
    assert_no_client_threads()


@pytest.mark.parametrize(
    ("frames", "reason"),
    [
        (["9nonsense"], "parse error"),  # an unknown Engine.IO packet type
        (["4garbage{"], "parse error"),  # a MESSAGE that is not Socket.IO
        (["0{}"], "parse error"),  # a second OPEN
        (['40{"sid":"s1"}', '42["ok"]', "1"], "transport close"),  # CLOSE after data
    ],
    ids=["eio-garbage", "sio-garbage", "second-open", "close-packet"],
)
def test_garbage_after_open_is_a_lost_connection(frames: list[str], reason: str) -> None:
    client, reasons = watched()
    with fake_server(ws_then(open_packet(), '40{"sid":"s1"}', *frames)) as url:
        client.connect(url, transports=["websocket"])
        assert reasons.get(timeout=5) == reason
        assert client.wait(5)
    assert_no_client_threads()


def close_mid_frame(conn: socket.socket) -> None:
    conn.sendall(b"\x81\x7e\x01")  # a text frame header announcing 256+ bytes, cut short
    conn.close()


def test_close_mid_frame_is_a_lost_connection() -> None:
    client, reasons = watched()
    behave = ws_then(open_packet(), '40{"sid":"s1"}', then=close_mid_frame)
    with fake_server(behave) as url:
        client.connect(url, transports=["websocket"])
        assert reasons.get(timeout=5) == "transport close"
        assert client.wait(5)
    assert_no_client_threads()


def test_no_pings_is_a_ping_timeout_over_websocket() -> None:
    client, reasons = watched()
    behave = ws_then(open_packet(200, 200), '40{"sid":"s1"}')
    with fake_server(behave) as url:
        client.connect(url, transports=["websocket"])
        assert reasons.get(timeout=5) == "ping timeout"
        assert client.wait(5)
    assert_no_client_threads()


def test_no_pings_is_a_ping_timeout_over_polling() -> None:
    """The handshake answers, then every poll hangs: the poll times out as a ping would."""
    requests: list[str] = []

    def behave(conn: socket.socket) -> None:
        reader = conn.makefile("rb")
        while True:
            line = reader.readline().decode()
            if not line:
                return
            length = 0
            while (header := reader.readline()) not in (b"\r\n", b""):
                if header.lower().startswith(b"content-length:"):
                    length = int(header.split(b":")[1])
            reader.read(length)
            requests.append(line)
            if len(requests) == 1:
                body = (open_packet(200, 200)).encode()
            elif line.startswith("POST"):
                body = b"ok"
            elif len([r for r in requests if r.startswith("GET")]) == 2:
                body = b'40{"sid":"s1"}'
            else:
                continue  # never answer: the server stopped pinging
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))

    client, reasons = watched()
    with fake_server(behave) as url:
        client.connect(url, transports=["polling"])
        assert reasons.get(timeout=5) == "ping timeout"
        assert client.wait(5)
    assert_no_client_threads()


def test_garbage_after_every_reconnection_keeps_reconnecting_until_disconnect() -> None:
    """Each reconnection opens (so the backoff restarts, as in socket.io-client), then
    breaks again; ``disconnect()`` ends it cleanly."""
    client = sockio_wsgi.Client(reconnection_delay=0.05, reconnection_delay_max=0.05)
    attempts: queue.Queue[int] = queue.Queue()
    reasons: queue.Queue[str] = queue.Queue()
    client.on("reconnect_attempt", attempts.put)
    client.on("disconnect", reasons.put)
    with fake_server(ws_then(open_packet(), '40{"sid":"s1"}', "9bad")) as url:
        client.connect(url, transports=["websocket"])
        assert reasons.get(timeout=5) == "parse error"
        assert attempts.get(timeout=5) == 1
        assert reasons.get(timeout=5) == "parse error"
        assert attempts.get(timeout=5) == 1
        client.disconnect()
        assert client.wait(0)
    assert_no_client_threads()


def test_disconnect_during_a_hanging_reconnection_is_prompt() -> None:
    """The first connection works then breaks; every later handshake hangs. disconnect()
    aborts the handshake in progress instead of waiting for its timeout."""
    connections: list[int] = []
    in_handshake = threading.Event()

    def behave(conn: socket.socket) -> None:
        connections.append(1)
        if len(connections) == 1:
            ws_then(open_packet(), '40{"sid":"s1"}', "9bad")(conn)
            return
        in_handshake.set()
        while conn.recv(65536):
            pass

    client = sockio_wsgi.Client(
        request_timeout=30, reconnection_delay=0.01, reconnection_delay_max=0.01
    )
    with fake_server(behave) as url:
        client.connect(url, transports=["websocket"])
        assert in_handshake.wait(5)
        started = time.monotonic()
        client.disconnect()
        assert time.monotonic() - started < 3
        assert_no_client_threads(timeout=1)
