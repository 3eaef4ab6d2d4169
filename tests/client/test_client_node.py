"""Interop: our Python client against the official Node ``socket.io`` 4.8 server
(tests/node/echo_server.js and recovery_server.js), including connection state
recovery (pid and offset presented on reconnection, missed events replayed)."""

from __future__ import annotations

import queue
from collections.abc import Iterator
from typing import Any

import pytest

import sockio_wsgi
from tests.helpers.client import assert_no_client_threads
from tests.helpers.node import NodeProcess, start_node_script

pytestmark = pytest.mark.node

TRANSPORTS = [None, ["polling"], ["websocket"]]
IDS = ["upgrade", "polling", "websocket"]
FAST = {"reconnection_delay": 0.1, "reconnection_delay_max": 0.2}


@pytest.fixture
def echo_server() -> Iterator[str]:
    process, ready = start_node_script("echo_server.js")
    with process:
        yield f"http://127.0.0.1:{ready['port']}"


@pytest.fixture
def recovery_server() -> Iterator[tuple[NodeProcess, str]]:
    process, ready = start_node_script("recovery_server.js")
    with process:
        yield process, f"http://127.0.0.1:{ready['port']}"


@pytest.mark.parametrize("transports", TRANSPORTS, ids=IDS)
def test_round_trips_with_node_server(echo_server: str, transports: list[str] | None) -> None:
    client = sockio_wsgi.Client()
    pongs: queue.Queue[Any] = queue.Queue()
    answers: queue.Queue[Any] = queue.Queue()
    client.on("pong", lambda data: pongs.put(data))
    client.on("answer", answers.put)
    client.on("ask", lambda *args: ["reply", *args])
    try:
        client.connect(echo_server, transports=transports)
        assert client.emit_with_ack("echo", 1, b"\x00\xff", {"b": [b"z"]}, timeout=5) == (
            1,
            b"\x00\xff",
            {"b": [b"z"]},
        )
        client.emit("ping_me", "x")
        assert pongs.get(timeout=5) == {"bin": bytes([0, 1, 2, 253, 254, 255]), "got": ["x"]}
        client.emit("ask_me", 7)
        assert answers.get(timeout=5) == {"reply": [["reply", 7]]}
        if transports is None:
            for _ in range(50):
                if client.transport == "websocket":
                    break
                client.emit_with_ack("echo", timeout=5)
        assert client.transport == ("polling" if transports == ["polling"] else "websocket")
    finally:
        client.disconnect()
    assert_no_client_threads()


def test_simple_client_with_node_server(echo_server: str) -> None:
    with sockio_wsgi.SimpleClient() as simple:
        simple.connect(echo_server, transports=["websocket"])
        assert simple.call("echo", "hi", timeout=5) == "hi"
        simple.emit("ping_me")
        event, data = simple.receive(timeout=5)
        assert event == "pong" and data["got"] == []
    assert_no_client_threads()


@pytest.mark.parametrize("transports", TRANSPORTS, ids=IDS)
def test_connection_state_recovery(
    recovery_server: tuple[NodeProcess, str], transports: list[str] | None
) -> None:
    process, url = recovery_server
    client = sockio_wsgi.Client(**FAST)
    connects: queue.Queue[bool] = queue.Queue()
    events: queue.Queue[tuple[str, tuple[Any, ...]]] = queue.Queue()
    reasons: queue.Queue[str] = queue.Queue()
    client.on("connect", lambda: connects.put(client.recovered))
    client.on("disconnect", reasons.put)
    client.on_any(lambda event, *args: events.put((event, args)))
    try:
        client.connect(url, auth={"token": "t"}, transports=transports)
        assert connects.get(timeout=5) is False
        first = process.wait_for("connection")
        assert first["recovered"] is False and first["auth"] == {"token": "t"}
        client.emit("tick", 1)
        event, args = events.get(timeout=5)
        assert event == "tock" and args[0] == 1 and isinstance(args[1], str)  # the offset
        sid = client.sid
        client.emit("drop")
        assert reasons.get(timeout=5) == "transport close"
        assert process.wait_for("disconnect")["reason"] in ("transport close", "forced close")
        assert connects.get(timeout=10) is True  # recovered on reconnection
        second = process.wait_for("connection")
        assert second["recovered"] is True and second["id"] == sid == client.sid
        assert second["auth"]["token"] == "t" and second["auth"]["pid"]
        missed = [events.get(timeout=5) for _ in range(2)]
        assert [(e, a[0]) for e, a in missed] == [("missed", 1), ("missed", 2)]
        assert client.emit_with_ack("echo", "after", timeout=5) == "after"
    finally:
        client.disconnect()
    assert_no_client_threads()


def test_no_recovery_after_server_disconnect(recovery_server: tuple[NodeProcess, str]) -> None:
    process, url = recovery_server
    client = sockio_wsgi.Client(**FAST)
    reasons: queue.Queue[str] = queue.Queue()
    client.on("disconnect", reasons.put)
    client.connect(url)
    process.wait_for("connection")
    client.emit("kick")
    assert reasons.get(timeout=5) == "io server disconnect"
    assert client.wait(5)
    assert not client.recovered
    assert_no_client_threads()
