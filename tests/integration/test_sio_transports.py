"""Official socket.io-client against our server: transports, acks both ways, binary."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import gevent.event
import pytest

import sockio_wsgi
from tests.helpers.node import NodeClient
from tests.helpers.server import Running, serving_sio
from tests.helpers.sio_interop import Recorder, connected_sid, socket_of

pytestmark = pytest.mark.node

SioRun = tuple[sockio_wsgi.Server, Running]

TRANSPORTS = {
    "polling-upgrade": ["polling", "websocket"],
    "websocket-only": ["websocket"],
    "polling-only": ["polling"],
}


def make_sio(record: Recorder, **kwargs: Any) -> sockio_wsgi.Server:
    sio = sockio_wsgi.Server(**kwargs)

    @sio.on("connect")
    def connect(socket: sockio_wsgi.Socket, auth: Any) -> None:
        record.add("connect", socket)

    @sio.on("echo")
    def echo(socket: sockio_wsgi.Socket, *args: Any) -> Any:
        record.add("echo", args)
        return args

    @sio.on("none")
    def none(socket: sockio_wsgi.Socket, *args: Any) -> None:
        record.add("none", args)

    @sio.on("single")
    def single(socket: sockio_wsgi.Socket, *args: Any) -> Any:
        return list(args)  # a list is one ack argument, a tuple is several

    @sio.on("ask_back")
    def ask_back(socket: sockio_wsgi.Socket, *args: Any) -> Any:
        # Runs in the socket's handler greenlet and blocks it until the client answers.
        reply = socket.emit_with_ack("question", *args, timeout=5)
        return {"client said": reply}

    @sio.on("ask_silent")
    def ask_silent(socket: sockio_wsgi.Socket, timeout: float) -> Any:
        try:
            socket.emit_with_ack("unheard", timeout=timeout)
        except sockio_wsgi.TimeoutError as exc:
            record.add("timeout", exc)
            return {"error": str(exc)}
        return "no timeout"

    return sio


@pytest.fixture
def running(record: Recorder) -> Iterator[SioRun]:
    sio = make_sio(record)
    with serving_sio(sio) as run:
        yield sio, run


def _connect(client: NodeClient, url: str, transports: list[str], id: str = "c1") -> str:
    """Connect and, for the upgrade case, wait until the upgrade is done."""
    client.connect(url, id, transports=transports)
    sid = connected_sid(client, id)
    if transports == ["polling", "websocket"]:
        assert client.wait_for("upgrade", id=id)["transport"] == "websocket"
    expected = "polling" if transports == ["polling"] else "websocket"
    assert client.state(id)["transport"] == expected
    return sid


@pytest.mark.parametrize("transports", TRANSPORTS.values(), ids=TRANSPORTS.keys())
def test_emit_and_ack_both_ways(
    client: NodeClient,
    running: SioRun,
    record: Recorder,
    transports: list[str],
) -> None:
    sio, run = running
    sid = _connect(client, run.url, transports)
    socket = socket_of(sio, sid)
    assert socket.transport == client.state("c1")["transport"]

    # client -> server, the handler's return value is the ack
    assert client.call("c1", "echo", 1, "two", {"three": [3.5, None, True]}) == [
        1,
        "two",
        {"three": [3.5, None, True]},
    ]
    # server -> client with callback=
    client.auto_ack("c1", "ask", ["yes", {"n": 2}])
    replies: gevent.event.AsyncResult = gevent.event.AsyncResult()
    socket.emit("ask", "q", callback=lambda *args: replies.set(args))
    assert replies.get(timeout=5) == ("yes", {"n": 2})
    asked = client.wait_for("event", id="c1", event="ask")
    assert asked["args"] == ["q"] and asked["auto_acked"] is True

    # server -> client with emit_with_ack from inside a handler
    client.auto_ack("c1", "question", "echo")
    assert client.call("c1", "ask_back", "why", b"\x01") == [{"client said": ["why", b"\x01"]}]

    # a plain event without ack reaches the client
    socket.emit("news", {"hello": "world"})
    news = client.wait_for("event", id="c1", event="news")
    assert news["args"] == [{"hello": "world"}] and news["ack_requested"] is False
    if transports == ["polling"]:
        assert not [m for m in client.messages if m.get("type") == "upgrade"]


def test_ack_argument_shapes(client: NodeClient, running: SioRun) -> None:
    _, run = running
    _connect(client, run.url, ["websocket"])
    assert client.call("c1", "echo", "a", 2) == ["a", 2]  # tuple -> several args
    assert client.call("c1", "echo") == []  # empty tuple -> no args
    assert client.call("c1", "none", "x") == []  # None -> no args
    assert client.call("c1", "single", "a", 2) == [["a", 2]]  # a list is one arg


def test_emit_with_ack_reply_shapes(client: NodeClient, running: SioRun) -> None:
    sio, run = running
    sid = _connect(client, run.url, ["websocket"])
    socket = socket_of(sio, sid)
    client.auto_ack("c1", "one", [7])
    client.auto_ack("c1", "many", [1, "b"])
    client.auto_ack("c1", "zero", [])
    assert socket.emit_with_ack("one", timeout=5) == 7
    assert socket.emit_with_ack("many", timeout=5) == (1, "b")
    assert socket.emit_with_ack("zero", timeout=5) is None


def test_emit_with_ack_times_out(client: NodeClient, running: SioRun, record: Recorder) -> None:
    sio, run = running
    # any=False and no listener for "unheard": the client never acks it.
    client.connect(run.url, "c1", transports=["websocket"], any=False)
    sid = connected_sid(client, "c1")
    (reply,) = client.call("c1", "ask_silent", 0.3)
    assert "unheard" in reply["error"] and "0.3" in reply["error"]
    assert isinstance(record.wait("timeout"), sockio_wsgi.TimeoutError)
    socket = socket_of(sio, sid)
    with pytest.raises(sockio_wsgi.TimeoutError, match="unheard"):
        socket.emit_with_ack("unheard", timeout=0.2)
    # the socket is still usable afterwards
    assert client.call("c1", "echo", "still here") == ["still here"]
    assert socket._acks == {}


def test_late_ack_after_timeout_is_ignored(client: NodeClient, running: SioRun) -> None:
    sio, run = running
    sid = _connect(client, run.url, ["websocket"])
    socket = socket_of(sio, sid)
    with pytest.raises(sockio_wsgi.TimeoutError):
        socket.emit_with_ack("slow", timeout=0.2)
    slow = client.wait_for("event", id="c1", event="slow")
    client.ack_reply("c1", slow["ack_ref"], "too late")
    client.auto_ack("c1", "fast", ["ok"])
    assert socket.emit_with_ack("fast", timeout=5) == "ok"


BINARY_CASES = {
    "bytes": [b"\x00\x01\xff"],
    "nested": [{"a": b"x", "list": [b"\x00", {"deep": b"\xfe\xff"}]}, "text"],
    "multiple": [b"one", b"two", [b"three", b"four"], {"k": b"five"}],
    "empty": [b"", {"e": b""}, [b""]],
    "large": [bytes(range(256)) * 400],
}


@pytest.mark.parametrize("transports", [["polling"], ["websocket"]], ids=["polling", "websocket"])
@pytest.mark.parametrize("args", BINARY_CASES.values(), ids=BINARY_CASES.keys())
def test_binary_both_ways(
    client: NodeClient,
    running: SioRun,
    record: Recorder,
    transports: list[str],
    args: list[Any],
) -> None:
    sio, run = running
    sid = _connect(client, run.url, transports)
    # client -> server (and back as the ack)
    assert client.call("c1", "echo", *args) == args
    assert list(record.wait("echo")) == args  # the handler got real bytes
    # server -> client as an event, and as the client's ack back to the server
    socket = socket_of(sio, sid)
    client.auto_ack("c1", "bin", "echo")
    reply = socket.emit_with_ack("bin", *args, timeout=5)
    assert (list(reply) if len(args) > 1 else [reply]) == args
    assert client.wait_for("event", id="c1", event="bin")["args"] == args
