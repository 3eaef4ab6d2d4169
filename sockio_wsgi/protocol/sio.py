"""Socket.IO v5 packets and their JSON text encoding.

Wire form of a text packet::

    <type>[<attachments>-][<namespace>,][<ack id>][<JSON data>]

Packets with binary data travel as BINARY_EVENT / BINARY_ACK followed by one
Engine.IO binary message per attachment (see :mod:`sockio_wsgi.protocol.binary`).
Decoded packets are always reported as EVENT or ACK with the bytes put back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from sockio_wsgi.protocol import jsontext
from sockio_wsgi.protocol.binary import deconstruct, has_binary
from sockio_wsgi.protocol.errors import ProtocolError

RESERVED_EVENTS = frozenset(
    {"connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"}
)
MAX_ACK_ID = 2**53 - 1


class SioType(IntEnum):
    CONNECT = 0
    DISCONNECT = 1
    EVENT = 2
    ACK = 3
    CONNECT_ERROR = 4
    BINARY_EVENT = 5
    BINARY_ACK = 6


@dataclass(slots=True)
class SioPacket:
    """One Socket.IO packet.

    ``data`` is the list ``[event, *args]`` for EVENT, the list of args for ACK, the
    auth/handshake dict (or None) for CONNECT and the error dict for CONNECT_ERROR.
    """

    type: SioType
    namespace: str = "/"
    data: Any = None
    id: int | None = None

    @property
    def event(self) -> str:
        """The event name of an EVENT packet."""
        return str(self.data[0])

    @property
    def args(self) -> list[Any]:
        """The arguments of an EVENT (after the name) or an ACK packet."""
        if self.type is SioType.EVENT:
            return list(self.data[1:])
        return list(self.data or [])


def event_packet(
    namespace: str, event: str, args: list[Any], ack_id: int | None = None
) -> SioPacket:
    return SioPacket(SioType.EVENT, namespace, [event, *args], ack_id)


def ack_packet(namespace: str, ack_id: int, args: list[Any]) -> SioPacket:
    return SioPacket(SioType.ACK, namespace, list(args), ack_id)


def connect_error_packet(namespace: str, message: str, data: Any = None) -> SioPacket:
    payload: dict[str, Any] = {"message": message}
    if data is not None:
        payload["data"] = data
    return SioPacket(SioType.CONNECT_ERROR, namespace, payload)


Dumps = Callable[[Any], str]

_DIGIT_BY_TYPE = {t: str(int(t)) for t in SioType}


def encode_text(packet: SioPacket, dumps: Dumps = jsontext.dumps) -> list[str | bytes]:
    """Encode a packet as its text header packet followed by binary attachments."""
    packet_type = packet.type
    data = packet.data
    attachments: list[bytes] = []
    if (packet_type is SioType.EVENT or packet_type is SioType.ACK) and has_binary(data):
        data, attachments = deconstruct(data)
        packet_type = SioType.BINARY_EVENT if packet_type is SioType.EVENT else SioType.BINARY_ACK
        text = f"{_DIGIT_BY_TYPE[packet_type]}{len(attachments)}-"
    else:
        text = _DIGIT_BY_TYPE[packet_type]
    if packet.namespace != "/":
        text += packet.namespace + ","
    if packet.id is not None:
        text += str(packet.id)
    if data is not None:
        try:
            text += dumps(data)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"cannot encode packet data as JSON: {exc}") from exc
    if attachments:
        return [text, *attachments]
    return [text]


def validate(packet: SioPacket) -> None:
    """Check that a decoded packet's data has the shape its type requires."""
    kind, data = packet.type, packet.data
    if kind is SioType.EVENT or kind is SioType.BINARY_EVENT:  # the hot case first
        name = data[0] if type(data) is list and data else None
        name_type = type(name)
        ok = (name_type is str and name not in RESERVED_EVENTS) or name_type is int
    elif kind is SioType.ACK or kind is SioType.BINARY_ACK:
        ok = type(data) is list
    elif kind is SioType.CONNECT:
        ok = data is None or type(data) is dict
    elif kind is SioType.DISCONNECT:
        ok = data is None
    else:  # CONNECT_ERROR
        ok = type(data) is dict or type(data) is str
    if not ok:
        raise ProtocolError(f"invalid payload for {kind.name} packet")
