"""Official socket.io-client against our server: namespaces, auth and refusals, handshake."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import sockio_wsgi
from tests.helpers.node import NodeClient
from tests.helpers.server import Running, serving_sio
from tests.helpers.sio_interop import Recorder, connected_sid

pytestmark = pytest.mark.node


@pytest.fixture
def sio(record: Recorder) -> sockio_wsgi.Server:
    sio = sockio_wsgi.Server()

    @sio.on("connect")
    def connect(socket: sockio_wsgi.Socket, auth: Any) -> Any:
        record.add("connect", (socket.nsp, auth))
        if isinstance(auth, dict):
            if auth.get("refuse") == "raise":
                raise sockio_wsgi.ConnectionRefusedError("not welcome", {"k": 1})
            if auth.get("refuse") == "false":
                return False
            if auth.get("refuse") == "crash":
                raise RuntimeError("handler bug")
        return None

    @sio.on("where")
    def where(socket: sockio_wsgi.Socket) -> Any:
        return socket.nsp, socket.id

    chat = sio.of("/chat")

    @chat.on("connect")
    def chat_connect(socket: sockio_wsgi.Socket, auth: Any) -> None:
        record.add("connect", (socket.nsp, auth))

    @chat.on("where")
    def chat_where(socket: sockio_wsgi.Socket) -> Any:
        return socket.nsp, socket.id

    @chat.on("shout")
    def shout(socket: sockio_wsgi.Socket, text: str) -> None:
        chat.emit("shouted", text)

    @sio.on("remember")
    def remember(socket: sockio_wsgi.Socket, key: str, value: Any) -> None:
        socket.data[key] = value

    @sio.on("recall")
    def recall(socket: sockio_wsgi.Socket) -> Any:
        return dict(socket.data)

    @sio.on("handshake")
    def handshake(socket: sockio_wsgi.Socket) -> Any:
        hs = socket.handshake
        return {
            "headers": hs.headers,
            "query": hs.query,
            "auth": hs.auth,
            "address": hs.address,
            "time": hs.time,
            "issued": hs.issued,
            "has_environ": "REQUEST_METHOD" in hs.environ,
        }

    return sio


@pytest.fixture
def running(sio: sockio_wsgi.Server) -> Iterator[Running]:
    with serving_sio(sio) as run:
        yield run


@pytest.mark.parametrize("transports", [["polling", "websocket"], ["websocket"], ["polling"]])
def test_two_namespaces_share_one_connection(
    client: NodeClient, running: Running, transports: list[str]
) -> None:
    client.connect(running.url, "main", transports=transports)
    client.connect(running.url, "chat", nsp="/chat", transports=transports)
    main = client.wait_for("connect", id="main")
    chat = client.wait_for("connect", id="chat")
    assert main["engine_sid"] == chat["engine_sid"]
    assert main["sid"] != chat["sid"]
    assert client.call("main", "where") == ["/", main["sid"]]
    assert client.call("chat", "where") == ["/chat", chat["sid"]]

    # an unknown namespace on the same connection is refused, the others keep working
    client.connect(running.url, "bad", nsp="/nowhere", transports=transports)
    error = client.wait_for("connect_error", id="bad")
    assert error["message"] == "Invalid namespace"
    assert client.call("main", "where") == ["/", main["sid"]]
    assert client.call("chat", "where") == ["/chat", chat["sid"]]
    client.emit("chat", "shout", "hi")
    assert client.wait_for("event", id="chat", event="shouted")["args"] == ["hi"]
    assert client.state("main")["connected"] is True

    # leaving one namespace leaves the other (and the connection) up
    client.disconnect("chat")
    assert client.wait_for("disconnect", id="chat")["reason"] == "io client disconnect"
    assert client.call("main", "where") == ["/", main["sid"]]


def test_auth_reaches_connect_handler(
    client: NodeClient, running: Running, record: Recorder
) -> None:
    auth = {"token": "s3cret", "n": [1, 2]}
    client.connect(running.url, "c1", auth=auth)
    client.connect(running.url, "c2", nsp="/chat", auth={"other": True})
    connected_sid(client, "c1")
    connected_sid(client, "c2")
    assert record.wait("connect", lambda v: v[0] == "/") == ("/", auth)
    assert record.wait("connect", lambda v: v[0] == "/chat") == ("/chat", {"other": True})


def test_no_auth_is_an_empty_dict_or_none(
    client: NodeClient, running: Running, record: Recorder
) -> None:
    client.connect(running.url, "c1", transports=["websocket"])
    connected_sid(client, "c1")
    _, auth = record.wait("connect")
    assert auth in (None, {})
    assert client.call("c1", "handshake")[0]["auth"] == {}


@pytest.mark.parametrize("transports", [["polling"], ["websocket"]])
def test_refusal_with_message_and_data(
    client: NodeClient, running: Running, sio: sockio_wsgi.Server, transports: list[str]
) -> None:
    client.connect(
        running.url, "c1", auth={"refuse": "raise"}, transports=transports, reconnection=False
    )
    error = client.wait_for("connect_error", id="c1")
    assert error["message"] == "not welcome"
    assert error["data"] == {"k": 1}
    assert client.state("c1")["connected"] is False
    assert sio.of("/").sockets == {}
    assert all(m["type"] != "connect" for m in client.messages)


@pytest.mark.parametrize("refuse", ["false", "crash"])
def test_refusal_by_returning_false_or_failing(
    client: NodeClient, running: Running, sio: sockio_wsgi.Server, refuse: str
) -> None:
    client.connect(running.url, "c1", auth={"refuse": refuse}, reconnection=False)
    error = client.wait_for("connect_error", id="c1")
    assert error["message"]  # a reason the client can show
    assert client.state("c1")["connected"] is False
    assert sio.of("/").sockets == {}


def test_refused_socket_does_not_break_others(client: NodeClient, running: Running) -> None:
    client.connect(running.url, "chat", nsp="/chat")
    connected_sid(client, "chat")
    # same manager (multiplexed): the refusal of "/" must not take "/chat" down
    client.connect(running.url, "main", auth={"refuse": "raise"})
    assert client.wait_for("connect_error", id="main")["message"] == "not welcome"
    assert client.call("chat", "where")[0] == "/chat"


def test_handshake_fields(client: NodeClient, running: Running) -> None:
    client.connect(
        running.url,
        "c1",
        query={"room": "lobby", "v": "2"},
        extraHeaders={"x-custom": "yes"},
        auth={"token": "t"},
        transports=["polling", "websocket"],
    )
    connected_sid(client, "c1")
    (hs,) = client.call("c1", "handshake")
    assert hs["query"]["room"] == "lobby" and hs["query"]["v"] == "2"
    assert hs["query"]["EIO"] == "4" and hs["query"]["transport"] == "polling"
    assert hs["headers"]["x-custom"] == "yes"
    assert hs["headers"]["host"] == f"127.0.0.1:{running.port}"
    assert hs["auth"] == {"token": "t"}
    assert hs["address"] == "127.0.0.1"
    assert hs["time"].endswith("GMT") and isinstance(hs["issued"], int)
    assert hs["has_environ"] is True


def test_socket_data_persists_across_events(client: NodeClient, running: Running) -> None:
    client.connect(running.url, "a", transports=["websocket"])
    client.connect(running.url, "b", transports=["websocket"], forceNew=True)
    connected_sid(client, "a")
    connected_sid(client, "b")
    client.emit("a", "remember", "name", "alice")
    client.emit("a", "remember", "score", 3)
    client.emit("b", "remember", "name", "bob")
    assert client.call("a", "recall") == [{"name": "alice", "score": 3}]
    assert client.call("b", "recall") == [{"name": "bob"}]


def test_connect_again_after_a_refusal(client: NodeClient, running: Running, sio: Any) -> None:
    """A refused namespace can be joined again on the same connection (new attempt)."""
    attempts: list[int] = []

    @sio.on("connect", namespace="/picky")
    def picky(socket: sockio_wsgi.Socket, auth: Any) -> None:
        attempts.append(1)
        if len(attempts) == 1:
            raise sockio_wsgi.ConnectionRefusedError("try again")

    client.connect(running.url, "main")
    main = client.wait_for("connect", id="main")
    client.connect(running.url, "picky", nsp="/picky")
    assert client.wait_for("connect_error", id="picky")["message"] == "try again"
    client.open("picky")
    again = client.wait_for("connect", id="picky")
    assert again["engine_sid"] == main["engine_sid"]
    assert len(attempts) == 2


def test_connect_handler_may_emit_and_join(
    client: NodeClient, running: Running, sio: sockio_wsgi.Server
) -> None:
    @sio.on("connect", namespace="/eager")
    def eager(socket: sockio_wsgi.Socket, auth: Any) -> None:
        socket.join("early")
        socket.emit("welcome", "first", b"\x00")
        sio.of("/eager").to("early").emit("room_hello", 1)

    client.connect(running.url, "c1", nsp="/eager", transports=["websocket"])
    connected_sid(client, "c1")
    welcome = client.wait_for("event", id="c1", event="welcome")
    assert welcome["args"] == ["first", b"\x00"]
    assert client.wait_for("event", id="c1", event="room_hello")["args"] == [1]
    # nothing arrived before "connect"
    kinds = [m["type"] for m in client.messages if m.get("id") == "c1"]
    assert kinds.index("connect") < kinds.index("event")


@pytest.mark.parametrize("transports", [["polling"], ["websocket"]])
def test_connect_handler_may_disconnect(
    client: NodeClient, running: Running, sio: sockio_wsgi.Server, transports: list[str]
) -> None:
    left: list[str] = []
    nsp = sio.of("/brief")

    @nsp.on("connect")
    def brief(socket: sockio_wsgi.Socket, auth: Any) -> None:
        socket.join("brief-room")
        socket.disconnect()

    @nsp.on("disconnect")
    def brief_left(socket: sockio_wsgi.Socket, reason: str) -> None:
        left.append(reason)

    client.connect(running.url, "c1", nsp="/brief", transports=transports)
    assert client.wait_for("disconnect", id="c1")["reason"] == "io server disconnect"
    client.ping()
    assert nsp.sockets == {}
    assert nsp.to("brief-room").emit("x") == 0
    assert left == ["server namespace disconnect"]
