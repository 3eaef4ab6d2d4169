"""Property-based tests: decoders fail only with ProtocolError, and codecs round-trip.

Any exception other than :class:`ProtocolError` escaping a decoder fails the test, because
the I/O layers catch exactly that one.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sockio_wsgi.protocol import eio
from sockio_wsgi.protocol.binary import deconstruct, has_binary, reconstruct
from sockio_wsgi.protocol.decoder import JsonDecoder, parse_text
from sockio_wsgi.protocol.eio import Packet, PacketType
from sockio_wsgi.protocol.errors import ProtocolError
from sockio_wsgi.protocol.parsers import JsonParser
from sockio_wsgi.protocol.sio import MAX_ACK_ID, RESERVED_EVENTS, SioPacket, SioType, encode_text

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Round trips show the codecs agree on whatever the encoder writes; limits are tested apart.
UNLIMITED = 1_000_000
# Structured packets cost more to generate; fewer examples keep the suite fast.
ROUND_TRIP = settings(SETTINGS, max_examples=100)

# Text that looks like the wire format often enough to reach deep branches.
WIRE_ALPHABET = st.sampled_from(list('0123456789-/,[]{}":btrue_placeholdnum\x1e=+ A\\é\ud800'))
wire_text = st.one_of(
    st.text(),
    st.text(WIRE_ALPHABET, max_size=60),
    st.builds(lambda d, rest: d + rest, st.sampled_from(list("0123456")), st.text(max_size=40)),
)

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**53), max_value=2**53),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
json_data = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=15,
)
binaries = st.one_of(
    st.binary(max_size=32),
    st.binary(max_size=32).map(bytearray),
    st.binary(max_size=32).map(memoryview),
)
data_with_bytes = st.recursive(
    st.one_of(json_scalars, binaries),
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=10,
)
namespaces = st.one_of(
    st.just("/"), st.text(st.characters(blacklist_characters=","), max_size=12).map("/".__add__)
)
ack_ids = st.one_of(st.none(), st.integers(min_value=0, max_value=MAX_ACK_ID))
event_names = st.text(max_size=12).filter(lambda s: s not in RESERVED_EVENTS)


def _plain(value: Any) -> Any:
    """The decoded form of ``value``: bytes-like as bytes, tuples as lists."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _same(a: Any, b: Any) -> bool:
    """Equality that also compares types, so 1 and 1.0 or True and 1 differ."""
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


# -- decoders never raise anything but ProtocolError ---------------------------------------


@SETTINGS
@given(st.one_of(wire_text, st.binary(), st.binary().map(bytearray)))
def test_decode_frame_only_raises_protocol_error(frame: str | bytes) -> None:
    try:
        packet = eio.decode_frame(frame)
    except ProtocolError:
        return
    assert isinstance(packet.type, PacketType)
    if isinstance(frame, str):
        assert eio.encode_frame(packet) == frame
    else:
        assert packet == eio.message(bytes(frame))


@SETTINGS
@given(st.one_of(wire_text, st.lists(wire_text, max_size=5).map("\x1e".join)))
def test_decode_payload_only_raises_protocol_error(body: str) -> None:
    try:
        packets = eio.decode_payload(body, max_packets=3)
    except ProtocolError:
        return
    assert 1 <= len(packets) <= 3
    # what decodes, re-encodes to a payload that decodes the same
    assert eio.decode_payload(eio.encode_payload(packets)) == packets


@SETTINGS
@given(wire_text)
def test_parse_text_only_raises_protocol_error(text: str) -> None:
    try:
        packet, attachments = parse_text(text)
    except ProtocolError:
        return
    assert isinstance(packet.type, SioType)
    assert attachments >= 0
    assert packet.namespace.startswith("/")
    assert packet.id is None or 0 <= packet.id <= MAX_ACK_ID


@SETTINGS
@given(wire_text)
def test_parse_text_with_orjson_only_raises_protocol_error(text: str) -> None:
    try:
        packet, _ = parse_text(text, orjson.loads)
    except ProtocolError:
        return
    try:
        expected, _ = parse_text(text)
    except ProtocolError:
        return  # e.g. nesting the stdlib refuses but orjson allows
    assert packet == expected  # both JSON modules agree on what they both accept


binary_headers = st.builds(
    lambda kind, count, ns, ack, body: (
        f"{kind}{count}-{'' if ns == '/' else ns + ','}" + ("" if ack is None else str(ack)) + body
    ),
    st.sampled_from("56"),
    st.integers(0, 4),
    namespaces,
    ack_ids,
    st.one_of(
        st.just('["e",{"_placeholder":true,"num":0}]'),
        st.just('[{"_placeholder":true,"num":1},{"_placeholder":true,"num":0}]'),
        st.builds('["e",{{"_placeholder":true,"num":{}}}]'.format, wire_text),
        wire_text,
    ),
)


@SETTINGS
@given(st.lists(st.one_of(binary_headers, st.binary(max_size=4)), max_size=10))
def test_json_decoder_with_binary_streams(messages: list[str | bytes]) -> None:
    decoder = JsonDecoder(max_attachments=3)
    for message in messages:
        try:
            decoder.feed(message)
        except ProtocolError:
            decoder.reset()


# -- round trips ---------------------------------------------------------------------------


packet_types = st.sampled_from(list(PacketType))


@SETTINGS
@given(packet_types, st.text())
def test_text_packet_round_trip(kind: PacketType, data: str) -> None:
    packet = Packet(kind, data)
    assert eio.decode_frame(eio.encode_frame(packet)) == packet
    if "\x1e" not in data:  # the separator cannot travel inside a polling packet
        assert eio.decode_payload(eio.encode_payload([packet])) == [packet]


@SETTINGS
@given(
    st.lists(
        st.one_of(
            st.builds(Packet, packet_types, st.text(st.characters(blacklist_characters="\x1e"))),
            st.builds(eio.message, st.binary()),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_payload_round_trip(packets: list[Packet]) -> None:
    assert eio.decode_payload(eio.encode_payload(packets)) == packets


@SETTINGS
@given(st.binary())
def test_binary_frame_round_trip(data: bytes) -> None:
    assert eio.decode_frame(eio.encode_frame(eio.message(data))) == eio.message(data)


@ROUND_TRIP
@given(data_with_bytes)
def test_deconstruct_reconstruct_round_trip(data: Any) -> None:
    replaced, attachments = deconstruct(data)
    assert not has_binary(replaced)
    assert len(attachments) == _count_binary(data)
    assert _same(reconstruct(json.loads(json.dumps(replaced)), attachments), _plain(data))


def _count_binary(value: Any) -> int:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return 1
    if isinstance(value, (list, tuple)):
        return sum(_count_binary(v) for v in value)
    if isinstance(value, dict):
        return sum(_count_binary(v) for v in value.values())
    return 0


def _feed_all(decoder: JsonDecoder, messages: list[str | bytes]) -> SioPacket:
    results = [decoder.feed(m) for m in messages]
    assert all(r is None for r in results[:-1])
    last = results[-1]
    assert last is not None
    return last


@ROUND_TRIP
@given(
    namespaces,
    event_names,
    st.lists(data_with_bytes, max_size=4),
    ack_ids,
    st.sampled_from([None, orjson]),
)
def test_event_round_trip(
    namespace: str, event: str, args: list[Any], ack_id: int | None, module: Any
) -> None:
    parser = JsonParser(module)
    packet = SioPacket(SioType.EVENT, namespace, [event, *args], ack_id)
    messages = parser.encode(packet)
    decoded = _feed_all(parser.decoder(), messages)
    assert decoded.type is SioType.EVENT
    assert decoded.namespace == namespace
    assert decoded.id == ack_id
    assert _same(decoded.data, _plain([event, *args]))


@ROUND_TRIP
@given(namespaces, st.lists(data_with_bytes, max_size=4), st.integers(0, MAX_ACK_ID))
def test_ack_round_trip(namespace: str, args: list[Any], ack_id: int) -> None:
    packet = SioPacket(SioType.ACK, namespace, args, ack_id)
    decoded = _feed_all(JsonDecoder(max_attachments=UNLIMITED), encode_text(packet))
    assert (decoded.type, decoded.namespace, decoded.id) == (SioType.ACK, namespace, ack_id)
    assert _same(decoded.data, _plain(args))


@ROUND_TRIP
@given(
    namespaces,
    st.one_of(st.none(), st.dictionaries(st.text(max_size=8), json_data, max_size=4)),
)
def test_connect_round_trip(namespace: str, auth: dict[str, Any] | None) -> None:
    packet = SioPacket(SioType.CONNECT, namespace, auth)
    decoded = _feed_all(JsonDecoder(max_attachments=UNLIMITED), encode_text(packet))
    assert (decoded.type, decoded.namespace) == (SioType.CONNECT, namespace)
    assert _same(decoded.data, auth)


@ROUND_TRIP
@given(st.lists(st.tuples(event_names, st.lists(data_with_bytes, max_size=3)), max_size=4))
def test_stream_of_packets_round_trip(events: list[tuple[str, list[Any]]]) -> None:
    decoder = JsonDecoder(max_attachments=UNLIMITED)
    for event, args in events:
        decoded = _feed_all(decoder, encode_text(SioPacket(SioType.EVENT, "/", [event, *args])))
        assert _same(decoded.data, _plain([event, *args]))
    assert not decoder.waiting_for_attachments


@ROUND_TRIP
@given(namespaces, event_names, st.lists(data_with_bytes, max_size=3), ack_ids, st.booleans())
def test_event_through_engine_io_round_trip(
    namespace: str, event: str, args: list[Any], ack_id: int | None, polling: bool
) -> None:
    messages = encode_text(SioPacket(SioType.EVENT, namespace, [event, *args], ack_id))
    packets = [eio.message(m) for m in messages]
    if polling and "\x1e" not in namespace:  # a namespace is not escaped: only WebSocket
        received = eio.decode_payload(eio.encode_payload(packets))
    else:
        received = [eio.decode_frame(eio.encode_frame(p)) for p in packets]
    assert all(p.type is PacketType.MESSAGE for p in received)
    decoded = _feed_all(JsonDecoder(max_attachments=UNLIMITED), [p.data for p in received])
    assert (decoded.namespace, decoded.id) == (namespace, ack_id)
    assert _same(decoded.data, _plain([event, *args]))
