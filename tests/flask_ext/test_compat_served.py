"""The Flask-SocketIO-style app (socketio_app.py) served for real, to the official client.

What test_flask_socketio_compat.py checks through the test client holds on a real server
too: ``request.args`` without Engine.IO's parameters on both transports, tuples as several
arguments, the catch-all handler with its ack, the catch-all namespace.
"""

from __future__ import annotations

import types

import pytest

from tests.flask_ext.test_flask_socketio_compat import load_app
from tests.helpers.node import NodeClient
from tests.helpers.server import serving

pytestmark = pytest.mark.node


@pytest.fixture
def chat() -> types.ModuleType:
    return load_app("flask_ext")


@pytest.mark.parametrize("transports", [["polling"], ["websocket"]])
def test_served_app_matches_the_test_client(chat: types.ModuleType, transports: list[str]) -> None:
    with serving(chat.app) as running, NodeClient() as node:
        node.connect(
            running.url, "ada", transports=transports, query={"room": "lobby", "lang": "en"}
        )
        welcome = node.wait_for("event", id="ada", event="welcome")
        assert welcome["args"][0]["args"] == {"room": "lobby", "lang": "en"}

        assert node.call("ada", "echo", 1, {"a": 2}) == [1, {"a": 2}]
        assert node.wait_for("event", id="ada", event="echo")["args"] == [1, {"a": 2}]

        assert node.call("ada", "anything", {"x": 1}) == ["caught anything"]
        assert node.wait_for("event", id="ada", event="caught")["args"] == ["anything", {"x": 1}]

        node.connect(running.url, "any", "/anywhere", transports=transports)
        assert node.call("any", "where") == ["/anywhere"]
