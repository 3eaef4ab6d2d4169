"""Our Python client against our server with connection state recovery on: the client
keeps the pid and last offset, presents them on reconnection, and gets its id, rooms and
the events it missed back (the Node-server side of this is in test_client_node.py)."""

from __future__ import annotations

import queue
from typing import Any

import pytest

import sockio_wsgi
from tests.helpers.client import assert_no_client_threads
from tests.helpers.server import serving_sio
from tests.helpers.sio_interop import Recorder

FAST = {"reconnection_delay": 0.05, "reconnection_delay_max": 0.1}


def recovering_sio(record: Recorder) -> sockio_wsgi.Server:
    """``tick`` (n) emits ``tock`` n back; ``drop`` closes the Engine.IO session (a lost
    connection); while the socket is away the server emits ``missed`` 1 and 2 to it
    and to its room; ``kick`` disconnects it for good."""
    sio = sockio_wsgi.Server(
        ping_interval=1,
        ping_timeout=1,
        connection_state_recovery={"max_disconnection_duration": 60},
    )

    @sio.on("connect")
    def connect(socket: sockio_wsgi.Socket, auth: Any) -> None:
        record.add("connect", {"sid": socket.id, "recovered": socket.recovered, "auth": auth})
        socket.join("room")

    @sio.on("disconnect")
    def disconnect(socket: sockio_wsgi.Socket, reason: str) -> None:
        record.add("disconnect", (socket.id, reason))
        sio.to(socket.id).emit("missed", 1)
        sio.to("room").emit("missed", 2)

    @sio.on("tick")
    def tick(socket: sockio_wsgi.Socket, n: int) -> None:
        socket.emit("tock", n)

    @sio.on("drop")
    def drop(socket: sockio_wsgi.Socket) -> None:
        sio.eio.disconnect(socket.client.sid)

    @sio.on("kick")
    def kick(socket: sockio_wsgi.Socket) -> None:
        socket.disconnect()

    @sio.on("rooms")
    def rooms(socket: sockio_wsgi.Socket) -> list[str]:
        return sorted(socket.rooms)

    return sio


@pytest.mark.parametrize("transports", [None, ["polling"], ["websocket"]])
def test_reconnects_with_pid_and_offset_and_gets_missed_events(
    transports: list[str] | None,
) -> None:
    record = Recorder()
    client = sockio_wsgi.Client(**FAST)
    connects: queue.Queue[bool] = queue.Queue()
    events: queue.Queue[tuple[str, tuple[Any, ...]]] = queue.Queue()
    client.on("connect", lambda: connects.put(client.recovered))
    client.on_any(lambda event, *args: events.put((event, args)))
    with serving_sio(recovering_sio(record)) as running:
        try:
            client.connect(running.url, auth={"token": "t"}, transports=transports)
            assert connects.get(timeout=5) is False
            client.emit("tick", 1)
            event, args = events.get(timeout=5)
            assert event == "tock" and args[0] == 1 and isinstance(args[1], str)
            sid = client.sid
            client.emit("drop")
            assert record.wait("disconnect")[1] in ("forced close", "transport close")
            assert connects.get(timeout=10) is True
            again = record.wait("connect", lambda v: v["recovered"])
            assert again["sid"] == sid == client.sid
            assert again["auth"]["token"] == "t" and again["auth"]["pid"]
            assert again["auth"]["offset"] == args[1]
            missed = [events.get(timeout=5) for _ in range(2)]
            assert [(e, a[0]) for e, a in missed] == [("missed", 1), ("missed", 2)]
            assert client.emit_with_ack("rooms", timeout=5) == sorted([sid, "room"])
            assert events.empty()
        finally:
            client.disconnect()
    assert_no_client_threads()


def test_no_recovery_after_server_disconnect() -> None:
    record = Recorder()
    client = sockio_wsgi.Client(**FAST)
    reasons: queue.Queue[str] = queue.Queue()
    client.on("disconnect", reasons.put)
    with serving_sio(recovering_sio(record)) as running:
        try:
            client.connect(running.url)
            client.emit("kick")
            assert reasons.get(timeout=5) == "io server disconnect"
            assert record.wait("disconnect")[1] == "server namespace disconnect"
            client.connect(running.url)
            assert not client.recovered
            assert len(record.values("connect")) == 2
        finally:
            client.disconnect()
    assert_no_client_threads()
