"""How broadcasts reach the wire, through a real server and raw WebSocket clients: the
broadcasts a handler makes before it yields go out to each recipient in one write, in
order with the socket's other packets, and nothing is lost when a client stops reading."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import gevent
import gevent.monkey
import pytest
from gevent._hub_local import get_hub_if_exists

import sockio_wsgi
import sockio_wsgi.engine.ordered_writes as ordered_writes
from tests.helpers.raw import RawWebSocket, eio_target
from tests.helpers.server import Running, serving_sio


def connect(running: Running) -> RawWebSocket:
    """A Socket.IO client on "/" over a WebSocket, past its CONNECT reply."""
    ws = RawWebSocket.connect(running.address, eio_target(transport="websocket"))
    first = ws.recv()
    assert isinstance(first, str) and first.startswith("0{")
    ws.send("40")
    reply = ws.recv()
    assert isinstance(reply, str) and reply.startswith("40{")
    return ws


def events(ws: RawWebSocket, count: int) -> list[Any]:
    """The next ``count`` EVENT packets, as [name, *args] (pings are answered)."""
    seen: list[Any] = []
    while len(seen) < count:
        message = ws.recv()
        assert isinstance(message, str)
        if message == "2":
            ws.send("3")
        elif message.startswith("42"):
            seen.append(json.loads(message[2:]))
        else:
            seen.append(message)
    return seen


@pytest.fixture
def sio() -> sockio_wsgi.Server:
    sio = sockio_wsgi.Server()

    @sio.on("burst")
    def burst(socket: sockio_wsgi.Socket, count: int) -> None:
        for index in range(count):
            sio.emit("n", index)

    @sio.on("mixed")
    def mixed(socket: sockio_wsgi.Socket) -> None:
        sio.emit("n", 1)
        socket.emit("n", 2)  # to the sender only, between two broadcasts
        sio.emit("n", 3)

    @sio.on("last_words")
    def last_words(socket: sockio_wsgi.Socket) -> None:
        sio.emit("n", "bye")
        socket.disconnect()

    @sio.on("flood")
    def flood(socket: sockio_wsgi.Socket, count: int, size: int) -> None:
        for index in range(count):
            sio.emit("big", index, "x" * size)
        sio.emit("n", "done")

    @sio.on("steps")
    def steps(socket: sockio_wsgi.Socket, count: int, size: int) -> None:
        for index in range(count):  # one broadcast per step: each is one queued write
            sio.emit("big", index, "x" * size)
            sio.sleep(0)

    return sio


@pytest.fixture
def running(sio: sockio_wsgi.Server) -> Iterator[Running]:
    with serving_sio(sio) as run:
        yield run


def test_the_broadcasts_of_one_handler_step_go_out_in_one_write_each(
    running: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    sender, other = connect(running), connect(running)
    try:
        writes: list[bytes] = []
        real_send_some = ordered_writes.send_some

        def recording_send_some(raw: Any, data: Any) -> int:
            writes.append(bytes(data))
            return real_send_some(raw, data)

        monkeypatch.setattr(ordered_writes, "send_some", recording_send_some)
        sender.send('42["burst",5]')
        expected = [["n", index] for index in range(5)]
        assert events(sender, 5) == expected
        assert events(other, 5) == expected
        assert len(writes) == 2  # one per recipient, not one per broadcast
    finally:
        sender.close()
        other.close()


def test_broadcasts_and_a_direct_emit_keep_their_order(running: Running) -> None:
    sender, other = connect(running), connect(running)
    try:
        sender.send('42["mixed"]')
        assert events(sender, 3) == [["n", 1], ["n", 2], ["n", 3]]
        assert events(other, 2) == [["n", 1], ["n", 3]]
    finally:
        sender.close()
        other.close()


def test_a_broadcast_before_a_disconnect_arrives_first(running: Running) -> None:
    sender = connect(running)
    try:
        sender.send('42["last_words"]')
        assert events(sender, 2) == [["n", "bye"], "41"]
    finally:
        sender.close()


def test_a_client_that_stops_reading_gets_every_broadcast_in_order(running: Running) -> None:
    """More than the queue of one write holds, and more than the kernel's buffers: the
    writer takes over, and every frame arrives once, in order."""
    size = 65536
    count = 160  # 10 MiB
    sender, other = connect(running), connect(running)
    try:
        sender.send(f'42["flood",{count},{size}]')
        for ws in (other, sender):  # the other client reads only once all is sent
            got = events(ws, count + 1)
            assert [event[1] for event in got[:-1]] == list(range(count))
            assert all(len(event[2]) == size for event in got[:-1])
            assert got[-1] == ["n", "done"]
    finally:
        sender.close()
        other.close()


def test_a_queued_write_the_kernel_takes_only_part_of_is_finished_by_the_writer(
    running: Running,
) -> None:
    """The last broadcast is larger than the clients' socket buffers: what the one queued
    write leaves is sent by the writer, with nothing after it to push it out."""
    sender, other = connect(running), connect(running)
    try:
        sender.send('42["steps",1,12000000]')
        for ws in (other, sender):
            first = events(ws, 1)[0]
            assert first[:2] == ["big", 0] and len(first[2]) == 12000000
    finally:
        sender.close()
        other.close()


def test_a_broadcast_from_another_os_thread_is_written_at_once(
    running: Running, sio: sockio_wsgi.Server
) -> None:
    """An emit from a real OS thread (not a greenlet) is sent right away: nothing is
    queued for a hub that thread does not run, and no hub is made for it."""
    start_thread = gevent.monkey.get_original("_thread", "start_new_thread")
    client = connect(running)
    try:
        outcome: list[Any] = []

        def emit_from_thread() -> None:
            try:
                sio.emit("n", "from a thread")
                outcome.append(get_hub_if_exists())
            except BaseException as exc:
                outcome.append(exc)

        start_thread(emit_from_thread, ())
        with gevent.Timeout(5):
            while not outcome:
                gevent.sleep(0.01)
        assert outcome == [None]
        assert events(client, 1) == [["n", "from a thread"]]
    finally:
        client.close()
