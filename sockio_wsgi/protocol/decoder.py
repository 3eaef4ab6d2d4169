"""Incremental Socket.IO decoder for the JSON text format.

Engine.IO messages are fed one at a time. A text message either completes a packet at
once or, for BINARY_EVENT / BINARY_ACK, announces how many binary messages follow; the
packet is returned when the last of them arrives. Limits keep a hostile peer from making
the decoder hold unbounded state: at most ``max_attachments`` binary messages per packet (10,
as socket.io-parser) and, when ``max_packet_size`` is set, at most that many bytes in all of
one packet's messages together (the transport bounds each message alone).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from sockio_wsgi.protocol.binary import reconstruct
from sockio_wsgi.protocol.errors import PayloadTooLarge, ProtocolError
from sockio_wsgi.protocol.sio import MAX_ACK_ID, SioPacket, SioType, validate

Loads = Callable[[str], Any]

DEFAULT_MAX_ATTACHMENTS = 10
_TYPE_BY_DIGIT = {str(int(t)): t for t in SioType}
_DIGIT_RUN = re.compile(r"[0-9]+", re.ASCII).match
_BINARY_TYPES = (SioType.BINARY_EVENT, SioType.BINARY_ACK)


def _digits_end(text: str, pos: int) -> int:
    """The end of the run of ASCII digits starting at ``pos`` (``pos`` when there is none)."""
    run = _DIGIT_RUN(text, pos)
    return pos if run is None else run.end()


def parse_text(text: str, loads: Loads = json.loads) -> tuple[SioPacket, int]:
    """Parse one text packet; return it and the number of attachments announced."""
    packet_type = _TYPE_BY_DIGIT.get(text[:1])
    if packet_type is None:
        if text[:1].isdigit():
            raise ProtocolError(f"unknown Socket.IO packet type {text[0]!r}")
        raise ProtocolError("invalid Socket.IO packet type")
    pos, end = 1, len(text)
    attachments = 0
    if packet_type in _BINARY_TYPES:
        dash = _digits_end(text, pos)
        if dash == pos or dash - pos > 6 or text[dash : dash + 1] != "-":
            raise ProtocolError("invalid attachment count")
        attachments = int(text[pos:dash])
        pos = dash + 1
    namespace = "/"
    if text[pos : pos + 1] == "/":
        comma = text.find(",", pos)
        if comma < 0:
            comma = end
        namespace = text[pos:comma]
        pos = comma + 1
    ack_id = None
    digits_end = _digits_end(text, pos)
    if digits_end > pos:
        if digits_end - pos > 16 or (ack_id := int(text[pos:digits_end])) > MAX_ACK_ID:
            raise ProtocolError("ack id out of range")
        pos = digits_end
    data = None
    if pos < end:
        try:
            data = loads(text[pos:])
        except (ValueError, RecursionError) as exc:
            raise ProtocolError("invalid JSON in packet") from exc
    packet = SioPacket(packet_type, namespace, data, ack_id)
    validate(packet)
    return packet, attachments


class JsonDecoder:
    """Reassembles packets from a stream of Engine.IO messages (one per connection)."""

    def __init__(
        self,
        loads: Loads = json.loads,
        max_attachments: int = DEFAULT_MAX_ATTACHMENTS,
        max_packet_size: int | None = None,
    ):
        self._loads = loads
        self._max_attachments = max_attachments
        self._max_packet_size = max_packet_size
        self._pending: SioPacket | None = None
        self._expected = 0
        self._size = 0  # bytes of the pending packet so far
        self._buffers: list[bytes] | None = None  # made when a packet announces attachments

    @property
    def waiting_for_attachments(self) -> bool:
        return self._pending is not None

    def feed(self, data: str | bytes) -> SioPacket | None:
        """Feed one Engine.IO message; return a packet when one is complete."""
        if isinstance(data, str):
            if self._pending is not None:
                raise ProtocolError("text message received while waiting for attachments")
            packet, count = parse_text(data, self._loads)
            if packet.type not in (SioType.BINARY_EVENT, SioType.BINARY_ACK):
                return packet
            if count > self._max_attachments:
                raise PayloadTooLarge(
                    f"{count} attachments announced; at most {self._max_attachments} allowed"
                )
            if count == 0:
                return self._finish(packet, [])
            self._pending, self._expected, self._buffers = packet, count, []
            self._size = 0
            self._count(len(data))
            return None
        pending, buffers = self._pending, self._buffers
        if pending is None or buffers is None:
            raise ProtocolError("binary message received without a packet announcing it")
        self._count(len(data))
        buffers.append(bytes(data))
        if len(buffers) < self._expected:
            return None
        self._pending, self._expected, self._buffers = None, 0, None
        return self._finish(pending, buffers)

    def _count(self, size: int) -> None:
        """Add a message of the pending packet to its size; past the limit, drop it."""
        self._size += size
        limit = self._max_packet_size
        if limit is not None and self._size > limit:
            self.reset()
            raise PayloadTooLarge(f"a packet's attachments exceed {limit} bytes in all")

    @staticmethod
    def _finish(packet: SioPacket, buffers: list[bytes]) -> SioPacket:
        try:
            packet.data = reconstruct(packet.data, buffers)
        except RecursionError as exc:
            raise ProtocolError("packet data nested too deeply") from exc
        packet.type = SioType.EVENT if packet.type is SioType.BINARY_EVENT else SioType.ACK
        return packet

    def reset(self) -> None:
        """Drop a partly received packet (the connection is going away)."""
        self._pending, self._expected, self._buffers, self._size = None, 0, None, 0
