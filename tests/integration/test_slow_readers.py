"""Clients that stop reading cannot hold the server's memory or connections.

A client that never reads (but may still answer pings) is cut off once
``max_queued_bytes`` are queued for it; a write that waits ``send_timeout`` for the client
to take any byte fails and cuts the connection; when a session ends for a client that
does not read, its connection and queue are released within seconds. Meanwhile a healthy
client's round trips go on.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import gevent
import gevent.event
import pytest

import sockio_wsgi
from tests.helpers.client import make_sio
from tests.helpers.raw import RawWebSocket, eio_target, parse_open
from tests.helpers.server import Running, serving_sio
from tests.helpers.sio_interop import Recorder

CHUNK = "x" * 100_000


def silent_websocket(running: Running) -> tuple[RawWebSocket, str]:
    """A WebSocket-only Engine.IO client that joins "/" and then never reads again."""
    ws = RawWebSocket.connect(running.address, eio_target(transport="websocket"))
    ws.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    handshake = parse_open(str(ws.recv()))
    ws.send("40")
    reply = str(ws.recv())
    assert reply.startswith("40")
    return ws, handshake["sid"]


@dataclass
class Silent:
    """A joined client that reads nothing more: its server-side socket and sessions."""

    ws: RawWebSocket
    engine_sid: str
    sid: str
    target: sockio_wsgi.Socket


@contextmanager
def silent_client(
    sio: sockio_wsgi.Server, running: Running, record: Recorder, good: sockio_wsgi.Client
) -> Iterator[Silent]:
    ws, engine_sid = silent_websocket(running)
    try:
        sid = record.wait("connect", lambda c: c["sid"] != good.sid)["sid"]
        target = sio.get_socket(sid)
        assert target is not None
        yield Silent(ws, engine_sid, sid, target)
    finally:
        ws.sock.close()


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.fixture
def record() -> Recorder:
    return Recorder()


@pytest.fixture
def healthy() -> Iterator[list[sockio_wsgi.Client]]:
    clients: list[sockio_wsgi.Client] = []
    yield clients
    for client in clients:
        client.disconnect()


def healthy_client(running: Running, clients: list[sockio_wsgi.Client]) -> sockio_wsgi.Client:
    client = sockio_wsgi.Client()
    client.connect(running.url, transports=["websocket"])
    clients.append(client)
    return client


@pytest.mark.timeout(30)
def test_a_client_that_does_not_read_is_cut_at_max_queued_bytes(
    record: Recorder, healthy: list[sockio_wsgi.Client], caplog: pytest.LogCaptureFixture
) -> None:
    cap = 1_000_000
    sio = make_sio(record, max_queued_bytes=cap, ping_interval=60, ping_timeout=60)
    with serving_sio(sio) as running:
        good = healthy_client(running, healthy)
        with silent_client(sio, running, record, good) as silent:
            sid, target, engine_sid = silent.sid, silent.target, silent.engine_sid
            esock = sio.eio.sockets[engine_sid]
            peak = 0
            sent = 0
            while not record.values("disconnect") and sent < 2000:
                target.emit("blob", CHUNK)
                sent += 1
                peak = max(peak, esock.session.outbox_bytes)
                if sent % 10 == 0:
                    gevent.sleep(0)  # the writer runs; the healthy client goes on
                    assert good.emit_with_ack("echo", sent, timeout=5) == sent
            assert record.wait("disconnect") == (sid, "transport error")
            assert peak <= cap + len(CHUNK) + 100  # never more than the cap and one packet
            assert esock.session.outbox_bytes == 0  # released at once
            assert engine_sid not in sio.eio.sockets
            assert "max_queued_bytes" in caplog.text
            assert good.emit_with_ack("echo", "after", timeout=5) == "after"


@pytest.mark.timeout(30)
def test_a_write_the_client_never_takes_times_out(
    record: Recorder, healthy: list[sockio_wsgi.Client]
) -> None:
    """Under the queue cap, a client that takes no byte for send_timeout is cut."""
    sio = make_sio(record, send_timeout=1.0, ping_interval=60, ping_timeout=60)
    with serving_sio(sio) as running:
        good = healthy_client(running, healthy)
        with silent_client(sio, running, record, good) as silent:
            sid, target, engine_sid = silent.sid, silent.target, silent.engine_sid
            for _ in range(100):  # 10 MB: more than the kernel's buffers take
                target.emit("blob", CHUNK)
            rounds = 0
            while not record.values("disconnect"):
                assert good.emit_with_ack("echo", rounds, timeout=5) == rounds
                rounds += 1
                gevent.sleep(0.05)
                assert rounds < 200, "the silent client was never cut"
            assert record.wait("disconnect") == (sid, "transport error")
            assert engine_sid not in sio.eio.sockets


@pytest.mark.timeout(30)
def test_a_session_that_times_out_releases_its_connection_within_seconds(
    record: Recorder, healthy: list[sockio_wsgi.Client]
) -> None:
    """The client stops reading and answering pings: the session ends at its ping
    timeout, and the writer that still waits for the client is cut soon after."""
    sio = make_sio(record, ping_interval=0.3, ping_timeout=0.3, send_timeout=60)
    with serving_sio(sio) as running:
        good = healthy_client(running, healthy)
        before = open_fds()
        with silent_client(sio, running, record, good) as silent:
            sid, target, engine_sid = silent.sid, silent.target, silent.engine_sid
            esock = sio.eio.sockets[engine_sid]
            for _ in range(100):
                target.emit("blob", CHUNK)
            assert record.wait("disconnect", timeout=5) == (sid, "ping timeout")
            ended = gevent.event.Event()
            deadline = gevent.Timeout(6)
            with deadline:
                while esock._writer is not None or esock.session.outbox_bytes:
                    gevent.sleep(0.1)
                ended.set()
            assert ended.is_set()
            assert good.emit_with_ack("echo", "alive", timeout=5) == "alive"
            # the server's end of the connection is closed (the client's is still open)
            with gevent.Timeout(5):
                while open_fds() > before + 1:
                    gevent.sleep(0.1)
