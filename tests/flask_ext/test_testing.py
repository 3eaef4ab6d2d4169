"""The test client itself: real Engine.IO/Socket.IO through the app, deterministic waits."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from typing import Any

import pytest
from flask import Flask, request

from flask_ext import SocketIO, emit, send
from tests.helpers.processes import ROOT


def make() -> tuple[Flask, SocketIO, list[Any]]:
    app = Flask("testing")
    socketio = SocketIO(app)
    log: list[Any] = []

    @socketio.on("echo")
    def echo(*args: Any) -> tuple[Any, ...]:
        return args

    @socketio.on("message")
    def message(data: Any) -> Any:
        send(data)
        return data

    @socketio.on("json")
    def json_event(data: Any) -> None:
        send(data, json=True)

    @socketio.on("fan_out")
    def fan_out(text: str) -> None:
        emit("fan", text, broadcast=True, include_self=False)

    @socketio.on("slow")
    def slow() -> str:
        socketio.sleep(0.05)  # a handler that waits: emit() still returns after it
        emit("slept")
        return "done"

    @socketio.on("bye")
    def bye() -> None:
        emit("last words")
        from flask_ext import disconnect

        disconnect()

    @socketio.on("disconnect")
    def gone(reason: str) -> None:
        log.append(("disconnect", request.namespace, reason))

    @socketio.on("connect", namespace="/b")
    def connect_b() -> None:
        emit("hello b")

    @socketio.on("echo", namespace="/b")
    def echo_b(value: Any) -> Any:
        emit("from b", value)
        return {"b": value}

    @socketio.on("disconnect", namespace="/b")
    def gone_b() -> None:
        log.append(("disconnect", "/b"))

    return app, socketio, log


def test_acks_with_several_values_and_binary() -> None:
    app, socketio, _ = make()
    with socketio.test_client(app) as client:
        assert client.emit("echo", 1, callback=True) == 1
        assert client.emit("echo", 1, "two", [3], callback=True) == [1, "two", [3]]
        assert client.emit("echo", callback=True) == []
        assert client.emit("echo", 1) is None  # without callback=True: nothing returned
        blob = bytes(range(256))
        assert client.emit("echo", {"blob": blob, "n": [b"x"]}, callback=True) == {
            "blob": blob,
            "n": [b"x"],
        }


def test_send_message_and_json() -> None:
    app, socketio, _ = make()
    with socketio.test_client(app) as client:
        assert client.send("hi", callback=True) == "hi"
        client.send({"a": [1]}, json=True)
        assert client.get_received() == [
            {"name": "message", "args": "hi", "namespace": "/"},
            {"name": "json", "args": {"a": [1]}, "namespace": "/"},
        ]


def test_emit_returns_after_the_handler_and_its_emits() -> None:
    app, socketio, _ = make()
    with socketio.test_client(app) as a, socketio.test_client(app) as b:
        assert a.emit("slow", callback=True) == "done"
        assert a.get_received() == [{"name": "slept", "args": [], "namespace": "/"}]
        a.emit("fan_out", "to everyone else")
        assert b.get_received() == [{"name": "fan", "args": ["to everyone else"], "namespace": "/"}]
        assert a.get_received() == []


def test_several_namespaces_on_one_connection() -> None:
    app, socketio, log = make()
    client = socketio.test_client(app)
    client.connect("/b")
    assert client.is_connected() and client.is_connected("/b")
    assert client.sids["/"] != client.sids["/b"]
    assert client.get_received("/b") == [{"name": "hello b", "args": [], "namespace": "/b"}]
    assert client.emit("echo", 5, callback=True, namespace="/b") == {"b": 5}
    assert client.emit("echo", 6, callback=True) == 6
    assert client.get_received() == []
    assert client.get_received("/b") == [{"name": "from b", "args": [5], "namespace": "/b"}]
    client.disconnect("/b")  # returns after the namespace's disconnect handler
    assert log == [("disconnect", "/b")]
    assert client.is_connected() and not client.is_connected("/b")
    with pytest.raises(RuntimeError, match="not connected to /b"):
        client.emit("echo", 1, namespace="/b")
    client.disconnect()
    assert log[-1] == ("disconnect", "/", "client namespace disconnect")
    assert client.eio_sid is None


def test_server_side_disconnect_during_emit() -> None:
    app, socketio, log = make()
    client = socketio.test_client(app)
    assert client.emit("bye", callback=True) is None
    assert not client.is_connected()
    assert client.get_received() == [{"name": "last words", "args": [], "namespace": "/"}]
    assert log == [("disconnect", "/", "server namespace disconnect")]


def test_unknown_namespace_is_refused() -> None:
    app, socketio, _ = make()
    client = socketio.test_client(app, namespace="/nowhere")
    assert not client.is_connected("/nowhere")
    assert client.get_connect_error("/nowhere") == {"message": "Invalid namespace"}


def test_a_handler_that_never_finishes_times_out() -> None:
    app, socketio, _ = make()

    @socketio.on("hang")
    def hang() -> None:
        from flask_ext import call

        call("never answered", timeout=None)

    with socketio.test_client(app) as client:
        client.timeout = 0.5
        with pytest.raises(TimeoutError, match="'hang'"):
            client.emit("hang")


UNPATCHED = """
import gevent.monkey
from flask import Flask
from flask_ext import SocketIO, emit

assert not gevent.monkey.is_module_patched("socket")
app = Flask("plain")
socketio = SocketIO(app)

@socketio.on("ping")
def ping(n):
    emit("pong", n + 1)
    return "ack"

client = socketio.test_client(app)
assert client.emit("ping", 1, callback=True) == "ack"
assert client.get_received() == [{"name": "pong", "args": [2], "namespace": "/"}]
client.disconnect()
print("ok")
"""


def test_works_in_a_process_that_is_not_monkey_patched() -> None:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(UNPATCHED)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
