"""Connection state recovery through flask_ext: ``SocketIO(app,
connection_state_recovery=...)`` reaches the server, and the official client whose
transport was cut gets its sid, rooms, managed session and missed events back."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask, request, session

from flask_ext import SocketIO, emit, join_room
from tests.helpers.node import NodeClient
from tests.helpers.server import serving
from tests.helpers.sio_interop import Recorder

pytestmark = pytest.mark.node


def make_app() -> tuple[Flask, SocketIO, Recorder]:
    app = Flask("recovery")
    app.secret_key = "recovery secret"
    record = Recorder()
    socketio = SocketIO(
        app, connection_state_recovery={"maxDisconnectionDuration": 60_000, "skipMiddlewares": True}
    )

    @socketio.on("connect")
    def connect(auth: Any) -> None:
        session.setdefault("name", (auth or {}).get("name"))
        join_room("users")
        emit("welcome", request.sid)

    @socketio.on("disconnect")
    def disconnect(reason: str) -> None:
        record.add("disconnect", (request.sid, reason))

    @socketio.on("say")
    def say(text: str) -> str:
        emit("said", {"from": session["name"], "text": text}, to="users", include_self=False)
        return "sent"

    @socketio.on("whoami")
    def whoami() -> Any:
        return session["name"]

    return app, socketio, record


def test_recovers_through_the_extension() -> None:
    app, socketio, record = make_app()
    assert socketio.server is not None and socketio.server.recovery is not None
    with serving(app) as running, NodeClient() as node:
        node.connect(running.url, "ada", auth={"name": "ada"}, reconnection=False)
        sid = node.wait_for("connect", id="ada")["sid"]
        welcome = node.wait_for("event", id="ada", event="welcome")
        assert welcome["args"][0] == sid and isinstance(welcome["args"][1], str)
        node.connect(running.url, "bob", auth={"name": "bob"}, forceNew=True)
        node.wait_for("connect", id="bob")

        node.drop("ada")
        node.wait_for("disconnect", id="ada")
        reason = record.wait("disconnect", lambda v: v[0] == sid)[1]
        assert reason in ("transport close", "transport error")
        assert node.call("bob", "say", "while away") == ["sent"]

        node.open("ada")
        again = node.wait_for("connect", id="ada")
        assert again["sid"] == sid and again["recovered"] is True
        said = node.wait_for("event", id="ada", event="said")
        assert said["args"][0] == {"from": "bob", "text": "while away"}
        assert node.call("ada", "whoami") == ["ada"]  # the managed session came back
        assert node.call("bob", "say", "live") == ["sent"]
        live = node.wait_for("event", id="ada", event="said")
        assert live["args"][0]["text"] == "live"
