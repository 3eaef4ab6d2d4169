"""The HTTP server's limits, through a real server and raw sockets: request heads and
bodies that never finish, idle kept-alive connections, too many connections, and header
values with bare CR or NUL. A healthy client keeps getting its acks throughout."""

from __future__ import annotations

import contextlib
import gc
import socket
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import gevent
import gevent.event
import pytest

import sockio_wsgi
from tests.helpers.healthy import echo_server, healthy_client
from tests.helpers.logs import watching
from tests.helpers.raw import RawWebSocket, eio_target, open_polling
from tests.helpers.server import Running, serving

pytestmark = pytest.mark.timeout(60)

TIMEOUT = 0.5  # every deadline of these servers


@contextmanager
def serving_limited(**limits: Any) -> Iterator[Running]:
    sio = echo_server()
    try:
        with serving(sockio_wsgi.WSGIApp(sio), **limits) as running:
            yield running
    finally:
        sio.close()


def raw_connection(running: Running, data: bytes = b"") -> socket.socket:
    sock = socket.create_connection(running.address, timeout=10)
    if data:
        sock.sendall(data)
    return sock


def read_to_end(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


HEAD = f"GET {eio_target(transport='polling')} HTTP/1.1\r\nHost: x\r\n".encode()


def test_request_heads_that_never_finish_get_408(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", "sockio_wsgi")
    with serving_limited(header_timeout=TIMEOUT) as running, healthy_client(running.url) as ok:
        silent = [raw_connection(running) for _ in range(20)]  # not even a request line
        half = [raw_connection(running, HEAD) for _ in range(20)]  # a head without its end
        dripping = raw_connection(running, HEAD[:5])

        def drip() -> None:  # a byte at a time, each well within any per-read timeout
            with contextlib.suppress(OSError):  # until the server has closed it
                for byte in HEAD[5:] + b"X-Slow: " + b"x" * 10_000:
                    gevent.sleep(TIMEOUT / 10)
                    dripping.send(bytes([byte]))

        dripper = gevent.spawn(drip)
        ok.wait_acks()
        for sock in [*silent, *half, dripping]:
            assert read_to_end(sock).startswith(b"HTTP/1.1 408 Request Timeout\r\n")
            sock.close()
        dripper.kill()
    assert "request head not received in time" in caplog.text


def test_bodies_that_never_finish_get_408() -> None:
    with serving_limited(body_timeout=TIMEOUT) as running, healthy_client(running.url) as ok:
        session = open_polling(running.address)
        post = (
            f"POST {session.target()} HTTP/1.1\r\nHost: x\r\n"
            "Content-Type: text/plain;charset=UTF-8\r\nContent-Length: 1000\r\n\r\n40"
        ).encode()
        stalled = [raw_connection(running, post) for _ in range(20)]
        ok.wait_acks()
        for sock in stalled:
            assert read_to_end(sock).startswith(b"HTTP/1.1 408 Request Timeout\r\n")
            sock.close()


def test_idle_kept_alive_connections_are_closed() -> None:
    with serving_limited(keepalive_timeout=TIMEOUT) as running, healthy_client(running.url) as ok:
        sock = raw_connection(running, HEAD + b"\r\n")
        response = sock.recv(65536)
        assert response.startswith(b"HTTP/1.1 200 OK\r\n")
        assert b"\r\nKeep-Alive: timeout=1\r\n" in response
        assert read_to_end(sock) == b""  # then closed, without a response
        sock.close()
        ok.wait_acks()


def test_a_polling_client_carries_on_when_its_idle_connection_is_closed() -> None:
    with (
        watching("sockio_wsgi.serve") as logged,
        serving_limited(keepalive_timeout=TIMEOUT) as running,
    ):
        client = sockio_wsgi.Client(reconnection=False)
        client.connect(running.url, transports=["polling"])
        try:
            assert client.emit_with_ack("echo", 1, timeout=5) == 1
            logged.wait_for("idle past keepalive_timeout")  # its POST connection is closed
            assert client.emit_with_ack("echo", 2, timeout=5) == 2  # sent on a new one
            assert client.connected
        finally:
            client.disconnect()


def test_connections_past_max_connections_get_503(caplog: pytest.LogCaptureFixture) -> None:
    with (
        serving_limited(max_connections=6) as running,
        healthy_client(running.url, transports=["websocket"]) as ok,
        ExitStack() as held,
    ):
        for _ in range(5):  # the healthy client's WebSocket is the sixth
            held.callback(raw_connection(running).close)
        refused = [raw_connection(running, HEAD + b"\r\n") for _ in range(10)]
        for sock in refused:
            response = read_to_end(sock)
            assert response.startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
            assert response.endswith(b"Server busy: too many connections\n")
            sock.close()
        ok.wait_acks()
        assert "6 open connections (max_connections): refused" in caplog.text
        held.close()
        # the slots come back as the held connections end
        with gevent.Timeout(10):
            while True:
                sock = raw_connection(running, HEAD + b"Connection: close\r\n\r\n")
                if read_to_end(sock).startswith(b"HTTP/1.1 200 OK\r\n"):
                    break
                sock.close()
                gevent.sleep(0.05)
        sock.close()


def test_closed_websockets_free_their_slots_before_they_are_collected() -> None:
    sio = echo_server()
    gone: list[str] = []
    ended = gevent.event.Event()

    @sio.on("disconnect")
    def disconnect(socket: sockio_wsgi.Socket, reason: str) -> None:
        gone.append(reason)
        if len(gone) == 4:
            ended.set()

    collecting = gc.isenabled()
    gc.disable()  # WebSockets in reference cycles stay in the server's weak set meanwhile
    try:
        with serving(sockio_wsgi.WSGIApp(sio), max_connections=4) as running:
            for _ in range(4):
                ws = RawWebSocket.connect(running.address, eio_target(transport="websocket"))
                ws.recv()
                ws.send("40")
                ws.recv()
                ws.close()
            assert ended.wait(10)
            sock = raw_connection(running, HEAD + b"Connection: close\r\n\r\n")
            assert read_to_end(sock).startswith(b"HTTP/1.1 200 OK\r\n")
            sock.close()
            sio.close()
    finally:
        if collecting:
            gc.enable()


@pytest.mark.parametrize(
    "request_bytes",
    [
        HEAD + b"X-Odd: a\rb\r\n\r\n",
        HEAD + b"X-Odd: a\x00b\r\n\r\n",
        HEAD + b"X Odd: a\r\n\r\n",
        b"GET /socket.io/?EIO=4&transport=polling\x00 HTTP/1.1\r\nHost: x\r\n\r\n",
    ],
    ids=["bare-cr", "nul", "space-in-name", "nul-in-request-line"],
)
def test_control_characters_in_a_head_get_400(
    request_bytes: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", "sockio_wsgi")
    with serving_limited() as running, healthy_client(running.url) as ok:
        sock = raw_connection(running, request_bytes)
        assert read_to_end(sock).startswith(b"HTTP/1.1 400 Bad Request\r\n")
        sock.close()
        ok.wait_acks()
    assert "Invalid" in caplog.text or "invalid" in caplog.text
