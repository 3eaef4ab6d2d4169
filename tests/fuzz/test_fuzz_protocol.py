"""Fuzz targets of the sans-IO decoders: Engine.IO text and binary, Socket.IO JSON and
msgpack. Whatever the input, a decoder returns or raises ProtocolError (which the I/O layers
turn into a clean close), and holds no more than its limits allow."""

from __future__ import annotations

import base64
from typing import Any

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sockio_wsgi.protocol import eio
from sockio_wsgi.protocol.decoder import JsonDecoder
from sockio_wsgi.protocol.errors import ProtocolError
from sockio_wsgi.protocol.msgpack_parser import MsgpackDecoder
from sockio_wsgi.protocol.sio import SioPacket, SioType
from tests.fuzz.settings import FUZZ, TIMEOUT, nested_values

pytestmark = TIMEOUT

# characters the wire formats give meaning to, so random text reaches deep branches
WIRE = st.sampled_from(list('0123456789-/,[]{}":btrue_placeholdnum\x1e=+ A\\é\ud800'))
wire_text = st.one_of(st.text(), st.text(WIRE, max_size=80))
base64_packet = st.binary(max_size=64).map(lambda b: "b" + base64.b64encode(b).decode())


@FUZZ
@given(st.one_of(wire_text, base64_packet, st.lists(wire_text).map("\x1e".join)))
def test_engine_io_text(text: str) -> None:
    for decode in (eio.decode_frame, eio.decode_payload):
        try:
            packets = decode(text)
        except ProtocolError:
            continue
        for packet in packets if isinstance(packets, list) else [packets]:
            assert isinstance(packet, eio.Packet)


@FUZZ
@given(st.binary(max_size=256))
def test_engine_io_binary(frame: bytes) -> None:
    assert eio.decode_frame(frame) == eio.Packet(eio.PacketType.MESSAGE, frame)
    assert eio.message_data(frame) == frame


def placeholders(count: int) -> str:
    return ",".join(f'{{"_placeholder":true,"num":{n}}}' for n in range(count))


sio_text = st.one_of(
    wire_text,
    st.builds(
        lambda kind, count, nsp, rest: f"{kind}{count}-{nsp}{rest}",
        st.sampled_from("56"),
        st.integers(0, 20),
        st.sampled_from(["", "/chat,", "/x,7"]),
        st.integers(0, 20).map(lambda n: f'["e",{placeholders(n)}]'),
    ),
)
sio_message = st.one_of(sio_text, st.binary(max_size=40))


@FUZZ
@given(st.lists(sio_message, max_size=25))
def test_socket_io_json(messages: list[str | bytes]) -> None:
    decoder = JsonDecoder(max_attachments=10, max_packet_size=200)
    for message in messages:
        try:
            packet = decoder.feed(message)
        except ProtocolError:
            decoder.reset()
            continue
        assert decoder._size <= 200 and len(decoder._buffers or []) <= 10
        if packet is not None:
            assert isinstance(packet, SioPacket)
            assert packet.type not in (SioType.BINARY_EVENT, SioType.BINARY_ACK)


msgpack_values = nested_values(st.one_of(st.text(max_size=5), st.integers()))
packet_maps = st.fixed_dictionaries(
    {"type": st.one_of(st.integers(-1, 7), msgpack_values)},
    optional={
        "nsp": st.one_of(st.sampled_from(["/", "/chat", "x"]), msgpack_values),
        "data": msgpack_values,
        "id": st.one_of(st.integers(-1, 2**64 - 1), msgpack_values),
    },
)


def packed(value: Any) -> bytes:
    try:
        return bytes(msgpack.packb(value, use_bin_type=True))
    except (OverflowError, ValueError, TypeError):
        return b"\xc1"  # never used by msgpack: invalid


@FUZZ
@given(st.one_of(st.binary(max_size=80), packet_maps.map(packed), msgpack_values.map(packed)))
def test_socket_io_msgpack(message: bytes) -> None:
    try:
        packet = MsgpackDecoder().feed(message)
    except ProtocolError:
        return
    assert isinstance(packet, SioPacket)
    assert packet.namespace.startswith("/")


@pytest.mark.parametrize("text", ["", "4", "\x1e", "b", "b===", "2probe\x1e3"])
def test_engine_io_text_edge_cases_stay_protocol_errors(text: str) -> None:
    test_engine_io_text.hypothesis.inner_test(text)  # type: ignore[attr-defined]
