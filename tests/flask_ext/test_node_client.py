"""The official socket.io-client (Node) against a Flask app served by make_server.

Handlers run over real polling and WebSocket connections, with the login session read from
the cookie the client sends.
"""

from __future__ import annotations

import http.cookiejar
import urllib.request
from typing import Any

import pytest
from flask import Flask, request, session

from flask_ext import ConnectionRefusedError, SocketIO, emit, join_room
from tests.helpers.node import NodeClient
from tests.helpers.server import serving

pytestmark = pytest.mark.node


def make_app() -> tuple[Flask, SocketIO]:
    app = Flask("node")
    app.secret_key = "node secret"

    @app.post("/login/<name>")
    def login(name: str) -> str:
        session["user"] = name
        return "ok"

    socketio = SocketIO(app)

    @socketio.on("connect")
    def connect(auth: Any) -> None:
        user = session.get("user")
        if user is None:
            raise ConnectionRefusedError("unauthorized", {"login": "/login/<name>"})
        join_room("users")
        emit("welcome", {"user": user, "sid": request.sid})

    @socketio.on("say")
    def say(text: str) -> str:
        emit("said", {"user": session["user"], "text": text}, to="users", include_self=False)
        return "sent"

    @socketio.on("echo")
    def echo(*args: Any) -> tuple[Any, ...]:
        return args

    return app, socketio


def login_cookie(url: str, name: str) -> str:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    with opener.open(urllib.request.Request(url + f"/login/{name}", method="POST"), timeout=10):
        pass
    return "; ".join(f"{cookie.name}={cookie.value}" for cookie in jar)


def test_official_client_with_the_login_cookie() -> None:
    app, socketio = make_app()
    with serving(app) as running, NodeClient() as node:
        url = running.url
        node.connect(url, "anon", reconnection=False)
        refused = node.wait_for("connect_error", id="anon")
        assert refused["message"] == "unauthorized"
        assert refused["data"] == {"login": "/login/<name>"}

        node.connect(url, "ada", extraHeaders={"Cookie": login_cookie(url, "ada")})
        node.connect(
            url,
            "bob",
            forceNew=True,
            transports=["websocket"],
            extraHeaders={"Cookie": login_cookie(url, "bob")},
        )
        welcome = node.wait_for("event", id="ada", event="welcome")
        sid = node.wait_for("connect", id="ada")["sid"]
        assert welcome["args"][0] == {"user": "ada", "sid": sid}
        assert node.wait_for("event", id="bob", event="welcome")["args"][0]["user"] == "bob"
        node.wait_for("upgrade", id="ada", timeout=10)  # ada moves from polling to WebSocket

        assert node.call("bob", "say", "hi ada") == ["sent"]
        said = node.wait_for("event", id="ada", event="said")
        assert said["args"] == [{"user": "bob", "text": "hi ada"}]
        blob = bytes(range(64))
        assert node.call("ada", "echo", 1, {"b": blob}) == [1, {"b": blob}]
        assert node.call("bob", "echo", "x") == ["x"]
