"""Socket.IO v5 packets: exact wire strings, parsing, and payload validation."""

from __future__ import annotations

from typing import Any

import pytest

from sockio_wsgi.protocol.decoder import parse_text
from sockio_wsgi.protocol.errors import ProtocolError
from sockio_wsgi.protocol.sio import (
    MAX_ACK_ID,
    RESERVED_EVENTS,
    SioPacket,
    SioType,
    ack_packet,
    connect_error_packet,
    encode_text,
    event_packet,
    validate,
)

PH0 = {"_placeholder": True, "num": 0}


def test_type_digits_match_the_spec() -> None:
    assert [(t.name, int(t)) for t in SioType] == [
        ("CONNECT", 0),
        ("DISCONNECT", 1),
        ("EVENT", 2),
        ("ACK", 3),
        ("CONNECT_ERROR", 4),
        ("BINARY_EVENT", 5),
        ("BINARY_ACK", 6),
    ]


def test_reserved_events() -> None:
    assert set(RESERVED_EVENTS) == {
        "connect",
        "connect_error",
        "disconnect",
        "disconnecting",
        "newListener",
        "removeListener",
    }


# -- encoding: exact wire strings ----------------------------------------------------


@pytest.mark.parametrize(
    ("packet", "wire"),
    [
        (SioPacket(SioType.CONNECT), "0"),
        (SioPacket(SioType.CONNECT, "/admin"), "0/admin,"),
        (SioPacket(SioType.CONNECT, "/", {"token": "123"}), '0{"token":"123"}'),
        (SioPacket(SioType.CONNECT, "/admin", {"token": "1"}), '0/admin,{"token":"1"}'),
        (SioPacket(SioType.CONNECT, "/", {"sid": "abc"}), '0{"sid":"abc"}'),
        (SioPacket(SioType.DISCONNECT), "1"),
        (SioPacket(SioType.DISCONNECT, "/admin"), "1/admin,"),
        (event_packet("/", "hello", [1]), '2["hello",1]'),
        (event_packet("/", "hello", []), '2["hello"]'),
        (event_packet("/chat", "msg", [1], 12), '2/chat,12["msg",1]'),
        (event_packet("/", "foo", [], 0), '20["foo"]'),
        (event_packet("/admin", "project:delete", [123]), '2/admin,["project:delete",123]'),
        (ack_packet("/", 13, ["bar"]), '313["bar"]'),
        (ack_packet("/admin", 13, []), "3/admin,13[]"),
        (connect_error_packet("/", "Not authorized"), '4{"message":"Not authorized"}'),
        (
            connect_error_packet("/admin", "no", {"reason": 1}),
            '4/admin,{"message":"no","data":{"reason":1}}',
        ),
        (event_packet("/", "ü", ["€"]), '2["ü","€"]'),
        (event_packet("/", "a", [{"x": [1, 2.5, None, True]}]), '2["a",{"x":[1,2.5,null,true]}]'),
    ],
)
def test_text_wire_strings(packet: SioPacket, wire: str) -> None:
    assert encode_text(packet) == [wire]


def test_binary_event_wire_string() -> None:
    assert encode_text(event_packet("/", "x", [b"\x01\x02"])) == [
        '51-["x",{"_placeholder":true,"num":0}]',
        b"\x01\x02",
    ]


def test_binary_event_with_namespace_and_ack_id() -> None:
    assert encode_text(event_packet("/admin", "up", [b"a", {"f": bytearray(b"b")}], 456)) == [
        '52-/admin,456["up",{"_placeholder":true,"num":0},{"f":{"_placeholder":true,"num":1}}]',
        b"a",
        b"b",
    ]


def test_binary_ack_wire_string() -> None:
    assert encode_text(ack_packet("/admin", 15, [b"\x00"])) == [
        '61-/admin,15[{"_placeholder":true,"num":0}]',
        b"\x00",
    ]
    assert encode_text(ack_packet("/", 1, [memoryview(b"z")])) == [
        '61-1[{"_placeholder":true,"num":0}]',
        b"z",
    ]


def test_attachments_are_plain_bytes() -> None:
    parts = encode_text(event_packet("/", "x", [bytearray(b"1"), memoryview(b"2")]))
    assert [type(p) for p in parts[1:]] == [bytes, bytes]


def test_encode_does_not_mutate_packet() -> None:
    packet = event_packet("/", "x", [b"1"])
    encode_text(packet)
    assert packet.type is SioType.EVENT
    assert packet.data == ["x", b"1"]


def test_encode_with_custom_dumps() -> None:
    calls: list[Any] = []

    def dumps(data: Any) -> str:
        calls.append(data)
        return "[]"

    assert encode_text(event_packet("/", "x", [1]), dumps) == ["2[]"]
    assert calls == [["x", 1]]


def test_unencodable_data_raises_type_error() -> None:
    with pytest.raises(TypeError, match="JSON"):
        encode_text(event_packet("/", "x", [object()]))
    with pytest.raises(TypeError):
        encode_text(event_packet("/", "x", [float("nan")]), _strict_dumps)


def _strict_dumps(data: Any) -> str:
    import json

    return json.dumps(data, allow_nan=False)


def test_helpers_build_expected_packets() -> None:
    assert event_packet("/", "e", [1, 2], 3) == SioPacket(SioType.EVENT, "/", ["e", 1, 2], 3)
    assert ack_packet("/", 3, [1]) == SioPacket(SioType.ACK, "/", [1], 3)
    assert connect_error_packet("/", "m") == SioPacket(SioType.CONNECT_ERROR, "/", {"message": "m"})


def test_event_and_args_properties() -> None:
    packet = event_packet("/", "e", [1, 2])
    assert packet.event == "e"
    assert packet.args == [1, 2]
    assert ack_packet("/", 1, [3]).args == [3]
    assert SioPacket(SioType.ACK, "/", None, 1).args == []


# -- parsing ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wire", "packet", "attachments"),
    [
        ("0", SioPacket(SioType.CONNECT), 0),
        ("0/admin,", SioPacket(SioType.CONNECT, "/admin"), 0),
        ("0/admin", SioPacket(SioType.CONNECT, "/admin"), 0),
        ('0{"token":"123"}', SioPacket(SioType.CONNECT, "/", {"token": "123"}), 0),
        ('0/admin,{"token":"1"}', SioPacket(SioType.CONNECT, "/admin", {"token": "1"}), 0),
        ("1", SioPacket(SioType.DISCONNECT), 0),
        ("1/admin,", SioPacket(SioType.DISCONNECT, "/admin"), 0),
        ('2["hello",1]', event_packet("/", "hello", [1]), 0),
        ('2/chat,12["msg",1]', event_packet("/chat", "msg", [1], 12), 0),
        ('20["foo"]', event_packet("/", "foo", [], 0), 0),
        ("2[1]", SioPacket(SioType.EVENT, "/", [1]), 0),
        ('313["bar"]', ack_packet("/", 13, ["bar"]), 0),
        ("3/admin,13[]", ack_packet("/admin", 13, []), 0),
        ('4{"message":"Not authorized"}', connect_error_packet("/", "Not authorized"), 0),
        ('4"plain"', SioPacket(SioType.CONNECT_ERROR, "/", "plain"), 0),
        (
            '51-["x",{"_placeholder":true,"num":0}]',
            SioPacket(SioType.BINARY_EVENT, "/", ["x", {"_placeholder": True, "num": 0}]),
            1,
        ),
        (
            '52-/admin,456["up",{"_placeholder":true,"num":0}]',
            SioPacket(
                SioType.BINARY_EVENT, "/admin", ["up", {"_placeholder": True, "num": 0}], 456
            ),
            2,
        ),
        (
            '61-/admin,15[{"_placeholder":true,"num":0}]',
            SioPacket(SioType.BINARY_ACK, "/admin", [{"_placeholder": True, "num": 0}], 15),
            1,
        ),
        ('50-["x"]', SioPacket(SioType.BINARY_EVENT, "/", ["x"]), 0),
        ('5012-["x"]', SioPacket(SioType.BINARY_EVENT, "/", ["x"]), 12),
    ],
)
def test_parse_text(wire: str, packet: SioPacket, attachments: int) -> None:
    assert parse_text(wire) == (packet, attachments)


def test_parse_unicode_namespace_and_data() -> None:
    packet, _ = parse_text('2/ünï,["€",{"k":"😀"}]')
    assert packet == event_packet("/ünï", "€", [{"k": "😀"}])


def test_parse_with_custom_loads() -> None:
    seen: list[str] = []

    def loads(text: str) -> Any:
        seen.append(text)
        return ["custom"]

    packet, _ = parse_text('2/a,7["x"]', loads)
    assert seen == ['["x"]']
    assert packet == SioPacket(SioType.EVENT, "/a", ["custom"], 7)


@pytest.mark.parametrize("wire", ["", "x", "7", "8[]", "9", "-1", " 2[]", "²[]"])
def test_bad_packet_type(wire: str) -> None:
    with pytest.raises(ProtocolError, match="packet type"):
        parse_text(wire)


@pytest.mark.parametrize(
    "wire",
    ['5["x"]', '5-["x"]', '5a-["x"]', '5²-["x"]', '51["x"]', '51234567-["x"]', "6", '6/a,1-["x"]'],
)
def test_bad_attachment_count(wire: str) -> None:
    with pytest.raises(ProtocolError, match="attachment count"):
        parse_text(wire)


def test_largest_ack_id() -> None:
    packet, _ = parse_text(f'2{MAX_ACK_ID}["x"]')
    assert packet.id == MAX_ACK_ID == 2**53 - 1


@pytest.mark.parametrize("ack_id", [str(MAX_ACK_ID + 1), "1" * 17, "9" * 16, "0" * 17])
def test_ack_id_out_of_range(ack_id: str) -> None:
    with pytest.raises(ProtocolError, match="ack id"):
        parse_text(f'2{ack_id}["x"]')
    with pytest.raises(ProtocolError, match="ack id"):
        parse_text(f"3/a,{ack_id}[]")


def test_ack_id_with_leading_zeros() -> None:
    assert parse_text('3007["x"]')[0].id == 7


@pytest.mark.parametrize(
    "wire",
    ["2[", '2["x"', "2{", "2/a,{", "0{bad}", "2nope", '2["x"]]', "3[1,]", "0 ", "2\x00"],
)
def test_invalid_json(wire: str) -> None:
    with pytest.raises(ProtocolError, match="JSON"):
        parse_text(wire)


def test_deeply_nested_json_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError):
        parse_text('2["x",' + "[" * 100_000 + "]" * 100_000 + "]")


def test_huge_integer_literal_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError):
        parse_text('2["x",' + "9" * 10_000 + "]")


@pytest.mark.parametrize("name", sorted(RESERVED_EVENTS))
def test_reserved_event_names_are_rejected(name: str) -> None:
    with pytest.raises(ProtocolError):
        parse_text(f'2["{name}"]')
    with pytest.raises(ProtocolError):
        parse_text(f'51-["{name}",{{"_placeholder":true,"num":0}}]')


def test_similar_names_are_not_reserved() -> None:
    assert parse_text('2["Connect"]')[0].event == "Connect"
    assert parse_text('2["connected"]')[0].event == "connected"


@pytest.mark.parametrize(
    "wire",
    [
        "0[]",  # CONNECT needs an object
        '0"token"',
        "1{}",  # DISCONNECT has no payload
        "1[]",
        "2",  # EVENT needs a payload
        "2[]",  # ... with an event name
        "2{}",
        '2"x"',
        "2[null]",
        "2[true]",  # a bool is not a number
        "2[[1]]",
        '2[{"a":1}]',
        "3",  # ACK needs a list
        "3{}",
        '31"a"',
        "4",  # CONNECT_ERROR needs an object or a string
        "4[]",
        "41",
        "4null",
        "51-",
        "51-{}",
        "51-[]",
        "61-{}",
        "61-",
    ],
)
def test_wrong_payload_shapes(wire: str) -> None:
    with pytest.raises(ProtocolError, match="invalid payload"):
        parse_text(wire)


def test_validate_accepts_good_packets() -> None:
    for packet in [
        SioPacket(SioType.CONNECT),
        SioPacket(SioType.CONNECT, "/", {}),
        SioPacket(SioType.DISCONNECT),
        event_packet("/", "e", []),
        SioPacket(SioType.EVENT, "/", [3, "numbered"]),
        ack_packet("/", 1, []),
        connect_error_packet("/", "m"),
        SioPacket(SioType.CONNECT_ERROR, "/", "m"),
        SioPacket(SioType.BINARY_ACK, "/", [], 1),
    ]:
        validate(packet)


def test_validate_rejects_bad_packets() -> None:
    for packet in [
        SioPacket(SioType.CONNECT, "/", []),
        SioPacket(SioType.DISCONNECT, "/", {}),
        SioPacket(SioType.EVENT, "/", []),
        SioPacket(SioType.EVENT, "/", ["connect"]),
        SioPacket(SioType.BINARY_EVENT, "/", [False]),
        SioPacket(SioType.ACK, "/", {}, 1),
        SioPacket(SioType.BINARY_ACK, "/", None, 1),
        SioPacket(SioType.CONNECT_ERROR, "/", None),
        SioPacket(SioType.CONNECT_ERROR, "/", 5),
    ]:
        with pytest.raises(ProtocolError):
            validate(packet)


@pytest.mark.parametrize(
    "packet",
    [
        SioPacket(SioType.CONNECT),
        SioPacket(SioType.CONNECT, "/admin", {"token": "x", "n": [1, 2]}),
        SioPacket(SioType.DISCONNECT, "/admin"),
        event_packet("/", "msg", ["a", 1, 2.5, None, True, {"k": [1]}]),
        event_packet("/chat", "msg", [1], 12),
        event_packet("/chat", "msg", [], MAX_ACK_ID),
        ack_packet("/", 0, []),
        ack_packet("/x", 9, [{"a": "b"}]),
        connect_error_packet("/", "m", {"d": 1}),
    ],
)
def test_text_round_trip(packet: SioPacket) -> None:
    [wire] = encode_text(packet)
    assert isinstance(wire, str)
    assert parse_text(wire) == (packet, 0)
