"""Official socket.io-client against our server: the broadcast operator.

Acknowledgements from several clients (one per recipient socket, with a deadline),
volatile delivery, fetch_sockets and acting on matching sockets, server_side_emit.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import gevent.event
import pytest

import sockio_wsgi
from tests.helpers.node import NodeClient
from tests.helpers.server import Running, serving_sio
from tests.helpers.sio_interop import (
    RawPolling,
    Recorder,
    barrier,
    connected_sid,
    received,
    socket_of,
)

pytestmark = pytest.mark.node

IDS = ("a", "b", "c")


@pytest.fixture
def sio(record: Recorder) -> sockio_wsgi.Server:
    sio = sockio_wsgi.Server()

    @sio.on("connect")
    def connect(socket: sockio_wsgi.Socket, auth: Any) -> None:
        socket.data["name"] = (auth or {}).get("name")

    @sio.on("join")
    def join(socket: sockio_wsgi.Socket, room: str) -> None:
        socket.join(room)

    @sio.on("poll_room")
    def poll_room(socket: sockio_wsgi.Socket, room: str) -> Any:
        # waits for acks from the sender too: the reader must be released first
        return sio.to(room).timeout(5).emit_with_ack("vote")

    @sio.on("disconnect")
    def disconnect(socket: sockio_wsgi.Socket, reason: str) -> None:
        record.add("disconnect", (socket.id, reason))

    return sio


@pytest.fixture
def running(sio: sockio_wsgi.Server) -> Iterator[Running]:
    with serving_sio(sio) as run:
        yield run


@pytest.fixture
def clients(running: Running) -> Iterator[tuple[NodeClient, dict[str, str]]]:
    """Three sockets on separate connections (alternating transports); id -> sid."""
    with NodeClient() as client:
        for index, id in enumerate(IDS):
            transports = ["websocket"] if index % 2 else ["polling"]
            client.connect(running.url, id, forceNew=True, transports=transports, auth={"name": id})
        yield client, {id: connected_sid(client, id) for id in IDS}


def test_emit_with_ack_collects_one_reply_per_socket(
    clients: tuple[NodeClient, dict[str, str]], sio: sockio_wsgi.Server
) -> None:
    client, _ = clients
    for id in IDS:
        client.auto_ack(id, "ask", [id, "ok"])
    replies = sio.timeout(5).emit_with_ack("ask", 1)
    assert sorted(replies) == [("a", "ok"), ("b", "ok"), ("c", "ok")]
    for id in IDS:
        assert client.wait_for("event", id=id, event="ask")["args"] == [1]


def test_emit_with_ack_times_out_with_the_replies_so_far(
    clients: tuple[NodeClient, dict[str, str]], sio: sockio_wsgi.Server
) -> None:
    client, _ = clients
    client.auto_ack("a", "ask", ["from a"])
    client.auto_ack("b", "ask", ["from b"])
    # "c" reports the event but never answers
    with pytest.raises(sockio_wsgi.TimeoutError) as caught:
        sio.emit_with_ack("ask", timeout=0.5)
    assert sorted(caught.value.replies) == ["from a", "from b"]
    assert client.wait_for("event", id="c", event="ask")["ack_requested"] is True

    # the callback form: callback(err, replies) once
    done: gevent.event.AsyncResult = gevent.event.AsyncResult()
    sio.timeout(0.5).emit("ask", callback=lambda err, replies: done.set((err, replies)))
    err, replies = done.get(timeout=5)
    assert isinstance(err, sockio_wsgi.TimeoutError) and sorted(replies) == ["from a", "from b"]

    done2: gevent.event.AsyncResult = gevent.event.AsyncResult()
    count = (
        sio.except_(_sid(client, "c"))
        .timeout(5)
        .emit("ask", callback=lambda err, replies: done2.set((err, replies)))
    )
    assert count == 2
    err, replies = done2.get(timeout=5)
    assert err is None and sorted(replies) == ["from a", "from b"]


def test_emit_with_ack_to_nobody_returns_at_once(sio: sockio_wsgi.Server) -> None:
    assert sio.to("empty-room").timeout(5).emit_with_ack("ask") == []
    with pytest.raises(ValueError):
        sio.emit_with_ack("ask")  # a broadcast ack needs a deadline
    with pytest.raises(ValueError):
        sio.to("r").emit("ask", callback=lambda err, replies: None)


def test_emit_with_ack_from_a_handler_includes_the_sender(
    clients: tuple[NodeClient, dict[str, str]],
) -> None:
    client, _ = clients
    for id in ("a", "b"):
        client.call(id, "join", "voters")
        client.auto_ack(id, "vote", [id])
    assert sorted(client.call("b", "poll_room", "voters")[0]) == ["a", "b"]


def test_volatile_skips_a_polling_client_without_a_pending_get(
    running: Running, sio: sockio_wsgi.Server
) -> None:
    raw = RawPolling(running.port)
    raw.open()
    assert raw.post("40") == (200, "ok")
    (reply,) = raw.poll()
    assert reply.startswith("40{")
    # no GET is parked now: the transport is not writable, a volatile packet is dropped
    assert sio.volatile.emit("v", 1) == 0
    assert sio.emit("n", 2) == 1
    assert raw.poll() == ['42["n",2]']


def test_volatile_reaches_an_idle_websocket(
    clients: tuple[NodeClient, dict[str, str]], sio: sockio_wsgi.Server
) -> None:
    client, sids = clients
    assert sio.to(sids["b"]).volatile.emit("v", 1) == 1
    assert client.wait_for("event", id="b", event="v")["args"] == [1]


def test_fetch_sockets_returns_live_sockets(
    clients: tuple[NodeClient, dict[str, str]], sio: sockio_wsgi.Server
) -> None:
    client, sids = clients
    client.call("a", "join", "r")
    client.call("b", "join", "r")
    found = {socket.id: socket for socket in sio.in_("r").fetch_sockets()}
    assert set(found) == {sids["a"], sids["b"]}
    a = found[sids["a"]]
    assert a.rooms == {sids["a"], "r"} and a.data == {"name": "a"}
    assert a.handshake.auth == {"name": "a"}
    assert {s.id for s in sio.fetch_sockets()} == set(sids.values())
    assert {s.id for s in sio.in_("r").except_(sids["b"]).fetch_sockets()} == {sids["a"]}

    a.emit("direct", "to a")
    assert client.wait_for("event", id="a", event="direct")["args"] == ["to a"]
    a.join("extra")
    assert "extra" in socket_of(sio, sids["a"]).rooms
    a.leave("extra")
    assert "extra" not in socket_of(sio, sids["a"]).rooms
    found[sids["b"]].disconnect()
    assert client.wait_for("disconnect", id="b")["reason"] == "io server disconnect"


def test_sockets_join_leave_and_disconnect_sockets(
    clients: tuple[NodeClient, dict[str, str]], sio: sockio_wsgi.Server, record: Recorder
) -> None:
    client, sids = clients
    sio.except_(sids["c"]).sockets_join(["x", "y"])
    assert sio.to("x").emit("in_x") == 2
    sio.in_("x").sockets_leave("y")
    assert sio.to("y").emit("in_y") == 0
    barrier(sio, client, *IDS)
    assert received(client, "c", "in_x") == []
    sio.in_("x").disconnect_sockets()
    for id in ("a", "b"):
        assert client.wait_for("disconnect", id=id)["reason"] == "io server disconnect"
    assert socket_of(sio, sids["c"]).connected
    sio.disconnect_sockets(close=True)
    assert client.wait_for("disconnect", id="c")["reason"] == "io server disconnect"
    assert record.wait("disconnect", lambda v: v[0] == sids["c"])[1] == (
        "server namespace disconnect"
    )


def test_server_side_emit_reaches_no_one_locally(
    clients: tuple[NodeClient, dict[str, str]], sio: sockio_wsgi.Server, record: Recorder
) -> None:
    client, _ = clients

    @sio.on_server_side("sync")
    def sync(*args: Any) -> Any:
        record.add("sync", args)
        return "pong"

    sio.server_side_emit("sync", 1)
    assert sio.server_side_emit_with_ack("sync", 2) == []
    barrier(sio, client, *IDS)
    assert record.values("sync") == []
    assert all(received(client, id, "sync") == [] for id in IDS)
    assert sio.of("/").server_count() == 1


def _sid(client: NodeClient, id: str) -> str:
    sid: str = client.state(id)["sid"]
    return sid
