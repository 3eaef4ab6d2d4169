"""Handlers that block for many heartbeats never cost their client its connection.

A handler here blocks the way users' code does (``time.sleep`` under monkey patching, an
``emit_with_ack`` to the same client, a wait on an event) for ten times
``ping_interval + ping_timeout``. Meanwhile the connection keeps answering heartbeats, the
client's later events wait their turn and then run in order, and another client's acks keep
flowing. No library call is needed for this: it is how every handler runs.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import gevent
import gevent.event
import pytest

import sockio_wsgi
from tests.helpers.node import NodeClient
from tests.helpers.server import Running, serving, serving_sio
from tests.helpers.sio_interop import Recorder, connected_sid

PING_INTERVAL = 0.1
PING_TIMEOUT = 0.2
BLOCK = 10 * (PING_INTERVAL + PING_TIMEOUT)
TRANSPORTS = [["websocket"], ["polling"]]
IDS = ["websocket", "polling"]


def blocking_sio(record: Recorder) -> sockio_wsgi.Server:
    sio = sockio_wsgi.Server(ping_interval=PING_INTERVAL, ping_timeout=PING_TIMEOUT)

    @sio.on("block")
    def block(socket: sockio_wsgi.Socket, how: str) -> str:
        record.add("order", "block start")
        if how == "sleep":
            time.sleep(BLOCK)  # patched by the test run, as a user's app patches it
        else:  # ask the same client and wait for its answer, then keep waiting
            record.add("answer", socket.emit_with_ack("question", timeout=BLOCK))
            time.sleep(BLOCK)
        record.add("order", "block end")
        return "unblocked"

    @sio.on("later")
    def later(socket: sockio_wsgi.Socket, n: int) -> None:
        record.add("order", n)

    @sio.on("echo")
    def echo(socket: sockio_wsgi.Socket, *args: Any) -> Any:
        return args

    @sio.on("disconnect")
    def disconnect(socket: sockio_wsgi.Socket, reason: str) -> None:
        record.add("disconnect", (socket.id, reason))

    return sio


@pytest.fixture
def record() -> Recorder:
    return Recorder()


@pytest.fixture
def running(record: Recorder) -> Iterator[Running]:
    with serving_sio(blocking_sio(record)) as running:
        yield running


def acks_during_block(other: sockio_wsgi.Client, record: Recorder) -> int:
    """Round trips of a second client while the first one's handler blocks."""
    count = 0
    while not record.values("order") or "block end" not in record.values("order"):
        assert other.emit_with_ack("echo", count, timeout=2) == count
        count += 1
        gevent.sleep(PING_INTERVAL)
    return count


@pytest.mark.timeout(30)
@pytest.mark.parametrize("how", ["sleep", "ack"])
@pytest.mark.parametrize("transports", TRANSPORTS, ids=IDS)
def test_python_client_survives_a_blocking_handler(
    running: Running, record: Recorder, transports: list[str], how: str
) -> None:
    blocked, other = sockio_wsgi.Client(), sockio_wsgi.Client()
    blocked.on("question", lambda: "42")
    try:
        blocked.connect(running.url, transports=transports)
        other.connect(running.url, transports=transports)
        replies: gevent.event.AsyncResult = gevent.event.AsyncResult()
        blocked.emit("block", how, callback=lambda *reply: replies.set(reply))
        record.wait("order", lambda v: v == "block start")
        for n in range(5):
            blocked.emit("later", n)
        assert acks_during_block(other, record) >= 5
        assert replies.get(timeout=5) == ("unblocked",)
        record.wait("order", lambda v: v == 4)
        assert record.values("order") == ["block start", "block end", 0, 1, 2, 3, 4]
        if how == "ack":
            assert record.values("answer") == ["42"]
        assert record.values("disconnect") == []
        assert blocked.connected and blocked.transport == transports[0]
        assert blocked.emit_with_ack("echo", "still here", timeout=5) == "still here"
    finally:
        blocked.disconnect()
        other.disconnect()


@pytest.mark.node
@pytest.mark.timeout(40)
@pytest.mark.parametrize("transports", TRANSPORTS, ids=IDS)
def test_official_client_survives_a_blocking_handler(
    running: Running, record: Recorder, transports: list[str]
) -> None:
    with NodeClient() as client:
        client.connect(running.url, "blocked", transports=transports)
        client.connect(running.url, "other", transports=transports, forceNew=True)
        connected_sid(client, "blocked")
        connected_sid(client, "other")
        client.auto_ack("blocked", "question", ["42"])
        seq = client.emit("blocked", "block", "ack", ack=True, timeout_ms=int(BLOCK * 4000))
        record.wait("order", lambda v: v == "block start")
        for n in range(5):
            client.emit("blocked", "later", n)
        rounds = 0
        while "block end" not in record.values("order"):
            assert client.call("other", "echo", rounds, timeout=2) == [rounds]
            rounds += 1
            gevent.sleep(PING_INTERVAL)
        assert rounds >= 5
        reply = client.wait_for("ack", id="blocked", seq=seq, timeout=10)
        assert reply["args"] == ["unblocked"]
        record.wait("order", lambda v: v == 4)
        assert record.values("order") == ["block start", "block end", 0, 1, 2, 3, 4]
        assert record.values("answer") == ["42"]
        assert record.values("disconnect") == []
        state = client.state("blocked")
        assert state["connected"] and state["transport"] == transports[0]


@pytest.mark.timeout(30)
@pytest.mark.parametrize("transports", TRANSPORTS, ids=IDS)
def test_flask_handler_that_blocks_keeps_its_client(transports: list[str]) -> None:
    from flask import Flask, request

    from flask_ext import SocketIO

    record = Recorder()
    app = Flask(__name__)
    socketio = SocketIO(app, ping_interval=PING_INTERVAL, ping_timeout=PING_TIMEOUT)

    @socketio.on("block")
    def block() -> str:
        record.add("order", "block start")
        time.sleep(BLOCK)
        record.add("order", "block end")
        return request.sid

    @socketio.on("later")
    def later(n: int) -> None:
        record.add("order", n)

    @socketio.on("echo")
    def echo(value: Any) -> Any:
        return value

    @socketio.on("disconnect")
    def disconnect(*_: Any) -> None:
        record.add("disconnect", request.sid)

    with serving(app) as running:
        blocked, other = sockio_wsgi.Client(), sockio_wsgi.Client()
        try:
            blocked.connect(running.url, transports=transports)
            other.connect(running.url, transports=transports)
            replies: gevent.event.AsyncResult = gevent.event.AsyncResult()
            blocked.emit("block", callback=lambda *reply: replies.set(reply))
            record.wait("order", lambda v: v == "block start")
            for n in range(3):
                blocked.emit("later", n)
            assert acks_during_block(other, record) >= 5
            assert replies.get(timeout=5) == (blocked.sid,)
            record.wait("order", lambda v: v == 2)
            assert record.values("order") == ["block start", "block end", 0, 1, 2]
            assert record.values("disconnect") == []
        finally:
            blocked.disconnect()
            other.disconnect()


@pytest.mark.timeout(30)
@pytest.mark.parametrize("transports", TRANSPORTS, ids=IDS)
def test_events_queued_behind_a_stuck_handler_are_bounded(
    transports: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    record = Recorder()
    gate = gevent.event.Event()
    sio = sockio_wsgi.Server(max_queued_events=10)

    @sio.on("stuck")
    def stuck(socket: sockio_wsgi.Socket) -> None:
        record.add("stuck", socket.id)
        gate.wait(20)

    @sio.on("later")
    def later(socket: sockio_wsgi.Socket, n: int) -> None:
        record.add("later", n)

    @sio.on("echo")
    def echo(socket: sockio_wsgi.Socket, value: Any) -> Any:
        return value

    @sio.on("disconnect")
    def disconnect(socket: sockio_wsgi.Socket, reason: str) -> None:
        record.add("disconnect", (socket.id, reason))

    with serving_sio(sio) as running:
        flooder = sockio_wsgi.Client(reconnection=False)
        healthy = sockio_wsgi.Client()
        try:
            flooder.connect(running.url, transports=transports)
            healthy.connect(running.url, transports=transports)
            flooder.emit("stuck")
            sid = record.wait("stuck")
            for n in range(50):
                flooder.emit("later", n)
            assert healthy.emit_with_ack("echo", "fine", timeout=5) == "fine"
            gate.set()  # the stuck handler returns; the disconnect handler runs after it
            assert record.wait("disconnect", timeout=10) == (sid, "forced server close")
            assert record.values("later") == []  # dropped, not run after the cut-off
            assert "queued behind a running handler" in caplog.text
            assert healthy.emit_with_ack("echo", "still fine", timeout=5) == "still fine"
        finally:
            gate.set()
            flooder.disconnect()
            healthy.disconnect()
