"""The msgpack parser: the wire format of socket.io-msgpack-parser, and its limits.

Any exception other than :class:`ProtocolError` escaping the decoder fails the property
tests, because the server catches exactly that one.
"""

from __future__ import annotations

import contextlib
from typing import Any

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sockio_wsgi.protocol.errors import ProtocolError
from sockio_wsgi.protocol.msgpack_parser import MsgpackDecoder, MsgpackParser, decode_packet
from sockio_wsgi.protocol.parsers import JsonParser, get_parser
from sockio_wsgi.protocol.sio import (
    MAX_ACK_ID,
    SioPacket,
    SioType,
    ack_packet,
    connect_error_packet,
    event_packet,
)

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

parser = MsgpackParser()


def wire(packet: SioPacket) -> dict[str, Any]:
    [data] = parser.encode(packet)
    assert isinstance(data, bytes)
    result: dict[str, Any] = msgpack.unpackb(data, raw=False)
    return result


def decode(obj: Any) -> SioPacket:
    return decode_packet(msgpack.packb(obj, use_bin_type=True))


# -- encoding: exactly what socket.io-msgpack-parser's Encoder produces ----------------


def test_get_parser_selects_msgpack() -> None:
    assert isinstance(get_parser("msgpack"), MsgpackParser)
    assert isinstance(get_parser("json"), JsonParser)
    with pytest.raises(ValueError, match="msgpack"):
        get_parser("yaml")


def test_event_is_one_binary_message_with_binary_inline() -> None:
    packet = event_packet("/chat", "file", [b"\x00\xff", {"nested": bytearray(b"ab")}], 7)
    messages = parser.encode(packet)
    assert len(messages) == 1 and isinstance(messages[0], bytes)
    assert wire(packet) == {
        "type": 2,
        "nsp": "/chat",
        "data": ["file", b"\x00\xff", {"nested": b"ab"}],
        "id": 7,
    }


def test_absent_data_and_id_are_left_out() -> None:
    # the official decoder wants `undefined` there; msgpack nil would be `null`
    assert wire(SioPacket(SioType.DISCONNECT, "/")) == {"type": 1, "nsp": "/"}
    assert wire(SioPacket(SioType.CONNECT, "/a", {"sid": "x"})) == {
        "type": 0,
        "nsp": "/a",
        "data": {"sid": "x"},
    }


def test_binary_types_travel_as_plain_types() -> None:
    assert wire(SioPacket(SioType.BINARY_EVENT, "/", ["x", b"1"]))["type"] == 2
    assert wire(SioPacket(SioType.BINARY_ACK, "/", [b"1"], 1))["type"] == 3


def test_connect_error_and_ack() -> None:
    assert wire(connect_error_packet("/", "no", {"why": 1})) == {
        "type": 4,
        "nsp": "/",
        "data": {"message": "no", "data": {"why": 1}},
    }
    assert wire(ack_packet("/", 3, [None, 1.5])) == {
        "type": 3,
        "nsp": "/",
        "data": [None, 1.5],
        "id": 3,
    }


def test_unencodable_data_raises_type_error() -> None:
    with pytest.raises(TypeError):
        parser.encode(event_packet("/", "x", [object()]))
    with pytest.raises(TypeError):
        parser.encode(event_packet("/", "x", [2**70]))
    # the shared packer is still usable after a failure
    assert wire(event_packet("/", "x", [1]))["data"] == ["x", 1]


# -- decoding: what the official client sends ------------------------------------------


def test_decodes_what_the_official_client_sends() -> None:
    # socket.io-client adds "options" to every emitted packet; extra keys are ignored
    packet = decode(
        {
            "type": 2,
            "data": ["hi", b"\x01", {"k": [1, 2]}],
            "options": {"compress": True},
            "nsp": "/",
        }
    )
    assert packet == SioPacket(SioType.EVENT, "/", ["hi", b"\x01", {"k": [1, 2]}], None)
    assert decode({"type": 3, "nsp": "/x", "id": 4, "data": []}) == ack_packet("/x", 4, [])


def test_notepack_undefined_and_arraybuffer() -> None:
    undefined = msgpack.ExtType(0, b"\x00")  # notepack's fixext 1 for `undefined`
    connect = decode({"type": 0, "data": undefined, "nsp": "/"})
    assert connect == SioPacket(SioType.CONNECT, "/", None)
    assert decode({"type": 2, "nsp": "/", "data": ["e", undefined], "id": undefined}).id is None
    # a browser's ArrayBuffer / typed array: ext type 0 with the bytes
    event = decode({"type": 2, "nsp": "/", "data": ["e", msgpack.ExtType(0, b"abc")]})
    assert event.data == ["e", b"abc"]
    other = decode({"type": 2, "nsp": "/", "data": ["e", msgpack.ExtType(5, b"z")]})
    assert other.data == ["e", [5, b"z"]]


def test_decoded_packets_match_the_json_parser() -> None:
    json_parser = JsonParser()
    for packet in (
        event_packet("/", "e", [1, "two", [b"3"], {"four": b"4"}], 9),
        ack_packet("/n", 2, [b"x", None]),
        SioPacket(SioType.CONNECT, "/", {"token": "t"}),
        SioPacket(SioType.DISCONNECT, "/n"),
    ):
        json_decoder = json_parser.decoder()
        from_json = None
        for message in json_parser.encode(packet):
            from_json = json_decoder.feed(message)
        [data] = parser.encode(packet)
        assert MsgpackDecoder().feed(data) == from_json


@pytest.mark.parametrize(
    "obj",
    [
        [2, "/", ["e"]],  # not a map
        "text",
        {"type": 5, "nsp": "/", "data": ["e"]},  # BINARY_EVENT does not exist here
        {"type": -1, "nsp": "/", "data": ["e"]},
        {"type": True, "nsp": "/", "data": ["e"]},
        {"type": 2.0, "nsp": "/", "data": ["e"]},
        {"type": "2", "nsp": "/", "data": ["e"]},
        {"nsp": "/", "data": ["e"]},
        {"type": 2, "data": ["e"]},  # no namespace
        {"type": 2, "nsp": 1, "data": ["e"]},
        {"type": 2, "nsp": "chat", "data": ["e"]},
        {"type": 2, "nsp": "/", "data": "e"},  # EVENT data must be a list
        {"type": 2, "nsp": "/", "data": []},
        {"type": 2, "nsp": "/", "data": ["connect"]},  # reserved name
        {"type": 2, "nsp": "/", "data": [None]},
        {"type": 3, "nsp": "/", "data": {"a": 1}, "id": 1},
        {"type": 0, "nsp": "/", "data": [1]},
        {"type": 1, "nsp": "/", "data": {"a": 1}},
        {"type": 4, "nsp": "/", "data": 5},
        {"type": 2, "nsp": "/", "data": ["e"], "id": -1},
        {"type": 2, "nsp": "/", "data": ["e"], "id": MAX_ACK_ID + 1},
        {"type": 2, "nsp": "/", "data": ["e"], "id": "1"},
        {"type": 2, "nsp": "/", "data": ["e"], "id": True},
        {"type": 2, "nsp": "/", "data": ["e", {b"bytes key": 1}]},
    ],
)
def test_wrong_shapes_are_protocol_errors(obj: Any) -> None:
    with pytest.raises(ProtocolError):
        decode(obj)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xc1",  # never used
        b"\x92\x01",  # truncated
        b"\x80\x80",  # extra data
        b"\x81\x01\x02",  # int key
        b"\xa2\xff\xfe",  # invalid UTF-8
        b"\x91" * 100_000,  # nested too deeply
        b"\xdd\xff\xff\xff\xff",  # announces 4 G elements
        b"\xd6\xff\x00",  # truncated timestamp
    ],
)
def test_malformed_msgpack_is_a_protocol_error(data: bytes) -> None:
    with pytest.raises(ProtocolError):
        MsgpackDecoder().feed(data)


def test_text_messages_are_refused() -> None:
    with pytest.raises(ProtocolError):
        MsgpackDecoder().feed('2["e"]')


# -- properties ------------------------------------------------------------------------

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.floats(allow_nan=False),
    st.text(max_size=20),
    st.binary(max_size=20),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=15,
)
packets = st.one_of(
    st.builds(
        event_packet,
        st.sampled_from(["/", "/chat", "/é"]),
        st.text(max_size=10).filter(lambda s: s not in ("connect", "disconnect")),
        st.lists(values, max_size=4),
        st.one_of(st.none(), st.integers(0, MAX_ACK_ID)),
    ),
    st.builds(
        ack_packet, st.sampled_from(["/", "/x"]), st.integers(0, MAX_ACK_ID), st.lists(values)
    ),
    st.builds(
        lambda ns, auth: SioPacket(SioType.CONNECT, ns, auth),
        st.sampled_from(["/", "/a"]),
        st.one_of(st.none(), st.dictionaries(st.text(max_size=5), values, max_size=3)),
    ),
)


@SETTINGS
@given(packets)
def test_round_trip(packet: SioPacket) -> None:
    if packet.type is SioType.EVENT and packet.data[0] in (
        "connect_error",
        "disconnecting",
        "newListener",
        "removeListener",
    ):
        return
    [data] = parser.encode(packet)
    assert MsgpackDecoder().feed(data) == packet


@SETTINGS
@given(st.binary(max_size=200))
def test_any_bytes_decode_or_raise_protocol_error(data: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        MsgpackDecoder().feed(data)


msgpack_values = st.recursive(
    st.one_of(
        scalars,
        st.builds(msgpack.ExtType, st.integers(0, 127), st.binary(max_size=9)),
        st.sampled_from([-1, 0, 1, 2, 3, 4, 5, 2**53, "/", "type", "nsp", "data", "id"]),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(
            st.one_of(st.sampled_from(["type", "nsp", "data", "id"]), st.text(max_size=4)),
            inner,
            max_size=5,
        ),
        st.dictionaries(st.one_of(st.integers(), st.binary(max_size=3)), inner, max_size=2),
    ),
    max_leaves=12,
)


@SETTINGS
@given(msgpack_values)
def test_any_msgpack_value_decodes_or_raises_protocol_error(value: Any) -> None:
    try:
        data = msgpack.packb(value, use_bin_type=True)
    except (TypeError, ValueError, OverflowError):
        return
    try:
        packet = MsgpackDecoder().feed(data)
    except ProtocolError:
        return
    assert packet is not None
    assert packet.type in (
        SioType.CONNECT,
        SioType.DISCONNECT,
        SioType.EVENT,
        SioType.ACK,
        SioType.CONNECT_ERROR,
    )
    assert packet.namespace.startswith("/")


@SETTINGS
@given(
    st.fixed_dictionaries(
        {"type": st.integers(0, 4), "nsp": st.sampled_from(["/", "/x"])},
        optional={"data": msgpack_values, "id": msgpack_values},
    )
)
def test_packet_shaped_maps_decode_or_raise_protocol_error(obj: dict[str, Any]) -> None:
    try:
        data = msgpack.packb(obj, use_bin_type=True)
    except (TypeError, ValueError, OverflowError):
        return
    with contextlib.suppress(ProtocolError):
        MsgpackDecoder().feed(data)
