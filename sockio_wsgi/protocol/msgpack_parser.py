"""The msgpack parser, wire-compatible with the official ``socket.io-msgpack-parser``.

Each Socket.IO packet travels as ONE binary Engine.IO message: a msgpack map
``{"type": int, "nsp": str, "data": ..., "id": int}`` (``data`` and ``id`` left out when
absent). Binary values stay inline as msgpack ``bin``, so there are no attachments and no
BINARY_EVENT / BINARY_ACK types (the official parser knows only types 0 to 4).

Decoded packets look exactly like the JSON parser's: EVENT and ACK packets with ``data``
lists, ``bytes`` for binary, ``str`` keys in maps, so the server layer does not care which
parser is in use. The JavaScript encoder (notepack.io) has a few extensions of its own,
all of type 0, which are mapped as follows:

- ``undefined`` (fixext 1, type 0) becomes ``None``; a top-level ``data`` or ``id`` that
  is undefined counts as absent, as in JavaScript;
- an ``ArrayBuffer`` or typed array (ext 8/16/32, type 0, what a browser sends for binary)
  becomes ``bytes``. A one-byte buffer holding ``0x00`` cannot be told apart from
  ``undefined`` once msgpack has decoded it and arrives as ``None``;
- a ``Date`` (fixext 8, type 0) arrives as its 8 raw bytes: send dates as strings or numbers.

Other extension types become ``[type, bytes]`` as in notepack.io; the msgpack timestamp
(type -1) becomes a float of seconds. Any input that is not a well-formed packet raises
:class:`~sockio_wsgi.protocol.errors.ProtocolError` and nothing else; the transport already
bounds the size of one message.
"""

from __future__ import annotations

from typing import Any

import msgpack

from sockio_wsgi.protocol.errors import ProtocolError
from sockio_wsgi.protocol.sio import MAX_ACK_ID, SioPacket, SioType, validate

_UNDEFINED = b"\x00"  # the payload of notepack's fixext 1 "undefined"
_WIRE_TYPE = {
    SioType.CONNECT: 0,
    SioType.DISCONNECT: 1,
    SioType.EVENT: 2,
    SioType.ACK: 3,
    SioType.CONNECT_ERROR: 4,
    SioType.BINARY_EVENT: 2,  # binary stays inline: the plain types carry it
    SioType.BINARY_ACK: 3,
}
_TYPE_BY_WIRE = {
    0: SioType.CONNECT,
    1: SioType.DISCONNECT,
    2: SioType.EVENT,
    3: SioType.ACK,
    4: SioType.CONNECT_ERROR,
}


def _ext_hook(code: int, data: bytes) -> Any:
    if code == 0:
        return None if data == _UNDEFINED else data
    return [code, data]


def _object_hook(obj: dict[Any, Any]) -> dict[str, Any]:
    for key in obj:
        if type(key) is not str:
            raise ProtocolError("map keys must be strings")
    return obj


def _unpack(data: bytes | bytearray | memoryview) -> Any:
    return msgpack.unpackb(
        data,
        raw=False,
        strict_map_key=True,
        use_list=True,
        ext_hook=_ext_hook,
        object_hook=_object_hook,
        timestamp=1,
    )


def decode_packet(data: bytes | bytearray | memoryview) -> SioPacket:
    """Decode one msgpack message into a packet; ProtocolError for anything malformed."""
    try:
        obj = _unpack(data)
    except ProtocolError:
        raise
    except Exception as exc:  # ExtraData, FormatError, StackError, UnicodeDecodeError, ...
        raise ProtocolError(f"invalid msgpack: {type(exc).__name__}: {exc}") from exc
    if type(obj) is not dict:
        raise ProtocolError("a msgpack packet must be a map")
    wire_type = obj.get("type")
    packet_type = _TYPE_BY_WIRE.get(wire_type) if type(wire_type) is int else None
    if packet_type is None:
        raise ProtocolError("invalid packet type")
    namespace = obj.get("nsp")
    if type(namespace) is not str or not namespace.startswith("/"):
        raise ProtocolError("invalid namespace")
    ack_id = obj.get("id")
    if ack_id is not None and (type(ack_id) is not int or not 0 <= ack_id <= MAX_ACK_ID):
        raise ProtocolError("invalid packet id")
    packet = SioPacket(packet_type, namespace, obj.get("data"), ack_id)
    validate(packet)
    return packet


class MsgpackDecoder:
    """Per-connection decoder: every binary message is one whole packet."""

    def feed(self, data: str | bytes) -> SioPacket | None:
        if isinstance(data, str):
            raise ProtocolError("text message where a msgpack packet was expected")
        return decode_packet(data)

    def reset(self) -> None:
        """Nothing is ever held between messages."""


class MsgpackParser:
    """``Server(parser="msgpack")``: the format of ``socket.io-msgpack-parser``."""

    def __init__(self) -> None:
        self._packer = msgpack.Packer(use_bin_type=True, datetime=False, autoreset=True)

    def encode(self, packet: SioPacket) -> list[str | bytes]:
        obj: dict[str, Any] = {"type": _WIRE_TYPE[packet.type], "nsp": packet.namespace}
        if packet.data is not None:
            obj["data"] = packet.data
        if packet.id is not None:
            obj["id"] = packet.id
        try:
            return [self._packer.pack(obj)]
        except (TypeError, ValueError, OverflowError) as exc:
            raise TypeError(f"cannot encode packet data as msgpack: {exc}") from exc

    def decoder(self) -> MsgpackDecoder:
        return MsgpackDecoder()
