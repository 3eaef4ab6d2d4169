"""The contract between a namespace and its adapter.

Adapters never import the server: a namespace hands its adapter an :class:`AdapterHost`,
a small interface to encode a packet once and deliver the result to local sockets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from sockio_wsgi.protocol.eio import Packet
from sockio_wsgi.protocol.sio import SioPacket

Room = str


@dataclass(frozen=True, slots=True)
class BroadcastOptions:
    """Who a broadcast reaches and how: empty ``rooms`` means every socket."""

    rooms: frozenset[Room] = frozenset()
    except_rooms: frozenset[Room] = frozenset()
    volatile: bool = False
    compress: bool = True
    local: bool = False
    timeout: float | None = None
    flags: dict[str, Any] = field(default_factory=dict)


class AdapterHost(Protocol):
    """What an adapter may ask of its namespace."""

    name: str

    def encode(self, packet: SioPacket) -> list[Packet]:
        """Encode a packet once into the Engine.IO packets every recipient gets."""

    def deliver(self, sid: str, packets: list[Packet], opts: BroadcastOptions) -> bool:
        """Write pre-encoded packets to one local socket; False if it was skipped."""

    def room_event(self, event: str, room: Room, sid: str | None = None) -> None:
        """Report ``create-room``, ``delete-room``, ``join-room`` or ``leave-room``."""


class Adapter(Protocol):
    """Room membership and broadcasting for one namespace."""

    def add_all(self, sid: str, rooms: set[Room]) -> None: ...

    def delete(self, sid: str, room: Room) -> None: ...

    def delete_all(self, sid: str) -> None: ...

    def socket_rooms(self, sid: str) -> set[Room]: ...

    def sockets(self, rooms: frozenset[Room] = frozenset()) -> set[str]: ...

    def broadcast(self, packet: SioPacket, opts: BroadcastOptions) -> int:
        """Send to every matching socket; return how many were written locally."""

    def close(self) -> None: ...
