"""The incremental JSON decoder and the pluggable parsers."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest

from sockio_wsgi.protocol.decoder import DEFAULT_MAX_ATTACHMENTS, JsonDecoder
from sockio_wsgi.protocol.errors import PayloadTooLarge, ProtocolError
from sockio_wsgi.protocol.parsers import JsonParser, get_parser
from sockio_wsgi.protocol.sio import (
    SioPacket,
    SioType,
    ack_packet,
    connect_error_packet,
    event_packet,
)

TWO = '52-["up",{"_placeholder":true,"num":0},{"k":{"_placeholder":true,"num":1}}]'


def test_text_packet_completes_at_once() -> None:
    decoder = JsonDecoder()
    assert decoder.feed('2/chat,12["msg",1]') == event_packet("/chat", "msg", [1], 12)
    assert not decoder.waiting_for_attachments


def test_attachments_arrive_one_by_one() -> None:
    decoder = JsonDecoder()
    assert decoder.feed(TWO) is None
    assert decoder.waiting_for_attachments
    assert decoder.feed(b"first") is None
    assert decoder.waiting_for_attachments
    packet = decoder.feed(b"second")
    assert packet == SioPacket(SioType.EVENT, "/", ["up", b"first", {"k": b"second"}])
    assert not decoder.waiting_for_attachments


def test_binary_ack_becomes_ack() -> None:
    decoder = JsonDecoder()
    assert decoder.feed('61-/admin,15[{"_placeholder":true,"num":0}]') is None
    assert decoder.feed(b"\x00\x01") == ack_packet("/admin", 15, [b"\x00\x01"])


def test_attachment_types_are_accepted_and_stored_as_bytes() -> None:
    decoder = JsonDecoder()
    decoder.feed(TWO)
    decoder.feed(bytearray(b"a"))  # type: ignore[arg-type]
    packet = decoder.feed(memoryview(b"b"))  # type: ignore[arg-type]
    assert packet is not None
    assert packet.data == ["up", b"a", {"k": b"b"}]
    assert type(packet.data[1]) is bytes


def test_binary_event_with_zero_attachments_completes_at_once() -> None:
    decoder = JsonDecoder()
    assert decoder.feed('50-["x",1]') == event_packet("/", "x", [1])
    assert not decoder.waiting_for_attachments


def test_zero_attachments_but_placeholder_is_an_error() -> None:
    with pytest.raises(ProtocolError):
        JsonDecoder().feed('50-["x",{"_placeholder":true,"num":0}]')


def test_placeholder_beyond_announced_count_is_an_error() -> None:
    decoder = JsonDecoder()
    decoder.feed('51-["x",{"_placeholder":true,"num":1}]')
    with pytest.raises(ProtocolError, match="missing attachment"):
        decoder.feed(b"a")
    # the broken packet is gone: the decoder accepts a fresh one
    assert not decoder.waiting_for_attachments
    assert decoder.feed('2["ok"]') == event_packet("/", "ok", [])


def test_packets_in_sequence() -> None:
    decoder = JsonDecoder()
    out = [
        decoder.feed('2["a"]'),
        decoder.feed('51-["b",{"_placeholder":true,"num":0}]'),
        decoder.feed(b"B"),
        decoder.feed("3/x,4[]"),
        decoder.feed('51-["c",{"_placeholder":true,"num":0}]'),
        decoder.feed(b"C"),
    ]
    assert out == [
        event_packet("/", "a", []),
        None,
        event_packet("/", "b", [b"B"]),
        ack_packet("/x", 4, []),
        None,
        event_packet("/", "c", [b"C"]),
    ]


def test_text_while_waiting_for_attachments_is_an_error() -> None:
    decoder = JsonDecoder()
    decoder.feed(TWO)
    decoder.feed(b"one")
    with pytest.raises(ProtocolError, match="waiting for attachments"):
        decoder.feed('2["x"]')


def test_binary_without_announcement_is_an_error() -> None:
    with pytest.raises(ProtocolError, match="without a packet"):
        JsonDecoder().feed(b"stray")


def test_binary_after_a_completed_packet_is_an_error() -> None:
    decoder = JsonDecoder()
    decoder.feed('51-["x",{"_placeholder":true,"num":0}]')
    decoder.feed(b"a")
    with pytest.raises(ProtocolError):
        decoder.feed(b"extra")


def test_max_attachments_limit() -> None:
    decoder = JsonDecoder(max_attachments=2)
    assert decoder.feed(TWO) is None
    decoder.reset()
    with pytest.raises(PayloadTooLarge):
        decoder.feed('53-["x"]')
    assert not decoder.waiting_for_attachments


def test_default_max_attachments_is_socket_io_parsers() -> None:
    assert DEFAULT_MAX_ATTACHMENTS == 10
    decoder = JsonDecoder()
    assert decoder.feed('510-["x"]') is None
    decoder.reset()
    with pytest.raises(PayloadTooLarge, match="11 attachments announced; at most 10"):
        decoder.feed('511-["x"]')


def test_a_packets_attachments_together_stay_under_max_packet_size() -> None:
    decoder = JsonDecoder(max_packet_size=100)
    head = '53-["x",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1},2]'
    assert decoder.feed(head) is None
    assert decoder.feed(b"a" * 10) is None
    with pytest.raises(PayloadTooLarge, match="exceed 100 bytes"):
        decoder.feed(b"b" * (100 - len(head)))
    assert not decoder.waiting_for_attachments  # nothing held after the error
    small = '51-["y",{"_placeholder":true,"num":0}]'
    assert decoder.feed(small) is None
    assert decoder.feed(b"c" * (100 - len(small))) == event_packet("/", "y", [b"c" * 62])


def test_reset_forgets_a_partial_packet() -> None:
    decoder = JsonDecoder()
    decoder.feed(TWO)
    decoder.feed(b"one")
    decoder.reset()
    assert not decoder.waiting_for_attachments
    with pytest.raises(ProtocolError):
        decoder.feed(b"two")  # no longer expected
    assert decoder.feed('2["fresh"]') == event_packet("/", "fresh", [])


def test_reset_then_new_binary_packet_starts_from_scratch() -> None:
    decoder = JsonDecoder()
    decoder.feed(TWO)
    decoder.feed(b"stale")
    decoder.reset()
    decoder.feed('51-["x",{"_placeholder":true,"num":0}]')
    assert decoder.feed(b"new") == event_packet("/", "x", [b"new"])


def test_invalid_text_leaves_decoder_usable() -> None:
    decoder = JsonDecoder()
    with pytest.raises(ProtocolError):
        decoder.feed("2[")
    assert decoder.feed('2["x"]') == event_packet("/", "x", [])


def test_deeply_nested_json_is_a_protocol_error() -> None:
    depth = 100_000
    text = '51-["x",' + "[" * depth + '{"_placeholder":true,"num":0}' + "]" * depth + "]"
    with pytest.raises(ProtocolError):
        JsonDecoder().feed(text)


def test_too_deep_for_reconstruction_is_a_protocol_error() -> None:
    def deep_loads(text: str) -> Any:
        # a loads that builds nesting without recursion, deeper than the interpreter's limit
        node: Any = {"_placeholder": True, "num": 0}
        for _ in range(100_000):
            node = [node]
        return ["x", node]

    decoder = JsonDecoder(loads=deep_loads)
    assert decoder.feed("51-[]") is None
    with pytest.raises(ProtocolError, match="nested too deeply"):
        decoder.feed(b"a")


def test_decoder_with_custom_loads() -> None:
    decoder = JsonDecoder(loads=orjson.loads)
    assert decoder.feed('2["x",{"a":1}]') == event_packet("/", "x", [{"a": 1}])
    with pytest.raises(ProtocolError):
        decoder.feed('2["x"')


# -- parsers ---------------------------------------------------------------------------


PACKETS = [
    SioPacket(SioType.CONNECT),
    SioPacket(SioType.CONNECT, "/admin", {"token": "é"}),
    SioPacket(SioType.DISCONNECT, "/admin"),
    event_packet("/", "msg", ["ü€", 1, 2.5, None, True, {"k": [1]}]),
    event_packet("/chat", "msg", [b"\x00", {"deep": [bytearray(b"1")]}], 12),
    ack_packet("/", 0, [b"x"]),
    ack_packet("/a", 3, ["plain"]),
    connect_error_packet("/", "nope", {"why": "x"}),
]


def _expected(packet: SioPacket) -> SioPacket:
    """What decoding returns: bytes-like values as bytes."""

    def norm(value: Any) -> Any:
        if isinstance(value, (bytearray, memoryview)):
            return bytes(value)
        if isinstance(value, list):
            return [norm(v) for v in value]
        if isinstance(value, dict):
            return {k: norm(v) for k, v in value.items()}
        return value

    return SioPacket(packet.type, packet.namespace, norm(packet.data), packet.id)


def _decode_all(parser: JsonParser, messages: list[str | bytes]) -> SioPacket:
    decoder = parser.decoder()
    results = [decoder.feed(m) for m in messages]
    assert results[:-1] == [None] * (len(messages) - 1)
    assert results[-1] is not None
    return results[-1]


@pytest.mark.parametrize("json_module", [None, json, orjson], ids=["default", "json", "orjson"])
@pytest.mark.parametrize("packet", PACKETS)
def test_parser_round_trip(json_module: Any, packet: SioPacket) -> None:
    parser = JsonParser(json_module)
    messages = parser.encode(packet)
    assert isinstance(messages[0], str)
    assert all(isinstance(m, bytes) for m in messages[1:])
    assert _decode_all(parser, messages) == _expected(packet)


@pytest.mark.parametrize("json_module", [json, orjson], ids=["json", "orjson"])
def test_parser_wire_format_is_compact_and_unescaped(json_module: Any) -> None:
    parser = JsonParser(json_module)
    assert parser.encode(event_packet("/chat", "msg", ["é", {"a": 1}], 12)) == [
        '2/chat,12["msg","é",{"a":1}]'
    ]
    assert parser.encode(event_packet("/", "x", [b"\x01\x02"])) == [
        '51-["x",{"_placeholder":true,"num":0}]',
        b"\x01\x02",
    ]


def test_custom_module_returning_text() -> None:
    class TextJson:
        calls = 0

        @staticmethod
        def dumps(data: Any) -> str:
            TextJson.calls += 1
            return json.dumps(data, separators=(",", ":"))

        @staticmethod
        def loads(text: str) -> Any:
            TextJson.calls += 1
            return json.loads(text)

    parser = JsonParser(TextJson)
    assert parser.encode(event_packet("/", "x", [1])) == ['2["x",1]']
    assert parser.decoder().feed('2["y"]') == event_packet("/", "y", [])
    assert TextJson.calls == 2


def test_parser_limits_reach_decoder() -> None:
    parser = JsonParser(max_attachments=1, max_packet_size=20)
    decoder = parser.decoder()
    with pytest.raises(PayloadTooLarge):
        decoder.feed('52-["x"]')
    assert decoder.feed('51-["x"]') is None
    with pytest.raises(PayloadTooLarge):
        decoder.feed(b"12345678901234")
    limited = get_parser("json", max_attachments=3, max_packet_size=5).decoder()
    with pytest.raises(PayloadTooLarge):
        limited.feed('54-["x"]')


def test_each_decoder_is_independent() -> None:
    parser = JsonParser()
    first, second = parser.decoder(), parser.decoder()
    assert first is not second
    first.feed('51-["x",{"_placeholder":true,"num":0}]')
    assert second.feed('2["y"]') == event_packet("/", "y", [])
    assert first.feed(b"a") == event_packet("/", "x", [b"a"])


def test_get_parser() -> None:
    assert isinstance(get_parser(None), JsonParser)
    assert isinstance(get_parser("json"), JsonParser)
    custom = JsonParser(orjson)
    assert get_parser(custom) is custom
    with pytest.raises(ValueError, match="unknown parser"):
        get_parser("msgpack-typo")


@pytest.mark.parametrize("json_module", [json, orjson], ids=["json", "orjson"])
def test_encoded_text_never_holds_a_raw_record_separator(json_module: Any) -> None:
    # polling payloads split on \x1e, so JSON must escape it (and other control characters)
    [wire] = JsonParser(json_module).encode(event_packet("/", "a\x1eb", ["\x00\x1f"]))
    assert isinstance(wire, str)
    assert "\x1e" not in wire
    assert wire == '2["a\\u001eb","\\u0000\\u001f"]'
