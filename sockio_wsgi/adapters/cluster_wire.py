"""The bus messages of ``@socket.io/redis-adapter`` (classic pub/sub), as pure functions.

Kept free of I/O so the wire format can be read (and tested) in one place. What travels:

- broadcasts on ``<prefix>#<nsp>#`` (or ``<prefix>#<nsp>#<room>#`` for one room): a
  msgpack array ``[uid, packet, {rooms, except, flags}]``, ``packet`` shaped as
  socket.io-parser's ``{type, data, nsp, id}``;
- requests on ``<prefix>-request#<nsp>#``: a map with ``uid``, ``type`` (RequestType),
  ``requestId`` when an answer is expected, and the fields of that type;
- responses on ``<prefix>-response#<nsp>#`` (or ``...#<uid>#`` for one node).

Node sends some requests and responses as JSON text, others as msgpack; a message starting
with ``{`` is JSON. We always send msgpack (binary travels as ``bin``), which Node decodes.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
from enum import IntEnum
from typing import Any

import msgpack

from sockio_wsgi.adapters.base import BroadcastOptions, SocketRecord
from sockio_wsgi.protocol.sio import SioPacket, SioType

# the uid @socket.io/redis-emitter puts on its messages
EMITTER_UID = "emitter"


class RequestType(IntEnum):
    """Request and response types, with the numbers of the Node adapter."""

    SOCKETS = 0
    ALL_ROOMS = 1
    REMOTE_JOIN = 2
    REMOTE_LEAVE = 3
    REMOTE_DISCONNECT = 4
    REMOTE_FETCH = 5
    SERVER_SIDE_EMIT = 6
    BROADCAST = 7
    BROADCAST_CLIENT_COUNT = 8
    BROADCAST_ACK = 9


class MalformedMessage(ValueError):
    """A bus message we cannot use (it is logged and dropped, never fatal)."""


@dataclasses.dataclass(frozen=True, slots=True)
class Channels:
    """The channel names of one namespace under one key prefix."""

    broadcast: str
    request: str
    response: str

    @classmethod
    def of(cls, prefix: str, nsp: str) -> Channels:
        return cls(f"{prefix}#{nsp}#", f"{prefix}-request#{nsp}#", f"{prefix}-response#{nsp}#")

    def room(self, room: str) -> str:
        return f"{self.broadcast}{room}#"

    def specific_response(self, uid: str) -> str:
        return f"{self.response}{uid}#"

    def broadcast_pattern(self) -> str:
        """The PSUBSCRIBE pattern for every broadcast of the namespace (glob-escaped)."""
        escaped = "".join("\\" + c if c in "*?[]\\" else c for c in self.broadcast)
        return escaped + "*"

    def broadcast_channel(self, rooms: frozenset[str]) -> str:
        """Where a broadcast goes: the room channel when it targets exactly one room."""
        return self.room(next(iter(rooms))) if len(rooms) == 1 else self.broadcast


def new_uid() -> str:
    return secrets.token_hex(6)


def new_request_id() -> str:
    return secrets.token_hex(8)


def _default(obj: Any) -> Any:
    """What msgpack cannot encode itself: sets as arrays, a handshake (``as_dict``) or a
    dataclass as a map without its ``environ``, anything else as its text (as
    JSON.stringify would drop it)."""
    if isinstance(obj, (set, frozenset)):
        return sorted(obj, key=repr)
    if isinstance(obj, (bytearray, memoryview)):
        return bytes(obj)
    as_dict = getattr(obj, "as_dict", None)  # a Handshake
    if callable(as_dict):
        return as_dict()
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {
            f.name: getattr(obj, f.name) for f in dataclasses.fields(obj) if f.name != "environ"
        }
    return str(obj)


def _ext_hook(code: int, data: bytes) -> Any:
    # notepack.io encodes ``undefined`` as fixext 1 of type 0
    if code == 0:
        return None
    raise MalformedMessage(f"unknown msgpack extension type {code}")


def encode(message: Any) -> bytes:
    packed: bytes = msgpack.packb(message, use_bin_type=True, default=_default)
    return packed


def decode(data: bytes) -> Any:
    """A message from the bus, JSON or msgpack; raises MalformedMessage."""
    try:
        if data[:1] == b"{":
            return json.loads(data)
        return msgpack.unpackb(data, raw=False, strict_map_key=False, ext_hook=_ext_hook)
    except MalformedMessage:
        raise
    except Exception as exc:
        raise MalformedMessage(f"undecodable message: {exc}") from exc


def decode_request(data: bytes) -> dict[str, Any]:
    message = decode(data)
    if not isinstance(message, dict) or not isinstance(message.get("type"), int):
        raise MalformedMessage("a request is a map with a numeric type")
    return message


# -- packets and options -----------------------------------------------------------------


def packet_to_wire(packet: SioPacket) -> dict[str, Any]:
    wire: dict[str, Any] = {
        "type": int(SioType.EVENT),
        "data": packet.data,
        "nsp": packet.namespace,
    }
    if packet.id is not None:
        wire["id"] = packet.id
    return wire


def packet_from_wire(obj: Any) -> SioPacket:
    """An EVENT packet from the bus (BINARY_EVENT is the same packet once decoded)."""
    if not isinstance(obj, dict) or obj.get("type") not in (SioType.EVENT, SioType.BINARY_EVENT):
        raise MalformedMessage("a broadcast carries an EVENT packet")
    data = obj.get("data")
    if not isinstance(data, list) or not data or not isinstance(data[0], str):
        raise MalformedMessage("an EVENT packet's data is [event, *args]")
    nsp = obj.get("nsp")
    return SioPacket(SioType.EVENT, nsp if isinstance(nsp, str) else "/", data)


def opts_to_wire(opts: BroadcastOptions, with_flags: bool = True) -> dict[str, Any]:
    """``{rooms, except, flags}``; flags only as socket.io sets them (timeout in ms)."""
    wire: dict[str, Any] = {"rooms": sorted(opts.rooms), "except": sorted(opts.except_rooms)}
    if with_flags:
        flags: dict[str, Any] = dict(opts.flags)
        if opts.volatile:
            flags["volatile"] = True
        if not opts.compress:
            flags["compress"] = False
        if opts.timeout is not None:
            flags["timeout"] = int(opts.timeout * 1000)
        wire["flags"] = flags
    return wire


def _rooms(value: Any) -> frozenset[str]:
    if value is None:
        return frozenset()
    if not isinstance(value, list):
        raise MalformedMessage("rooms are a list")
    return frozenset(str(room) for room in value)


def opts_from_wire(obj: Any) -> BroadcastOptions:
    if obj is None:
        obj = {}
    if not isinstance(obj, dict):
        raise MalformedMessage("broadcast options are a map")
    flags = obj.get("flags") or {}
    if not isinstance(flags, dict):
        raise MalformedMessage("broadcast flags are a map")
    timeout = flags.get("timeout")
    return BroadcastOptions(
        rooms=_rooms(obj.get("rooms")),
        except_rooms=_rooms(obj.get("except")),
        volatile=bool(flags.get("volatile")),
        compress=flags.get("compress") is not False,
        timeout=timeout / 1000 if isinstance(timeout, (int, float)) else None,
    )


# -- sockets -----------------------------------------------------------------------------


def record_to_wire(record: SocketRecord) -> dict[str, Any]:
    """A socket as REMOTE_FETCH answers it: ``{id, handshake, rooms, data}``."""
    return {
        "id": record.id,
        "handshake": record.handshake,
        "rooms": sorted(record.rooms),
        "data": record.data,
    }


def record_from_wire(obj: Any, nsp: str) -> SocketRecord:
    if not isinstance(obj, dict) or not isinstance(obj.get("id"), str):
        raise MalformedMessage("a fetched socket is a map with an id")
    handshake = obj.get("handshake")
    return SocketRecord(
        id=obj["id"],
        nsp=nsp,
        rooms=_rooms(obj.get("rooms")),
        data=obj.get("data"),
        handshake=handshake if isinstance(handshake, dict) else {},
    )


def ack_value(reply: list[Any]) -> Any:
    """BROADCAST_ACK carries one value per client (socket.io's operator keeps the first ack
    argument); several arguments travel as a list, none as nil."""
    if not reply:
        return None
    return reply[0] if len(reply) == 1 else list(reply)
