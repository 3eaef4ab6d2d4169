"""Engine.IO v4 packet codec: WebSocket frames and HTTP long-polling payloads."""

from __future__ import annotations

import base64

import pytest

from sockio_wsgi.protocol import eio
from sockio_wsgi.protocol.eio import Packet, PacketType
from sockio_wsgi.protocol.errors import PayloadTooLarge, ProtocolError


def test_packet_type_digits_match_the_spec() -> None:
    assert [(t.name, int(t)) for t in PacketType] == [
        ("OPEN", 0),
        ("CLOSE", 1),
        ("PING", 2),
        ("PONG", 3),
        ("MESSAGE", 4),
        ("UPGRADE", 5),
        ("NOOP", 6),
    ]
    assert eio.PROTOCOL_VERSION == 4
    assert eio.RECORD_SEPARATOR == "\x1e"


def test_ready_made_packets() -> None:
    ready = {
        "PING": eio.PING,
        "PONG": eio.PONG,
        "NOOP": eio.NOOP,
        "CLOSE": eio.CLOSE,
        "PROBE_PING": eio.PROBE_PING,
        "PROBE_PONG": eio.PROBE_PONG,
    }
    assert ready == {
        "PING": Packet(PacketType.PING, ""),
        "PONG": Packet(PacketType.PONG, ""),
        "NOOP": Packet(PacketType.NOOP, ""),
        "CLOSE": Packet(PacketType.CLOSE, ""),
        "PROBE_PING": Packet(PacketType.PING, "probe"),
        "PROBE_PONG": Packet(PacketType.PONG, "probe"),
    }
    assert eio.message("hi") == Packet(PacketType.MESSAGE, "hi")
    assert eio.message(b"\x01") == Packet(PacketType.MESSAGE, b"\x01")


def test_is_binary() -> None:
    assert eio.message(b"").is_binary
    assert not eio.message("").is_binary
    assert not eio.PING.is_binary


# -- WebSocket frames ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("packet", "frame"),
    [
        (Packet(PacketType.OPEN, '{"sid":"x"}'), '0{"sid":"x"}'),
        (eio.CLOSE, "1"),
        (eio.PING, "2"),
        (eio.PONG, "3"),
        (eio.PROBE_PING, "2probe"),
        (eio.PROBE_PONG, "3probe"),
        (eio.message("hello"), "4hello"),
        (eio.message(""), "4"),
        (Packet(PacketType.UPGRADE), "5"),
        (eio.NOOP, "6"),
        (eio.message("é€😀"), "4é€😀"),
    ],
)
def test_text_frames_round_trip(packet: Packet, frame: str) -> None:
    assert eio.encode_frame(packet) == frame
    assert eio.decode_frame(frame) == packet


def test_binary_frame_is_raw_bytes_without_type_prefix() -> None:
    assert eio.encode_frame(eio.message(b"\x01\x02\x03")) == b"\x01\x02\x03"
    assert eio.encode_frame(eio.message(b"")) == b""


@pytest.mark.parametrize("frame", [b"\x04abc", bytearray(b"\x04abc"), memoryview(b"\x04abc")])
def test_binary_frame_decodes_as_message(frame: bytes | bytearray | memoryview) -> None:
    packet = eio.decode_frame(frame)
    assert packet == Packet(PacketType.MESSAGE, b"\x04abc")
    assert type(packet.data) is bytes


def test_binary_frame_starting_with_a_type_digit_is_still_a_message() -> None:
    # Only text frames carry a type prefix; b"2" is binary data, not a PING.
    assert eio.decode_frame(b"2") == eio.message(b"2")


def test_empty_binary_frame_is_an_empty_binary_message() -> None:
    assert eio.decode_frame(b"") == eio.message(b"")


def test_empty_text_frame_is_an_error() -> None:
    with pytest.raises(ProtocolError):
        eio.decode_frame("")


@pytest.mark.parametrize("frame", ["7", "9x", "a", "b", "bAQID", " 4", "-1", "\x1e", "４hi"])
def test_unknown_packet_type_in_frame(frame: str) -> None:
    with pytest.raises(ProtocolError, match="unknown packet type"):
        eio.decode_frame(frame)


@pytest.mark.parametrize("kind", [t for t in PacketType if t is not PacketType.MESSAGE])
def test_only_message_packets_carry_binary(kind: PacketType) -> None:
    with pytest.raises(ProtocolError):
        eio.encode_frame(Packet(kind, b"x"))
    with pytest.raises(ProtocolError):
        eio.encode_polling_packet(Packet(kind, b"x"))


def test_protocol_error_is_a_value_error() -> None:
    assert issubclass(ProtocolError, ValueError)
    assert issubclass(PayloadTooLarge, ProtocolError)


# -- polling payloads ----------------------------------------------------------------


def test_polling_text_packet() -> None:
    assert eio.encode_polling_packet(eio.message("hi")) == "4hi"
    assert eio.encode_polling_packet(eio.PING) == "2"


def test_polling_binary_packet_is_b_plus_base64() -> None:
    assert eio.encode_polling_packet(eio.message(b"\x01\x02\x03\x04")) == "bAQIDBA=="
    assert eio.encode_polling_packet(eio.message(b"")) == "b"


def test_payload_joins_with_record_separator() -> None:
    packets = [eio.message("hello"), eio.message(b"\x01\x02\x03\x04"), eio.PING]
    body = eio.encode_payload(packets)
    assert body == "4hello\x1ebAQIDBA==\x1e2"
    assert eio.decode_payload(body) == packets


def test_single_packet_payload_has_no_separator() -> None:
    assert eio.encode_payload([eio.NOOP]) == "6"
    assert eio.decode_payload("6") == [eio.NOOP]


def test_encode_empty_packet_list() -> None:
    assert eio.encode_payload([]) == ""


def test_decode_spec_example_payload() -> None:
    assert eio.decode_payload("4hello\x1e4€") == [eio.message("hello"), eio.message("€")]


def test_polling_binary_decodes_to_bytes() -> None:
    data = bytes(range(256))
    body = "b" + base64.b64encode(data).decode()
    [packet] = eio.decode_payload(body)
    assert packet == eio.message(data)
    assert type(packet.data) is bytes


def test_empty_binary_in_payload() -> None:
    assert eio.decode_payload("b\x1e4x") == [eio.message(b""), eio.message("x")]


def test_text_message_starting_with_b_is_still_text() -> None:
    assert eio.decode_payload("4b") == [eio.message("b")]


@pytest.mark.parametrize(
    "body",
    ["b!!!!", "bAQ", "bAQIDBA==\n", "bAQ ID", "b€€€€", "bAQIDBA==AA", "4a\x1ebA"],
)
def test_bad_base64_is_a_protocol_error(body: str) -> None:
    with pytest.raises(ProtocolError, match="base64"):
        eio.decode_payload(body)


def test_empty_payload_is_an_error() -> None:
    with pytest.raises(ProtocolError, match="empty payload"):
        eio.decode_payload("")


@pytest.mark.parametrize("body", ["\x1e", "4a\x1e", "\x1e4a", "4a\x1e\x1e4b"])
def test_empty_packet_inside_payload_is_an_error(body: str) -> None:
    with pytest.raises(ProtocolError, match="empty packet"):
        eio.decode_payload(body)


@pytest.mark.parametrize("body", ["7", "4a\x1e8", "x\x1e4a"])
def test_unknown_packet_type_in_payload(body: str) -> None:
    with pytest.raises(ProtocolError, match="unknown packet type"):
        eio.decode_payload(body)


def test_max_packets_limit() -> None:
    body = "\x1e".join(["2"] * 5)
    assert len(eio.decode_payload(body, max_packets=5)) == 5
    with pytest.raises(PayloadTooLarge):
        eio.decode_payload(body, max_packets=4)


def test_default_max_packets_limit() -> None:
    assert len(eio.decode_payload("\x1e".join(["6"] * 10_000))) == 10_000
    with pytest.raises(PayloadTooLarge):
        eio.decode_payload("\x1e".join(["6"] * 10_001))


def test_payload_too_large_is_caught_as_protocol_error() -> None:
    with pytest.raises(ProtocolError):
        eio.decode_payload("6\x1e6", max_packets=1)


def test_packets_are_frozen_values() -> None:
    packet = eio.message("a")
    with pytest.raises(AttributeError):
        packet.data = "b"  # type: ignore[misc]
    assert packet == eio.message("a")
    assert hash(packet) == hash(eio.message("a"))


@pytest.mark.parametrize(
    ("frame", "expected"),
    [("4hello", "hello"), ("4", ""), (b"\x00\x01", b"\x00\x01"), ("2", None), ("3probe", None)],
)
def test_message_data_takes_only_message_frames(frame: str | bytes, expected: object) -> None:
    assert eio.message_data(frame) == expected
    if expected is not None:
        assert eio.decode_frame(frame) == Packet(PacketType.MESSAGE, expected)  # type: ignore[arg-type]
