"""emit, send, call, join_room, leave_room, close_room, rooms, disconnect: every keyword."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask, request

import sockio_wsgi
from flask_ext import (
    SocketIO,
    SocketIOTestClient,
    call,
    close_room,
    disconnect,
    emit,
    join_room,
    leave_room,
    rooms,
    send,
)

acks: list[Any] = []
socketio = SocketIO()


@socketio.on("join")
def on_join(room: str, sid: str | None = None) -> list[str]:
    join_room(room, sid=sid)
    return rooms(sid=sid)


@socketio.on("leave")
def on_leave(room: str) -> list[str]:
    leave_room(room)
    return rooms()


@socketio.on("close")
def on_close(room: str) -> None:
    close_room(room)


@socketio.on("rooms_of")
def rooms_of(sid: str) -> list[str]:
    return rooms(sid=sid, namespace="/")


@socketio.on("emit")
def on_emit(kwargs: dict[str, Any]) -> None:
    emit("out", request.sid, **kwargs)


@socketio.on("emit_cb")
def on_emit_cb(to: str | None = None) -> None:
    def got(*reply: Any) -> None:
        acks.append((request.sid, *reply))  # runs in the emitting handler's context

    emit("ask", "question", to=to, callback=got)


@socketio.on("send")
def on_send(data: Any, kwargs: dict[str, Any]) -> None:
    send(data, **kwargs)


@socketio.on("call")
def on_call(to: str | None = None) -> Any:
    return call("quiz", "2+2", to=to, timeout=5)


@socketio.on("call", namespace="/other")
def on_call_other() -> Any:
    return call("quiz", "3+3", timeout=5)


@socketio.on("emit_ns")
def on_emit_ns() -> None:
    emit("cross", "from root", namespace="/other", broadcast=True)


@socketio.on("kick")
def on_kick(sid: str | None = None) -> None:
    disconnect(sid=sid)


@pytest.fixture
def clients() -> Iterator[tuple[SocketIOTestClient, SocketIOTestClient, SocketIOTestClient]]:
    acks.clear()
    app = Flask("helpers")
    socketio.init_app(app)
    a, b, c = (socketio.test_client(app) for _ in range(3))
    yield a, b, c
    for client in (a, b, c):
        client.__exit__(None, None, None)


def names(client: SocketIOTestClient, namespace: str | None = None) -> list[Any]:
    return [(m["name"], m["args"]) for m in client.get_received(namespace)]


def test_rooms_join_leave_close(clients: Any) -> None:
    a, b, c = clients
    sid_a, sid_b = a.sids["/"], b.sids["/"]
    assert a.emit("join", "red", callback=True) == sorted(["red", sid_a])
    assert a.emit("join", "blue", sid_b, callback=True) == sorted(["blue", sid_b])  # sid=
    assert a.emit("rooms_of", sid_b, callback=True) == sorted(["blue", sid_b])
    assert a.emit("leave", "red", callback=True) == [sid_a]
    b.emit("join", "red")
    c.emit("join", "red")
    a.emit("close", "red")
    assert b.emit("rooms_of", sid_b, callback=True) == sorted(["blue", sid_b])
    assert c.emit("leave", "nothing", callback=True) == [c.sids["/"]]


def test_emit_targets(clients: Any) -> None:
    a, b, c = clients
    sid_a, sid_b, sid_c = a.sids["/"], b.sids["/"], c.sids["/"]
    for client in (a, b):
        client.emit("join", "room1")

    a.emit("emit", {})  # default: back to the sender only
    assert names(a) == [("out", [sid_a])] and names(b) == [] and names(c) == []

    a.emit("emit", {"broadcast": True})
    assert [names(x) for x in (a, b, c)] == [[("out", [sid_a])]] * 3

    a.emit("emit", {"broadcast": True, "include_self": False})
    assert (names(a), names(b), names(c)) == ([], [("out", [sid_a])], [("out", [sid_a])])

    a.emit("emit", {"to": "room1"})
    assert (names(a), names(b), names(c)) == ([("out", [sid_a])], [("out", [sid_a])], [])

    a.emit("emit", {"room": "room1", "include_self": False})
    assert (names(a), names(b), names(c)) == ([], [("out", [sid_a])], [])

    a.emit("emit", {"to": [sid_b, sid_c]})  # several sids (each socket's own room)
    assert (names(a), names(b), names(c)) == ([], [("out", [sid_a])], [("out", [sid_a])])

    a.emit("emit", {"broadcast": True, "skip_sid": sid_c})
    assert (names(a), names(b), names(c)) == ([("out", [sid_a])], [("out", [sid_a])], [])

    a.emit("emit", {"broadcast": True, "skip_sid": [sid_a, sid_b]})
    assert (names(a), names(b), names(c)) == ([], [], [("out", [sid_a])])

    a.emit("emit", {"namespace": "/", "to": sid_c})
    assert (names(a), names(b), names(c)) == ([], [], [("out", [sid_a])])


def test_emit_into_another_namespace(clients: Any) -> None:
    a, b, _ = clients
    b.connect("/other")
    a.emit("emit_ns")
    assert names(b, "/other") == [("cross", ["from root"])]
    assert names(b) == []


def test_send_keywords(clients: Any) -> None:
    a, b, _ = clients
    a.emit("send", "hello", {})
    assert names(a) == [("message", "hello")]
    a.emit("send", {"k": 1}, {"json": True, "broadcast": True, "include_self": False})
    assert names(a) == [] and names(b) == [("json", {"k": 1})]
    a.emit("send", "to b", {"to": b.sids["/"]})
    assert names(b) == [("message", "to b")]


def test_emit_callback_gets_the_clients_ack(clients: Any) -> None:
    a, b, _ = clients
    a.on("ask", lambda question: ("answer", question))
    b.on("ask", lambda question: "b answers")
    a.emit("emit_cb")  # back to the sender
    a.emit("emit_cb", b.sids["/"])
    a.get_received()  # a barrier: the acks above went back before the server saw it
    b.get_received()
    assert sorted(acks, key=len) == sorted(
        [(a.sids["/"], "b answers"), (a.sids["/"], "answer", "question")], key=len
    )


def test_call_waits_for_the_clients_answer(clients: Any) -> None:
    a, b, _ = clients
    a.on("quiz", lambda q: {"q": q, "a": 4})
    b.on("quiz", lambda q: "b: 4")
    assert a.emit("call", callback=True) == {"q": "2+2", "a": 4}
    assert a.emit("call", b.sids["/"], callback=True) == "b: 4"
    b.connect("/other")
    assert b.emit("call", callback=True, namespace="/other") == "b: 4"


def test_call_outside_a_handler_and_without_an_answer(clients: Any) -> None:
    a, _, c = clients
    a.on("quiz", lambda q: q + "!")
    with a.app.app_context():  # this module's extension serves one app per test
        assert socketio.call("quiz", "hi", to=a.sids["/"], timeout=5) == "hi!"
        with pytest.raises(ValueError, match="to="):
            socketio.call("quiz", "hi")
        with pytest.raises(sockio_wsgi.TimeoutError):
            socketio.call("quiz", "nobody answers", to=c.sids["/"], timeout=0.2)


def test_disconnect_from_a_handler(clients: Any) -> None:
    a, b, _ = clients
    a.emit("kick", b.sids["/"])
    assert not b.is_connected() and a.is_connected()
    a.emit("kick")  # the sender itself
    assert not a.is_connected()


def test_helpers_outside_handlers_say_so() -> None:
    with pytest.raises(RuntimeError, match="inside Socket.IO handlers"):
        emit("x")
    app = Flask("lonely")
    SocketIO(app)
    with app.app_context(), pytest.raises(RuntimeError, match="inside a Socket.IO handler"):
        join_room("r")
