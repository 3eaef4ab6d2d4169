"""Official socket.io-client against our server: rooms and broadcasts.

That a socket did *not* get a broadcast is shown with ``barrier``: a later emit to it has
arrived, and one connection delivers in order.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import sockio_wsgi
from tests.helpers.node import NodeClient
from tests.helpers.server import Running, serving_sio
from tests.helpers.sio_interop import Recorder, barrier, connected_sid, received, socket_of

pytestmark = pytest.mark.node

IDS = ("a", "b", "c")


@pytest.fixture
def sio(record: Recorder) -> sockio_wsgi.Server:
    sio = sockio_wsgi.Server()

    @sio.on("disconnect")
    def disconnect(socket: sockio_wsgi.Socket, reason: str) -> None:
        record.add("disconnect", (socket.id, reason))

    @sio.on("join")
    def join(socket: sockio_wsgi.Socket, *rooms: str) -> Any:
        socket.join(list(rooms))
        return sorted(socket.rooms - {socket.id})

    @sio.on("leave")
    def leave(socket: sockio_wsgi.Socket, room: str) -> Any:
        socket.leave(room)
        return sorted(socket.rooms - {socket.id})

    @sio.on("to_room")
    def to_room(socket: sockio_wsgi.Socket, room: str, text: str) -> None:
        socket.to(room).emit("room_msg", text, socket.id)

    @sio.on("to_all_others")
    def to_all_others(socket: sockio_wsgi.Socket, text: str) -> None:
        socket.broadcast.emit("others_msg", text)

    @sio.on("rooms_of")
    def rooms_of(socket: sockio_wsgi.Socket) -> Any:
        return sorted(socket.rooms)

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
            client.connect(running.url, id, forceNew=True, transports=transports)
        yield client, {id: connected_sid(client, id) for id in IDS}


def test_join_leave_and_rooms(clients: tuple[NodeClient, dict[str, str]]) -> None:
    client, sids = clients
    assert client.call("a", "join", "r1", "r2") == [["r1", "r2"]]
    assert client.call("a", "rooms_of") == [sorted([sids["a"], "r1", "r2"])]
    assert client.call("a", "leave", "r1") == [["r2"]]
    assert client.call("a", "leave", "never-joined") == [["r2"]]


def test_server_emits_to_room(
    clients: tuple[NodeClient, dict[str, str]], sio: sockio_wsgi.Server
) -> None:
    client, _ = clients
    client.call("a", "join", "r")
    client.call("b", "join", "r")
    assert sio.to("r").emit("news", "for r", b"\x01") == 2
    for id in ("a", "b"):
        assert client.wait_for("event", id=id, event="news")["args"] == ["for r", b"\x01"]
    barrier(sio, client, *IDS)
    assert received(client, "c", "news") == []

    # after leaving, the room no longer reaches the socket
    client.call("a", "leave", "r")
    assert sio.to("r").emit("news", "again") == 1
    assert client.wait_for("event", id="b", event="news")["args"] == ["again"]
    barrier(sio, client, *IDS)
    assert received(client, "a", "news") == [["for r", b"\x01"]]


def test_several_rooms_reach_a_socket_once(
    clients: tuple[NodeClient, dict[str, str]], sio: sockio_wsgi.Server
) -> None:
    client, _ = clients
    client.call("a", "join", "r1", "r2")
    client.call("b", "join", "r2")
    assert sio.to("r1").to("r2").emit("multi", 1) == 2
    assert sio.to(["r1", "r2", "empty"]).emit("multi", 2) == 2
    barrier(sio, client, *IDS)
    assert received(client, "a", "multi") == [[1], [2]]
    assert received(client, "b", "multi") == [[1], [2]]
    assert received(client, "c", "multi") == []


def test_except(clients: tuple[NodeClient, dict[str, str]], sio: sockio_wsgi.Server) -> None:
    client, sids = clients
    client.call("a", "join", "r", "vip")
    client.call("b", "join", "r")
    client.call("c", "join", "vip")
    assert sio.to("r").except_("vip").emit("x", "r not vip") == 1
    assert sio.except_("vip").emit("x", "all not vip") == 1
    assert sio.to("r").except_(sids["b"]).emit("x", "r not b") == 1
    barrier(sio, client, *IDS)
    assert received(client, "a", "x") == [["r not b"]]
    assert received(client, "b", "x") == [["r not vip"], ["all not vip"]]
    assert received(client, "c", "x") == []


def test_socket_to_room_excludes_sender(
    clients: tuple[NodeClient, dict[str, str]], sio: sockio_wsgi.Server
) -> None:
    client, sids = clients
    for id in IDS:
        client.call(id, "join", "r")
    client.call("a", "to_room", "r", "hello")
    for id in ("b", "c"):
        assert client.wait_for("event", id=id, event="room_msg")["args"] == ["hello", sids["a"]]
    barrier(sio, client, *IDS)
    assert received(client, "a", "room_msg") == []


def test_broadcast_excludes_sender(
    clients: tuple[NodeClient, dict[str, str]], sio: sockio_wsgi.Server
) -> None:
    client, _ = clients
    client.call("b", "to_all_others", "psst")
    for id in ("a", "c"):
        assert client.wait_for("event", id=id, event="others_msg")["args"] == ["psst"]
    barrier(sio, client, *IDS)
    assert received(client, "b", "others_msg") == []


def test_emit_to_a_socket_id(
    clients: tuple[NodeClient, dict[str, str]], sio: sockio_wsgi.Server
) -> None:
    client, sids = clients
    assert sio.to(sids["c"]).emit("direct", "just c") == 1
    assert client.wait_for("event", id="c", event="direct")["args"] == ["just c"]
    barrier(sio, client, *IDS)
    assert received(client, "a", "direct") == received(client, "b", "direct") == []


def test_disconnected_socket_leaves_its_rooms(
    clients: tuple[NodeClient, dict[str, str]], sio: sockio_wsgi.Server, record: Recorder
) -> None:
    client, sids = clients
    client.call("a", "join", "r")
    client.call("b", "join", "r")
    client.disconnect("a")
    client.wait_for("disconnect", id="a")
    assert record.wait("disconnect") == (sids["a"], "client namespace disconnect")
    assert sio.get_socket(sids["a"]) is None
    assert sio.to("r").emit("after", 1) == 1
    assert client.wait_for("event", id="b", event="after")["args"] == [1]


def test_disconnecting_sees_rooms_and_namespaces_are_isolated(
    running: Running, sio: sockio_wsgi.Server, record: Recorder
) -> None:
    @sio.on("disconnecting")
    def disconnecting(socket: sockio_wsgi.Socket, reason: str) -> None:
        record.add("disconnecting", sorted(socket.rooms - {socket.id}))

    other = sio.of("/other")
    with NodeClient() as client:
        client.connect(running.url, "main", transports=["websocket"])
        client.connect(running.url, "other", nsp="/other", transports=["websocket"])
        connected_sid(client, "main")
        other_sid = connected_sid(client, "other")
        client.call("main", "join", "r")
        # same room name and same connection, other namespace: not reached
        assert sio.to("r").emit("ns", "/") == 1
        assert other.emit("ns", "/other") == 1
        assert client.wait_for("event", id="main", event="ns")["args"] == ["/"]
        assert client.wait_for("event", id="other", event="ns")["args"] == ["/other"]
        socket_of(sio, other_sid, "/other").emit("_barrier")
        client.wait_for("event", id="other", event="_barrier")
        assert received(client, "other", "ns") == [["/other"]]
        client.disconnect("main")
        assert record.wait("disconnecting") == ["r"]
