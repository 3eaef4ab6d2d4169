"""Official socket.io-client against our server: how handlers run, bad input, shutdown.

By default the events of one client run one after another in arrival order;
``Server(async_handlers=True)`` gives each event its own greenlet. A packet for a
namespace the client has not joined closes the connection (socket.io's client.ts).
``sio.close()`` disconnects everyone with "server shutting down" and refuses handshakes.
"""

from __future__ import annotations

import http.client
from typing import Any

import gevent.event
import pytest

import sockio_wsgi
from tests.helpers.node import NodeClient
from tests.helpers.server import serving_sio
from tests.helpers.sio_interop import RawPolling, Recorder, connected_sid

pytestmark = pytest.mark.node


def make_sio(record: Recorder, gate: gevent.event.Event, **options: Any) -> sockio_wsgi.Server:
    sio = sockio_wsgi.Server(**options)

    @sio.on("slow")
    def slow(socket: sockio_wsgi.Socket) -> None:
        record.add("order", "slow start")
        gate.wait(timeout=5)
        record.add("order", "slow end")

    @sio.on("fast")
    def fast(socket: sockio_wsgi.Socket) -> None:
        record.add("order", "fast")

    @sio.on("disconnect")
    def disconnect(socket: sockio_wsgi.Socket, reason: str) -> None:
        record.add("disconnect", (socket.id, reason))

    marker = sio.of("/marker")

    @marker.on("mark")
    def mark(socket: sockio_wsgi.Socket) -> None:
        record.add("mark")

    return sio


@pytest.mark.parametrize("transports", [["polling"], ["websocket"]])
@pytest.mark.parametrize("async_handlers", [False, True], ids=["ordered", "async"])
def test_async_handlers_run_events_concurrently(
    client: NodeClient, transports: list[str], async_handlers: bool
) -> None:
    record, gate = Recorder(), gevent.event.Event()
    sio = make_sio(record, gate, async_handlers=async_handlers)
    with serving_sio(sio) as running:
        client.connect(running.url, "main", transports=transports)
        client.connect(running.url, "marker", nsp="/marker", transports=transports)
        connected_sid(client, "main")
        connected_sid(client, "marker")
        client.emit("main", "slow")
        record.wait("order")  # slow has started and is blocked
        client.emit("main", "fast")
        client.emit("marker", "mark")  # same connection, later: "fast" has been read
        record.wait("mark")
        if async_handlers:
            record.wait("order", lambda v: v == "fast")
        else:
            assert record.values("order") == ["slow start"]
        gate.set()
        record.wait("order", lambda v: v == "slow end")
        record.wait("order", lambda v: v == "fast")
        expected = (
            ["slow start", "fast", "slow end"]
            if async_handlers
            else ["slow start", "slow end", "fast"]
        )
        assert record.values("order") == expected


def test_a_packet_for_an_unjoined_namespace_closes_the_connection() -> None:
    record, gate = Recorder(), gevent.event.Event()
    sio = make_sio(record, gate)
    with serving_sio(sio) as running:
        raw = RawPolling(running.port)
        raw.open()
        raw.post("40")
        (reply,) = raw.poll()
        sid = reply[len('40{"sid":"') :].split('"')[0]
        raw.post('42/marker,["mark"]')
        assert raw.poll_until_closed()[-1] in ("1", "400")
        assert record.wait("disconnect") == (sid, "forced server close")
        assert record.values("mark") == []


def test_a_second_connect_to_a_joined_namespace_closes_the_connection() -> None:
    record, gate = Recorder(), gevent.event.Event()
    sio = make_sio(record, gate)
    with serving_sio(sio) as running:
        raw = RawPolling(running.port)
        raw.open()
        raw.post("40")
        raw.poll()
        raw.post("40")
        assert raw.poll_until_closed()[-1] in ("1", "400")
        assert record.wait("disconnect")[1] == "forced server close"


def test_close_disconnects_everyone_and_refuses_new_handshakes(client: NodeClient) -> None:
    record, gate = Recorder(), gevent.event.Event()
    sio = make_sio(record, gate)
    with serving_sio(sio) as running:
        client.connect(running.url, "ws", transports=["websocket"], reconnection=False)
        client.connect(running.url, "poll", transports=["polling"], forceNew=True)
        sids = {connected_sid(client, "ws"), connected_sid(client, "poll")}
        sio.close()
        for sid in sids:
            record.wait("disconnect", lambda v, sid=sid: v[0] == sid)
        assert {sid for sid, _ in record.values("disconnect")} == sids
        assert {reason for _, reason in record.values("disconnect")} == {"server shutting down"}
        assert client.wait_for("disconnect", id="ws")["reason"] == "transport close"
        # the polling client tries to reconnect; its handshakes are refused
        client.wait_for("reconnect_attempt", id="poll")
        assert client.wait_for("reconnect_error", id="poll")
        conn = http.client.HTTPConnection("127.0.0.1", running.port, timeout=5)
        try:
            conn.request("GET", "/socket.io/?EIO=4&transport=polling")
            response = conn.getresponse()
            assert response.status == 503
            assert b"Server shutting down" in response.read()
        finally:
            conn.close()
        assert sio.clients == {}
