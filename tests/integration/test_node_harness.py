"""The Node harness itself, checked against the official socket.io server.

If these fail, interop failures elsewhere say nothing about sockio_wsgi.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.helpers.node import NodeClient, NodeProcessError, start_node_script

pytestmark = pytest.mark.node


@pytest.fixture(scope="module")
def echo_url() -> Iterator[str]:
    server, ready = start_node_script("echo_server.js")
    with server:
        yield f"http://127.0.0.1:{ready['port']}"


def test_polling_upgrades_to_websocket(client: NodeClient, echo_url: str) -> None:
    client.connect(echo_url, "c1")
    opened = client.wait_for("engine_open", id="c1")
    assert opened["transport"] == "polling"
    connected = client.wait_for("connect", id="c1")
    # The CONNECT reply may arrive before or after the upgrade: both are correct.
    assert connected["transport"] in ("polling", "websocket")
    assert connected["sid"] and connected["engine_sid"] == opened["engine_sid"]
    assert client.wait_for("upgrade", id="c1")["transport"] == "websocket"
    state = client.state("c1")
    assert state["connected"] is True
    assert state["transport"] == "websocket"


def test_emit_with_ack(client: NodeClient, echo_url: str) -> None:
    client.connect(echo_url, "c1", transports=["websocket"])
    assert client.wait_for("connect", id="c1")["transport"] == "websocket"
    args = [1, "two", {"three": [3.5, None, True]}]
    assert client.call("c1", "echo", *args) == args


def test_binary_round_trip(client: NodeClient, echo_url: str) -> None:
    client.connect(echo_url, "c1")
    client.wait_for("connect", id="c1")
    payload = bytes(range(256))
    assert client.call("c1", "echo", payload, {"nested": [b"", b"\x00"]}) == [
        payload,
        {"nested": [b"", b"\x00"]},
    ]
    client.emit("c1", "ping_me", "hello", b"\xff")
    pong = client.wait_for("event", id="c1", event="pong")
    assert pong["args"] == [{"bin": bytes([0, 1, 2, 253, 254, 255]), "got": ["hello", b"\xff"]}]
    assert pong["ack_requested"] is False


def test_server_ack_requests(client: NodeClient, echo_url: str) -> None:
    client.connect(echo_url, "auto")
    client.connect(echo_url, "manual", forceNew=True)
    client.wait_for("connect", id="auto")
    client.wait_for("connect", id="manual")

    client.auto_ack("auto", "ask", "echo")
    client.emit("auto", "ask_me", "q", b"\x01")
    asked = client.wait_for("event", id="auto", event="ask")
    assert asked["auto_acked"] is True
    answer = client.wait_for("event", id="auto", event="answer")
    assert answer["args"] == [{"reply": ["q", b"\x01"]}]

    client.emit("manual", "ask_me", "r")
    asked = client.wait_for("event", id="manual", event="ask")
    assert asked["args"] == ["r"] and asked["ack_requested"] is True
    client.ack_reply("manual", asked["ack_ref"], {"ok": True}, b"\x02")
    answer = client.wait_for("event", id="manual", event="answer")
    assert answer["args"] == [{"reply": [{"ok": True}, b"\x02"]}]


def test_msgpack_parser() -> None:
    server, ready = start_node_script("echo_server.js", "msgpack")
    with server, NodeClient() as client:
        client.connect(f"http://127.0.0.1:{ready['port']}", "c1", parser="msgpack")
        client.wait_for("connect", id="c1")
        assert client.call("c1", "echo", b"\x00bin", {"n": 7}) == [b"\x00bin", {"n": 7}]


def test_connect_error_and_disconnect(client: NodeClient, echo_url: str) -> None:
    client.connect(echo_url, "bad", nsp="/nowhere", reconnection=False)
    assert client.wait_for("connect_error", id="bad")["message"] == "Invalid namespace"

    client.connect(echo_url, "c1", transports=["websocket"])
    client.wait_for("connect", id="c1")
    client.disconnect("c1")
    assert client.wait_for("disconnect", id="c1")["reason"] == "io client disconnect"


def test_runner_reports_bad_commands(client: NodeClient) -> None:
    with pytest.raises(NodeProcessError, match="unknown client id"):
        client.emit("missing", "x")
    with pytest.raises(NodeProcessError, match="unknown cmd"):
        client.command("no_such_command")
    client.ping()
