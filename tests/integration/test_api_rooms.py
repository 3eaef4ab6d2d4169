"""Official socket.io-client against our server: room events and the keyword API.

``create-room``/``join-room``/``leave-room``/``delete-room`` come from the adapter in
socket.io's order; ``sio.emit(to=, room=, skip_sid=, callback=)``, ``enter_room``,
``leave_room``, ``close_room`` and ``rooms`` are the Flask-SocketIO style names.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import gevent.queue
import pytest

import sockio_wsgi
from tests.helpers.node import NodeClient
from tests.helpers.server import Running, serving_sio
from tests.helpers.sio_interop import Recorder, barrier, connected_sid, received

pytestmark = pytest.mark.node

IDS = ("a", "b", "c")


@pytest.fixture
def sio(record: Recorder) -> sockio_wsgi.Server:
    sio = sockio_wsgi.Server()
    root = sio.of("/")
    for event in ("create-room", "delete-room"):
        root.on(event, lambda room, event=event: record.add("room", (event, room)))
    for event in ("join-room", "leave-room"):
        root.on(event, lambda room, sid, event=event: record.add("room", (event, room, sid)))

    @sio.on("join")
    def join(socket: sockio_wsgi.Socket, room: str) -> None:
        socket.join(room)

    @sio.on("leave")
    def leave(socket: sockio_wsgi.Socket, room: str) -> None:
        socket.leave(room)

    @sio.on("disconnect")
    def disconnect(socket: sockio_wsgi.Socket, reason: str) -> None:
        record.add("disconnect", socket.id)

    return sio


@pytest.fixture
def running(sio: sockio_wsgi.Server) -> Iterator[Running]:
    with serving_sio(sio) as run:
        yield run


@pytest.fixture
def clients(running: Running) -> Iterator[tuple[NodeClient, dict[str, str]]]:
    with NodeClient() as client:
        for index, id in enumerate(IDS):
            transports = ["websocket"] if index % 2 else ["polling"]
            client.connect(running.url, id, forceNew=True, transports=transports)
        yield client, {id: connected_sid(client, id) for id in IDS}


def of_room(record: Recorder, room: str) -> list[tuple[Any, ...]]:
    return [value for value in record.values("room") if value[1] == room]


def test_room_events_in_order(clients: tuple[NodeClient, dict[str, str]], record: Recorder) -> None:
    client, sids = clients
    a, b = sids["a"], sids["b"]
    # every socket is in its own room from the start
    assert of_room(record, a) == [("create-room", a), ("join-room", a, a)]
    client.call("a", "join", "r")
    client.call("b", "join", "r")
    client.call("a", "leave", "r")
    client.disconnect("b")
    record.wait("disconnect")
    assert of_room(record, "r") == [
        ("create-room", "r"),
        ("join-room", "r", a),
        ("join-room", "r", b),
        ("leave-room", "r", a),
        ("leave-room", "r", b),
        ("delete-room", "r"),
    ]
    assert of_room(record, b)[-2:] == [("leave-room", b, b), ("delete-room", b)]


def test_emit_keywords(clients: tuple[NodeClient, dict[str, str]], sio: sockio_wsgi.Server) -> None:
    client, sids = clients
    assert sio.emit("k", 1, to=sids["a"]) == 1
    assert sio.emit("k", 2, room=[sids["a"], sids["b"]]) == 2
    assert sio.emit("k", 3, skip_sid=sids["a"]) == 2
    assert sio.emit("k", 4, skip_sid=[sids["a"], sids["b"]]) == 1
    assert sio.send("hello", to=sids["c"]) == 1
    barrier(sio, client, *IDS)
    assert received(client, "a", "k") == [[1], [2]]
    assert received(client, "b", "k") == [[2], [3]]
    assert received(client, "c", "k") == [[3], [4]]
    assert received(client, "c", "message") == [["hello"]]


def test_emit_callback_runs_for_each_client(
    clients: tuple[NodeClient, dict[str, str]], sio: sockio_wsgi.Server
) -> None:
    client, sids = clients
    for id in IDS:
        client.auto_ack(id, "ask", [id, 1])
    replies: gevent.queue.Queue[Any] = gevent.queue.Queue()
    assert sio.emit("ask", to=sids["b"], callback=lambda *args: replies.put(args)) == 1
    assert replies.get(timeout=5) == ("b", 1)
    sio.emit("ask", skip_sid=sids["b"], callback=lambda *args: replies.put(args))
    assert sorted([replies.get(timeout=5), replies.get(timeout=5)]) == [("a", 1), ("c", 1)]
    client.auto_ack("a", "q", ["answer"])
    assert sio.call("q", to=sids["a"], timeout=5) == "answer"


def test_enter_leave_close_room_and_rooms(
    clients: tuple[NodeClient, dict[str, str]], sio: sockio_wsgi.Server
) -> None:
    client, sids = clients
    sio.enter_room(sids["a"], "r")
    sio.enter_room(sids["b"], ["r", "s"])
    assert sio.rooms(sids["b"]) == sorted([sids["b"], "r", "s"])
    sio.leave_room(sids["b"], "s")
    assert sio.rooms(sids["b"]) == sorted([sids["b"], "r"])
    assert sio.emit("in_r", to="r") == 2
    sio.close_room("r")
    assert sio.emit("in_r", to="r") == 0
    assert sio.rooms(sids["a"]) == [sids["a"]]
    assert sio.rooms("unknown") == []
    sio.get_session(sids["a"])["user"] = "ada"
    assert sio.get_session(sids["a"]) == {"user": "ada"}
    sio.save_session(sids["a"], {"user": "bob"})
    assert sio.get_socket(sids["a"]).data == {"user": "bob"}  # type: ignore[union-attr]
    barrier(sio, client, *IDS)
    assert len(received(client, "a", "in_r")) == 1
