"""The Redis bus wire format (pure): channel names, msgpack/JSON messages, packets,
options and socket records as @socket.io/redis-adapter writes and reads them."""

from __future__ import annotations

import json

import msgpack
import pytest

from sockio_wsgi.adapters import cluster_wire as wire
from sockio_wsgi.adapters.base import BroadcastOptions, SocketRecord
from sockio_wsgi.protocol.sio import SioType, event_packet
from sockio_wsgi.server.handshake import Handshake


def test_request_type_numbers_match_node() -> None:
    assert [t.value for t in wire.RequestType] == list(range(10))
    assert wire.RequestType.BROADCAST_ACK == 9 and wire.RequestType.REMOTE_FETCH == 5


def test_channel_names() -> None:
    channels = wire.Channels.of("socket.io", "/chat")
    assert channels.broadcast == "socket.io#/chat#"
    assert channels.room("r1") == "socket.io#/chat#r1#"
    assert channels.request == "socket.io-request#/chat#"
    assert channels.response == "socket.io-response#/chat#"
    assert channels.specific_response("abc") == "socket.io-response#/chat#abc#"
    assert channels.broadcast_channel(frozenset({"r1"})) == "socket.io#/chat#r1#"
    assert channels.broadcast_channel(frozenset({"a", "b"})) == "socket.io#/chat#"
    assert wire.Channels.of("p", "/a*b").broadcast_pattern() == "p#/a\\*b#*"


def test_broadcast_message_shape_and_binary() -> None:
    packet = event_packet("/", "news", [1, b"\x00\xff"])
    opts = BroadcastOptions(
        rooms=frozenset({"r"}),
        except_rooms=frozenset({"x"}),
        volatile=True,
        compress=False,
        timeout=1.5,
    )
    raw = wire.encode(["uid1", wire.packet_to_wire(packet), wire.opts_to_wire(opts)])
    uid, wire_packet, wire_opts = msgpack.unpackb(raw, raw=False)
    assert uid == "uid1"
    assert wire_packet == {"type": 2, "data": ["news", 1, b"\x00\xff"], "nsp": "/"}
    assert wire_opts == {
        "rooms": ["r"],
        "except": ["x"],
        "flags": {"volatile": True, "compress": False, "timeout": 1500},
    }
    back = wire.opts_from_wire(wire_opts)
    assert (back.rooms, back.except_rooms, back.volatile, back.compress, back.timeout) == (
        opts.rooms,
        opts.except_rooms,
        True,
        False,
        1.5,
    )
    decoded = wire.packet_from_wire(wire.decode(raw)[1])
    assert decoded.type is SioType.EVENT and decoded.data == ["news", 1, b"\x00\xff"]


def test_decode_json_and_notepack_undefined() -> None:
    assert wire.decode(json.dumps({"type": 1, "requestId": "r"}).encode()) == {
        "type": 1,
        "requestId": "r",
    }
    # notepack.io writes `undefined` as fixext 1, type 0
    assert wire.decode(b"\x92\x01\xd4\x00\x00") == [1, None]
    with pytest.raises(wire.MalformedMessage):
        wire.decode(b"\xc1")
    with pytest.raises(wire.MalformedMessage):
        wire.decode_request(wire.encode([1, 2]))
    with pytest.raises(wire.MalformedMessage):
        wire.packet_from_wire({"type": 0, "data": None})
    assert wire.packet_from_wire({"type": 5, "data": ["e"]}).namespace == "/"


def test_socket_record_drops_environ() -> None:
    handshake = Handshake.from_environ({"HTTP_HOST": "h", "QUERY_STRING": "a=1"}, {"t": 1})
    record = SocketRecord("s1", "/", frozenset({"s1", "r"}), {"d": {1, 2}}, handshake)
    raw = wire.decode(wire.encode(wire.record_to_wire(record)))
    assert raw["rooms"] == ["r", "s1"] and raw["data"] == {"d": [1, 2]}
    assert "environ" not in raw["handshake"] and raw["handshake"]["auth"] == {"t": 1}
    back = wire.record_from_wire(raw, "/")
    assert back.id == "s1" and back.rooms == {"s1", "r"}
    assert back.handshake["headers"]["host"] == "h"


def test_ack_value() -> None:
    assert wire.ack_value([]) is None
    assert wire.ack_value(["x"]) == "x"
    assert wire.ack_value([1, 2]) == [1, 2]
