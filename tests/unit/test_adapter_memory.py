"""InMemoryAdapter against a small real AdapterHost (tests/unit/adapter_fakes.py)."""

from __future__ import annotations

from typing import Any

from sockio_wsgi.adapters.base import BroadcastOptions
from sockio_wsgi.protocol.sio import event_packet
from tests.unit.adapter_fakes import FakeHost, texts


def opts(*rooms: str, except_: tuple[str, ...] = (), **flags: Any) -> BroadcastOptions:
    return BroadcastOptions(rooms=frozenset(rooms), except_rooms=frozenset(except_), **flags)


def test_room_events_come_in_socket_io_order() -> None:
    host = FakeHost()
    adapter = host.adapter
    adapter.add_all("s1", {"r"})
    adapter.add_all("s2", {"r"})
    adapter.add_all("s1", {"r"})  # already in: nothing
    adapter.delete("s1", "r")
    adapter.delete("s1", "r")  # not in any more: nothing
    adapter.delete_all("s2")
    assert host.events == [
        ("create-room", "r"),
        ("join-room", "r", "s1"),
        ("join-room", "r", "s2"),
        ("leave-room", "r", "s1"),
        ("leave-room", "r", "s2"),
        ("delete-room", "r"),
    ]
    assert adapter.rooms == {} and adapter.sids == {}


def test_membership_queries() -> None:
    host = FakeHost()
    host.connect("s1", "a", "b")
    host.connect("s2", "b")
    adapter = host.adapter
    assert adapter.socket_rooms("s1") == {"s1", "a", "b"}
    assert adapter.socket_rooms("nobody") == set()
    assert adapter.sockets() == {"s1", "s2"}
    assert adapter.sockets(frozenset({"a"})) == {"s1"}
    assert adapter.sockets(frozenset({"a", "b"})) == {"s1", "s2"}


def test_broadcast_encodes_once_and_honours_rooms_and_exclusions() -> None:
    host = FakeHost()
    s1 = host.connect("s1", "a", "vip")
    s2 = host.connect("s2", "a")
    s3 = host.connect("s3")
    packet = event_packet("/", "x", [1])
    assert host.adapter.broadcast(packet, opts()) == 3
    assert host.adapter.broadcast(packet, opts("a", except_=("vip",))) == 1
    assert host.adapter.broadcast(packet, opts("a", "vip")) == 2
    assert host.adapter.broadcast(packet, opts("empty")) == 0
    assert len(host.encoded) == 3  # once per broadcast with recipients, not per socket
    assert (len(s1.received), len(s2.received), len(s3.received)) == (2, 3, 1)
    assert texts(s3) == ['2["x",1]']


def test_volatile_counts_only_writable_sockets() -> None:
    host = FakeHost()
    host.connect("s1")
    busy = host.connect("s2", writable=False)
    assert host.adapter.broadcast(event_packet("/", "v", []), opts(volatile=True)) == 1
    assert busy.received == []
    assert host.adapter.broadcast(event_packet("/", "n", []), opts()) == 2


def test_broadcast_with_ack_uses_one_id_and_reports_the_count() -> None:
    host = FakeHost()
    host.connect("s1", reply=["r1"])
    host.connect("s2", reply=[])
    silent = host.connect("s3")
    counts: list[int] = []
    replies: list[list[Any]] = []
    host.adapter.broadcast_with_ack(
        event_packet("/", "ask", [1]), opts(), counts.append, replies.append
    )
    assert counts == [3]
    assert sorted(replies, key=len) == [[], ["r1"]]
    (packet,) = host.encoded
    assert packet.id == 1
    assert texts(silent) == ['21["ask",1]']

    counts.clear()
    host.adapter.broadcast_with_ack(
        event_packet("/", "ask", []), opts("none"), counts.append, replies.append
    )
    assert counts == [0]


def test_fetch_add_del_and_disconnect_sockets() -> None:
    host = FakeHost()
    host.connect("s1", "a", data={"n": 1})
    host.connect("s2", "a")
    host.connect("s3")
    adapter = host.adapter
    (record,) = adapter.fetch_sockets(opts("a", except_=("s2",)))
    assert (record.id, record.nsp, record.rooms, record.data) == (
        "s1",
        "/",
        frozenset({"s1", "a"}),
        {"n": 1},
    )
    adapter.add_sockets(opts("a"), {"b", "c"})
    assert adapter.sockets(frozenset({"c"})) == {"s1", "s2"}
    adapter.del_sockets(opts(except_=("s1",)), {"b"})
    assert adapter.sockets(frozenset({"b"})) == {"s1"}
    adapter.disconnect_sockets(opts("c"), True)
    assert set(host.clients) == {"s3"}
    assert adapter.sockets() == {"s3"}


def test_server_side_emit_reaches_no_other_server() -> None:
    host = FakeHost()
    acks: list[tuple[Any, list[Any]]] = []
    host.adapter.server_side_emit(["hello", 1])
    host.adapter.server_side_emit(["hello", 2], lambda err, replies: acks.append((err, replies)))
    assert acks == [(None, [])]
    assert host.server_side == []  # this server never hears its own
    assert host.adapter.server_count() == 1


def test_close_forgets_every_room() -> None:
    host = FakeHost()
    host.connect("s1", "a")
    host.adapter.close()
    assert host.adapter.sockets() == set()
