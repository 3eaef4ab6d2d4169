"""The Python client against our server: transports, events, acks, binary, namespaces,
auth, headers, query, path, catch-all handlers, refusal, and threads ending."""

from __future__ import annotations

import queue
import threading
from typing import Any

import pytest

import sockio_wsgi
from sockio_wsgi.client import BadNamespaceError, ConnectionError
from tests.helpers.client import assert_no_client_threads, client_threads
from tests.helpers.server import Running, serving_sio
from tests.helpers.sio_interop import Recorder

TRANSPORTS = [None, ["polling"], ["websocket"]]
IDS = ["upgrade", "polling", "websocket"]


def new_client(clients: list[sockio_wsgi.Client], **kwargs: Any) -> sockio_wsgi.Client:
    client = sockio_wsgi.Client(**kwargs)
    clients.append(client)
    return client


@pytest.mark.parametrize("transports", TRANSPORTS, ids=IDS)
def test_round_trip_with_binary(
    running: Running, clients: list[sockio_wsgi.Client], transports: list[str] | None
) -> None:
    client = new_client(clients)
    client.connect(running.url, transports=transports)
    assert client.connected and client.sid
    reply = client.emit_with_ack("echo", 1, b"\x00\xff", {"deep": [b"x", "y"]}, timeout=5)
    assert reply == (1, b"\x00\xff", {"deep": [b"x", "y"]})
    assert client.emit_with_ack("echo", "one", timeout=5) == "one"
    assert client.emit_with_ack("echo", timeout=5) is None
    expected = "polling" if transports == ["polling"] else "websocket"
    if transports is None:  # the upgrade happens in the background: wait for it with acks
        for _ in range(50):
            if client.transport == "websocket":
                break
            client.emit_with_ack("echo", timeout=5)
    assert client.transport == expected


def test_upgrade_keeps_order(
    running: Running, clients: list[sockio_wsgi.Client], record: Recorder
) -> None:
    """Emits made while the transport upgrades arrive once each, in order."""
    client = new_client(clients)
    client.connect(running.url)
    for i in range(200):
        client.emit("log", i)
    assert client.emit_with_ack("echo", "done", timeout=5) == "done"
    assert [args[0] for args in record.values("log")] == list(range(200))
    for _ in range(50):  # the upgrade finishes in the background: wait for it with acks
        if client.transport == "websocket":
            break
        client.emit_with_ack("echo", timeout=5)
    assert client.transport == "websocket"


@pytest.mark.parametrize("transports", TRANSPORTS, ids=IDS)
def test_server_events_and_acks(
    sio: sockio_wsgi.Server,
    running: Running,
    clients: list[sockio_wsgi.Client],
    record: Recorder,
    transports: list[str] | None,
) -> None:
    client = new_client(clients)
    got: queue.Queue[Any] = queue.Queue()
    client.on("news", lambda *args: got.put(args))
    client.on("question", lambda *args: ("answer", *args))
    client.connect(running.url, transports=transports)
    sio.emit("news", "hot", b"\x01\x02")
    assert got.get(timeout=5) == ("hot", b"\x01\x02")
    client.emit("ask", 41, b"b")
    assert record.wait("answer") == ("answer", 41, b"b")


def test_callback_and_on_any(
    sio: sockio_wsgi.Server, running: Running, clients: list[sockio_wsgi.Client]
) -> None:
    client = new_client(clients)
    incoming: queue.Queue[Any] = queue.Queue()
    outgoing: queue.Queue[Any] = queue.Queue()
    acks: queue.Queue[Any] = queue.Queue()
    client.on_any(lambda event, *args: incoming.put((event, args)))
    client.on_any_outgoing(lambda event, *args: outgoing.put((event, args)))
    client.connect(running.url)
    client.emit("echo", "a", 2, callback=lambda *reply: acks.put(reply))
    assert acks.get(timeout=5) == ("a", 2)
    assert outgoing.get(timeout=5) == ("echo", ("a", 2))
    sio.emit("anything", {"k": "v"})
    assert incoming.get(timeout=5) == ("anything", ({"k": "v"},))


def test_namespaces_share_one_connection(
    running: Running, clients: list[sockio_wsgi.Client], record: Recorder
) -> None:
    client = new_client(clients)
    client.connect(running.url, namespaces=["/", "/chat"])
    assert sorted(client.namespaces) == ["/", "/chat"]
    assert client.emit_with_ack("echo", 1, namespace="/chat", timeout=5) == ("chat", 1)
    assert client.emit_with_ack("echo", 1, timeout=5) == 1
    assert client.get_sid("/chat") != client.get_sid("/")
    sid = record.wait("connect")["handshake"]
    chat_sid = record.wait("chat_connect")
    assert chat_sid == client.get_sid("/chat") and sid is not None
    with pytest.raises(BadNamespaceError):
        client.emit("echo", namespace="/nowhere")


def test_default_namespaces_come_from_handlers(
    running: Running, clients: list[sockio_wsgi.Client]
) -> None:
    client = new_client(clients)
    client.on("news", lambda *a: None, namespace="/chat")
    client.connect(running.url)
    assert client.namespaces == ["/chat"]
    assert client.sid == client.get_sid("/chat")


def test_auth_headers_query_and_path(record: Recorder, clients: list[sockio_wsgi.Client]) -> None:
    from tests.helpers.client import make_sio

    sio = make_sio(record, path="/custom/")
    with serving_sio(sio) as running:
        client = new_client(clients)
        client.connect(
            running.url + "/?from=url",
            auth={"token": "t0"},
            headers={"X-Test": "yes"},
            query={"room": "r1"},
            socketio_path="custom",
        )
        seen = record.wait("connect")
        assert seen["auth"] == {"token": "t0"}
        assert seen["handshake"].headers["x-test"] == "yes"
        assert seen["handshake"].query["room"] == "r1"
        assert seen["handshake"].query["from"] == "url"
        client.disconnect()


def test_connect_error_carries_server_data(clients: list[sockio_wsgi.Client]) -> None:
    sio = sockio_wsgi.Server()

    @sio.on("connect")
    def connect(socket: sockio_wsgi.Socket, auth: Any) -> None:
        if not auth or auth.get("token") != "good":
            raise sockio_wsgi.ConnectionRefusedError("not allowed", {"code": 401})

    errors: queue.Queue[Any] = queue.Queue()
    with serving_sio(sio) as running:
        client = new_client(clients)
        client.on("connect_error", errors.put)
        with pytest.raises(ConnectionError) as info:
            client.connect(running.url, auth={"token": "bad"})
        assert info.value.message == "not allowed"
        assert info.value.data == {"code": 401}
        assert errors.get(timeout=5) == {"message": "not allowed", "data": {"code": 401}}
        assert not client.connected
        client.connect(running.url, auth=lambda: {"token": "good"})
        assert client.connected


def test_unknown_namespace_is_refused(running: Running, clients: list[sockio_wsgi.Client]) -> None:
    client = new_client(clients)
    with pytest.raises(ConnectionError, match="Invalid namespace"):
        client.connect(running.url, namespaces="/missing")


def test_unreachable_server_raises(clients: list[sockio_wsgi.Client]) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    for transports in (["polling"], ["websocket"]):
        client = new_client(clients)
        with pytest.raises(ConnectionError):
            client.connect(f"http://127.0.0.1:{port}", transports=transports)


def test_emit_with_ack_timeout(running: Running, clients: list[sockio_wsgi.Client]) -> None:
    client = new_client(clients)
    client.connect(running.url)
    with pytest.raises(sockio_wsgi.TimeoutError):
        client.emit_with_ack("no_such_handler", timeout=0.3)
    client_timeout = new_client(clients, ack_timeout=0.3)
    client_timeout.connect(running.url)
    with pytest.raises(sockio_wsgi.TimeoutError):
        client_timeout.emit_with_ack("no_such_handler")
    assert client_timeout.emit_with_ack("echo", 5) == 5


def test_handler_may_block_on_an_ack(
    sio: sockio_wsgi.Server, running: Running, clients: list[sockio_wsgi.Client]
) -> None:
    """Handlers run off the reader thread, so one can wait for an ack."""
    client = new_client(clients)
    answers: queue.Queue[Any] = queue.Queue()
    client.on("news", lambda x: answers.put(client.emit_with_ack("echo", x, timeout=5)))
    client.connect(running.url)
    sio.emit("news", "x")
    assert answers.get(timeout=5) == "x"


def test_reserved_and_unencodable(running: Running, clients: list[sockio_wsgi.Client]) -> None:
    client = new_client(clients)
    client.connect(running.url)
    with pytest.raises(ValueError):
        client.emit("connect")
    with pytest.raises(TypeError):
        client.emit("echo", object())


def test_disconnect_reasons_and_threads(running: Running, record: Recorder) -> None:
    client = sockio_wsgi.Client()
    reasons: queue.Queue[str] = queue.Queue()
    client.on("disconnect", reasons.put)
    client.connect(running.url)
    sid = client.sid
    assert client_threads()
    client.disconnect()
    assert reasons.get(timeout=5) == "io client disconnect"
    assert record.wait("disconnect", lambda v: v[0] == sid)[1] == "client namespace disconnect"
    assert not client.connected and client.wait(0)
    assert_no_client_threads()
    with pytest.raises(sockio_wsgi.DisconnectedError):
        client.emit("echo")


@pytest.mark.parametrize("transports", TRANSPORTS, ids=IDS)
@pytest.mark.parametrize("close", [False, True], ids=["namespace", "connection"])
def test_server_disconnect_does_not_reconnect(
    running: Running, clients: list[sockio_wsgi.Client], transports: list[str] | None, close: bool
) -> None:
    client = new_client(clients, reconnection_delay=0.05)
    reasons: queue.Queue[str] = queue.Queue()
    attempts: queue.Queue[int] = queue.Queue()
    client.on("disconnect", reasons.put)
    client.on("reconnect_attempt", attempts.put)
    client.connect(running.url, transports=transports)
    client.emit("kick", close)
    assert reasons.get(timeout=5) == "io server disconnect"
    assert client.wait(5)
    assert attempts.empty()
    assert_no_client_threads()


def test_simple_client(sio: sockio_wsgi.Server, running: Running) -> None:
    with sockio_wsgi.SimpleClient() as simple:
        simple.connect(running.url, auth={"a": 1})
        assert simple.connected and simple.sid
        assert simple.call("echo", 1, 2, timeout=5) == (1, 2)
        simple.emit("echo", "no ack")
        sio.emit("news", "fresh", b"\x00")
        assert simple.receive(timeout=5) == ["news", "fresh", b"\x00"]
        with pytest.raises(sockio_wsgi.TimeoutError):
            simple.receive(timeout=0.1)
    with pytest.raises(sockio_wsgi.DisconnectedError):
        simple.receive(timeout=1)
    assert_no_client_threads()


def test_simple_client_namespace(running: Running) -> None:
    simple = sockio_wsgi.SimpleClient()
    simple.connect(running.url, namespace="/chat", transports="websocket")
    try:
        assert simple.transport == "websocket"
        assert simple.call("echo", "hi", timeout=5) == ("chat", "hi")
    finally:
        simple.disconnect()
    assert_no_client_threads()


def test_many_concurrent_emitters(running: Running, clients: list[sockio_wsgi.Client]) -> None:
    client = new_client(clients)
    client.connect(running.url)
    results: queue.Queue[Any] = queue.Queue()

    def worker(n: int) -> None:
        results.put([client.emit_with_ack("echo", n, b"x" * n, timeout=10) for _ in range(5)])

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(15)
    got = sorted(results.get(timeout=1)[0][0] for _ in range(10))
    assert got == list(range(10))


@pytest.mark.parametrize("transports", TRANSPORTS, ids=IDS)
def test_pings_are_answered(
    record: Recorder, clients: list[sockio_wsgi.Client], transports: list[str] | None
) -> None:
    """With a 0.1 s ping interval and 0.2 s timeout the server drops a client that does
    not pong; a second of traffic later the same session is still there."""
    import time

    from tests.helpers.client import make_sio

    sio = make_sio(record, ping_interval=0.1, ping_timeout=0.2)
    with serving_sio(sio) as running:
        client = new_client(clients)
        reasons: queue.Queue[str] = queue.Queue()
        client.on("disconnect", reasons.put)
        client.connect(running.url, transports=transports)
        sid = client.sid
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            assert client.emit_with_ack("echo", "x", timeout=5) == "x"
        assert client.sid == sid and client.connected
        assert reasons.empty() and not record.values("disconnect")
        client.disconnect()
