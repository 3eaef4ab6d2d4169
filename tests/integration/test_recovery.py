"""Connection state recovery in one process, with the official socket.io-client.

A socket whose transport is cut (``drop``: the client closes its engine, no DISCONNECT)
comes back with the same id, its rooms and data, and the packets it missed in order,
each exactly once. Expiry uses an adapter whose clock the test moves, not a sleep.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import sockio_wsgi
from sockio_wsgi.adapters.memory import InMemoryAdapter
from tests.helpers.node import Message, NodeClient
from tests.helpers.server import Running, serving_sio
from tests.helpers.sio_interop import Recorder, connected_sid

pytestmark = pytest.mark.node

# no automatic reconnection: the test reconnects with ``open`` when it has done its part
MANUAL = {"reconnection": False}


class Clock:
    """A monotonic clock the test moves forward."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_server(record: Recorder, **options: Any) -> sockio_wsgi.Server:
    sio = sockio_wsgi.Server(
        connection_state_recovery={"max_disconnection_duration": 120, **options.pop("csr", {})},
        **options,
    )

    @sio.use
    def middleware(socket: sockio_wsgi.Socket, auth: Any) -> None:
        record.add("middleware", socket.recovered)

    @sio.on("connect")
    def connect(socket: sockio_wsgi.Socket, auth: Any) -> None:
        record.add("connect", (socket.id, socket.recovered))
        if not socket.recovered:
            socket.data["first"] = socket.id
        socket.emit("welcome", socket.data["first"])  # gives the client its first offset

    @sio.on("disconnect")
    def disconnect(socket: sockio_wsgi.Socket, reason: str) -> None:
        record.add("disconnect", (socket.id, reason))

    @sio.on("join")
    def join(socket: sockio_wsgi.Socket, room: str) -> None:
        socket.join(room)

    @sio.on("to_room")
    def to_room(socket: sockio_wsgi.Socket, room: str, *args: Any) -> None:
        socket.to(room).emit("room_msg", *args)

    @sio.on("volatile_to_room")
    def volatile_to_room(socket: sockio_wsgi.Socket, room: str, *args: Any) -> None:
        sio.volatile.to(room).emit("room_msg", *args)

    @sio.on("state")
    def state(socket: sockio_wsgi.Socket) -> Any:
        return {"rooms": sorted(socket.rooms - {socket.id}), "data": socket.data}

    return sio


@pytest.fixture
def record() -> Recorder:
    return Recorder()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def running(record: Recorder, clock: Clock) -> Iterator[Running]:
    class ClockedAdapter(InMemoryAdapter):
        pass

    ClockedAdapter.clock = staticmethod(clock)  # type: ignore[assignment]
    with serving_sio(make_server(record, adapter=ClockedAdapter)) as run:
        yield run


def events(client: NodeClient, id: str, name: str) -> list[list[Any]]:
    """The args of every ``name`` event socket ``id`` has reported so far."""
    return [
        m["args"]
        for m in list(client.messages)
        if m.get("type") == "event" and m.get("id") == id and m.get("event") == name
    ]


def first_arg(value: Any) -> Callable[[Message], bool]:
    """Matches an event report whose first argument is ``value``."""
    return lambda m: m.get("type") == "event" and m.get("args", [None])[:1] == [value]


def setup_pair(client: NodeClient, url: str, transports: list[str]) -> str:
    """Socket ``t`` (in room "r", holding an offset) and publisher ``p``; ``t``'s sid."""
    client.connect(url, "t", forceNew=True, transports=transports, **MANUAL)
    sid = connected_sid(client, "t")
    client.wait_for("event", id="t", event="welcome")
    client.emit("t", "join", "r")
    client.call("t", "state")  # joined before anyone publishes
    client.connect(url, "p", forceNew=True, transports=["websocket"])
    connected_sid(client, "p")
    return sid


def drop_and_wait(client: NodeClient, record: Recorder, sid: str) -> None:
    client.drop("t")
    client.wait_for("disconnect", id="t")
    reason = record.wait("disconnect", lambda v: v[0] == sid)[1]
    assert reason in ("transport close", "transport error")


def reconnect(client: NodeClient, id: str = "t") -> Message:
    client.open(id)
    return client.wait_for("connect", id=id)


@pytest.mark.parametrize("transports", [["websocket"], ["polling"]], ids=["websocket", "polling"])
def test_missed_packets_replayed_once_in_order(
    running: Running, record: Recorder, transports: list[str]
) -> None:
    with NodeClient() as client:
        sid = setup_pair(client, running.url, transports)
        welcome = events(client, "t", "welcome")[0]
        assert welcome[0] == sid and isinstance(welcome[1], str)  # the offset comes last
        drop_and_wait(client, record, sid)
        for n in (1, 2, 3):
            client.emit("p", "to_room", "r", n)
        client.call("p", "state")  # the three went out before the reconnection
        middleware_runs = len(record.values("middleware"))

        again = reconnect(client)
        assert again["sid"] == sid and again["recovered"] is True
        assert client.state("t")["recovered"] is True
        reply = client.call("t", "state")[0]  # after everything the server sent before
        assert reply == {"rooms": ["r"], "data": {"first": sid}}
        missed = events(client, "t", "room_msg")
        assert [args[0] for args in missed] == [1, 2, 3]
        offsets = [args[1] for args in missed]
        assert all(isinstance(o, str) for o in offsets) and len(set(offsets)) == 3
        assert record.values("connect")[-1] == (sid, True)  # the handler saw recovered
        assert len(record.values("middleware")) == middleware_runs  # skipped

        client.emit("p", "to_room", "r", 4)  # still in the room, live
        client.wait_for(first_arg(4), id="t", event="room_msg")


def test_no_recovery_after_max_disconnection_duration(
    running: Running, record: Recorder, clock: Clock
) -> None:
    with NodeClient() as client:
        sid = setup_pair(client, running.url, ["websocket"])
        drop_and_wait(client, record, sid)
        client.emit("p", "to_room", "r", 1)
        client.call("p", "state")
        clock.now += 121
        again = reconnect(client)
        assert again["recovered"] is False and again["sid"] != sid
        assert client.call("t", "state")[0]["rooms"] == []
        assert events(client, "t", "room_msg") == []
        assert record.values("middleware")[-1] is False


def test_deliberate_disconnect_is_not_recovered(running: Running, record: Recorder) -> None:
    with NodeClient() as client:
        sid = setup_pair(client, running.url, ["websocket"])
        client.disconnect("t")
        assert record.wait("disconnect", lambda v: v[0] == sid)[1] == "client namespace disconnect"
        again = reconnect(client)
        assert again["recovered"] is False and again["sid"] != sid


def test_volatile_packets_never_replayed(running: Running, record: Recorder) -> None:
    with NodeClient() as client:
        sid = setup_pair(client, running.url, ["websocket"])
        # (numbers: the client takes a string last argument for an offset, as
        # socket.io-client does, so a volatile packet ending in one would spoil it)
        client.emit("p", "volatile_to_room", "r", 10)
        live = client.wait_for("event", id="t", event="room_msg")
        assert live["args"] == [10]  # no offset on a volatile packet
        drop_and_wait(client, record, sid)
        client.emit("p", "volatile_to_room", "r", 11)
        client.emit("p", "to_room", "r", 12)
        client.call("p", "state")
        assert reconnect(client)["recovered"] is True
        client.call("t", "state")
        assert [args[0] for args in events(client, "t", "room_msg")] == [10, 12]


def test_publisher_every_10ms_loses_and_duplicates_nothing(
    record: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="sockio_wsgi.server")
    sio = make_server(record)
    total = 250
    sent: list[int] = []

    def publish() -> None:
        for n in range(total):
            sio.to("r").emit("tick", n)
            sent.append(n)
            sio.sleep(0.01)

    with serving_sio(sio) as running, NodeClient() as client:
        client.connect(
            running.url,
            "t",
            transports=["websocket"],
            reconnectionDelay=50,
            reconnectionDelayMax=50,
            randomizationFactor=0,
        )
        sid = connected_sid(client, "t")
        client.emit("t", "join", "r")
        client.call("t", "state")
        publisher = sio.start_background_task(publish)
        try:
            client.wait_for("event", id="t", event="tick", timeout=10)
            drop_and_wait(client, record, sid)
            again = client.wait_for("connect", id="t", timeout=10)
            assert again["recovered"] is True and again["sid"] == sid
            assert sent[-1] < total - 1  # the publisher was still going
            client.wait_for(first_arg(total - 1), id="t", event="tick", timeout=20)
        finally:
            publisher.join(timeout=10)
        ticks = [args[0] for args in events(client, "t", "tick")]
        assert ticks == list(range(ticks[0], total))
        replayed = [m for m in caplog.messages if f"socket {sid} recovered" in m]
        assert replayed and not replayed[0].endswith(" 0 missed packets")  # a real gap


def test_middlewares_run_for_a_recovered_socket_unless_skipped(record: Recorder) -> None:
    sio = make_server(record, csr={"skip_middlewares": False})
    with serving_sio(sio) as running, NodeClient() as client:
        sid = setup_pair(client, running.url, ["polling"])
        drop_and_wait(client, record, sid)
        again = reconnect(client)
        assert again["recovered"] is True and again["sid"] == sid
        assert record.values("middleware")[-1] is True  # it saw socket.recovered
