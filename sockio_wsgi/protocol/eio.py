"""Engine.IO v4 packets: WebSocket frames and HTTP long-polling payloads.

A packet is a type digit followed by its data. Over WebSocket each frame carries one
packet; binary frames are always MESSAGE packets with no type prefix. Over polling, a
payload joins packets with the record separator ``\\x1e`` and binary data travels as
``b`` followed by base64.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from enum import IntEnum
from typing import ClassVar

from sockio_wsgi.protocol.errors import PayloadTooLarge, ProtocolError

PROTOCOL_VERSION = 4
RECORD_SEPARATOR = "\x1e"


class PacketType(IntEnum):
    OPEN = 0
    CLOSE = 1
    PING = 2
    PONG = 3
    MESSAGE = 4
    UPGRADE = 5
    NOOP = 6


_TYPE_BY_CHAR = {str(int(t)): t for t in PacketType}
_CHAR_BY_TYPE = {t: str(int(t)) for t in PacketType}


@dataclass(frozen=True, slots=True)
class Packet:
    """One Engine.IO packet; ``data`` is text, bytes (MESSAGE only) or empty."""

    type: PacketType
    data: str | bytes = ""
    # a class attribute, so the flag costs nothing per packet; see :func:`uncompressed`
    compress: ClassVar[bool] = True

    @property
    def is_binary(self) -> bool:
        return isinstance(self.data, bytes)


class UncompressedPacket(Packet):
    """A packet the transport must not compress (``socket.compress(False)``)."""

    __slots__ = ()
    compress: ClassVar[bool] = False


def uncompressed(packet: Packet) -> Packet:
    """The same packet, flagged to go out uncompressed."""
    if not packet.compress:
        return packet
    return UncompressedPacket(packet.type, packet.data)


PING = Packet(PacketType.PING)
PONG = Packet(PacketType.PONG)
NOOP = Packet(PacketType.NOOP)
CLOSE = Packet(PacketType.CLOSE)
PROBE_PING = Packet(PacketType.PING, "probe")
PROBE_PONG = Packet(PacketType.PONG, "probe")


def message(data: str | bytes) -> Packet:
    """A MESSAGE packet carrying ``data`` (text or binary)."""
    return Packet(PacketType.MESSAGE, data)


def encode_frame(packet: Packet) -> str | bytes:
    """Encode for one WebSocket frame: text packets as ``<type><data>``, binary raw."""
    if isinstance(packet.data, bytes):
        if packet.type is not PacketType.MESSAGE:
            raise ProtocolError("only MESSAGE packets can carry binary data")
        return packet.data
    return _CHAR_BY_TYPE[packet.type] + packet.data


def message_data(frame: str | bytes) -> str | bytes | None:
    """The payload of a WebSocket frame that is a MESSAGE packet, else ``None``: the hot
    path takes messages without building a :class:`Packet`."""
    if isinstance(frame, str):
        return frame[1:] if frame[:1] == "4" else None
    return frame


def decode_frame(frame: str | bytes | bytearray | memoryview) -> Packet:
    """Decode one WebSocket frame; binary frames are MESSAGE packets."""
    if isinstance(frame, str):
        return _decode_text(frame)
    return Packet(PacketType.MESSAGE, bytes(frame))


def _decode_text(text: str) -> Packet:
    if not text:
        raise ProtocolError("empty packet")
    packet_type = _TYPE_BY_CHAR.get(text[0])
    if packet_type is None:
        raise ProtocolError(f"unknown packet type {text[0]!r}")
    return Packet(packet_type, text[1:])


def encode_polling_packet(packet: Packet) -> str:
    """Encode for a polling payload: binary data becomes ``b<base64>``."""
    if isinstance(packet.data, bytes):
        if packet.type is not PacketType.MESSAGE:
            raise ProtocolError("only MESSAGE packets can carry binary data")
        return "b" + base64.b64encode(packet.data).decode("ascii")
    return _CHAR_BY_TYPE[packet.type] + packet.data


def encode_payload(packets: list[Packet]) -> str:
    """Join packets into one HTTP long-polling response body."""
    return RECORD_SEPARATOR.join([encode_polling_packet(p) for p in packets])


def decode_payload(body: str, *, max_packets: int = 10_000) -> list[Packet]:
    """Split an HTTP long-polling request body into packets.

    Raises :class:`ProtocolError` on any malformed packet (the session must then be
    closed) and :class:`PayloadTooLarge` past ``max_packets``.
    """
    if not body:
        raise ProtocolError("empty payload")
    parts = body.split(RECORD_SEPARATOR)
    if len(parts) > max_packets:
        raise PayloadTooLarge(f"payload holds more than {max_packets} packets")
    return [_decode_polling_packet(part) for part in parts]


def _decode_polling_packet(text: str) -> Packet:
    if text[:1] == "b":
        try:
            data = base64.b64decode(text[1:], validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ProtocolError("invalid base64 in binary packet") from exc
        return Packet(PacketType.MESSAGE, data)
    return _decode_text(text)
