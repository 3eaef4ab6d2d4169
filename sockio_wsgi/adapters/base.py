"""The contract between a namespace and its adapter.

An adapter owns the rooms of one namespace and fans broadcasts out. It mirrors
socket.io-adapter so that a cluster adapter (Redis, speaking ``@socket.io/redis-adapter``)
can implement the same methods by doing the local part itself (``super()``, the in-memory
adapter) and publishing the rest to the other servers:

========================================  ==============================================
socket.io-adapter                          here
========================================  ==============================================
``addAll(id, rooms)``                      ``add_all(sid, rooms)``
``del(id, room)`` / ``delAll(id)``         ``delete(sid, room)`` / ``delete_all(sid)``
``broadcast(packet, opts)``                ``broadcast(packet, opts)``
``broadcastWithAck(packet, opts, n, a)``   ``broadcast_with_ack(packet, opts, on_client_count,
                                           on_reply)``
``fetchSockets(opts)``                     ``fetch_sockets(opts)`` -> ``SocketRecord`` list
``addSockets`` / ``delSockets``            ``add_sockets(opts, rooms)`` / ``del_sockets``
``disconnectSockets(opts, close)``         ``disconnect_sockets(opts, close)``
``serverSideEmit(packet)``                 ``server_side_emit(args, ack=None)``
``serverCount()``                          ``server_count()``
``on("create-room")`` ...                  ``host.room_event("create-room", room)`` ...
``persistSession(session)``                ``persist_session(record)``
``restoreSession(pid, offset)``            ``restore_session(pid, offset)`` ->
                                           ``RestoredSession`` or None
========================================  ==============================================

Adapters never import the server: a namespace hands its adapter an :class:`AdapterHost`,
a small interface to encode a packet once, deliver it to local sockets, describe and
disconnect local sockets, and receive other servers' ``server_side_emit``. Methods are
synchronous; a cluster adapter that waits for other servers (``fetch_sockets``, acks)
blocks the calling greenlet (a handler's connection keeps reading meanwhile).
``opts.local`` asks a cluster adapter to stay on this server.

Connection state recovery (``host.recovery`` is not None) is the adapter's job too, as in
socket.io: ``broadcast`` gives every recoverable packet (an event without an ack id, not
volatile) an offset as its last argument and keeps it; ``persist_session`` keeps a
socket that lost its connection; ``restore_session`` hands it back once, with the packets
it missed, filtered by its rooms.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from sockio_wsgi.protocol.eio import Packet
from sockio_wsgi.protocol.sio import SioPacket

Room = str

# called with the ack arguments of one client
ReplyCallback = Callable[[list[Any]], None]
# called once per server that took part, with how many clients it reached
ClientCountCallback = Callable[[int], None]
# server_side_emit's ack: (error or None, one reply per other server)
ServerAckCallback = Callable[[Exception | None, list[Any]], None]

ROOM_EVENTS = frozenset({"create-room", "delete-room", "join-room", "leave-room"})


@dataclass(frozen=True, slots=True)
class BroadcastOptions:
    """Who a broadcast reaches and how: empty ``rooms`` means every socket.

    ``compress`` is carried to the transport (``False`` asks it not to compress);
    ``timeout`` is the ack deadline of ``emit_with_ack``; ``flags`` holds anything else
    a cluster adapter wants to forward.
    """

    rooms: frozenset[Room] = frozenset()
    except_rooms: frozenset[Room] = frozenset()
    volatile: bool = False
    compress: bool = True
    local: bool = False
    timeout: float | None = None
    flags: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SocketRecord:
    """A socket described as plain data, so that a remote server can send one.

    ``handshake`` is the local socket's ``Handshake`` object, or a plain dict of its
    fields when the socket lives on another server.
    """

    id: str
    nsp: str
    rooms: frozenset[Room]
    data: Any
    handshake: Any


@dataclass(frozen=True, slots=True)
class RecoveryOptions:
    """Connection state recovery settings (seconds), as the server resolved them.

    ``max_packets`` caps the packets an in-memory adapter keeps per namespace."""

    max_disconnection_duration: float = 120.0
    skip_middlewares: bool = True
    max_packets: int = 10_000


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """What a disconnected socket leaves behind: its id, private id, rooms and data."""

    sid: str
    pid: str
    rooms: frozenset[Room]
    data: Any


@dataclass(frozen=True, slots=True)
class RestoredSession:
    """A claimed session and the ``[event, *args, offset]`` of each packet it missed."""

    session: SessionRecord
    missed: list[list[Any]]


class AdapterHost(Protocol):
    """What an adapter may ask of its namespace (acting on local sockets only).

    ``recovery`` is the connection state recovery settings, None when it is off."""

    name: str
    recovery: RecoveryOptions | None

    def encode(self, packet: SioPacket) -> tuple[Packet, ...]:
        """Encode a packet once into the Engine.IO packets every recipient gets."""

    def deliver(
        self,
        sid: str,
        packets: tuple[Packet, ...],
        opts: BroadcastOptions,
        ack_id: int | None = None,
        on_reply: ReplyCallback | None = None,
    ) -> bool:
        """Write pre-encoded packets to one local socket; False if it was skipped.

        With ``ack_id`` (the id encoded in ``packets``), ``on_reply`` gets the client's
        ack arguments."""

    def new_ack_id(self) -> int:
        """A fresh ack id, unique in the namespace (for ``broadcast_with_ack``)."""

    def socket_record(self, sid: str) -> SocketRecord | None:
        """A local socket as a record; None if it is not connected here."""

    def disconnect_local(self, sid: str, close: bool) -> None:
        """Disconnect a local socket (``close`` ends its whole connection)."""

    def room_event(self, event: str, room: Room, sid: str | None = None) -> None:
        """Report ``create-room``, ``delete-room``, ``join-room`` or ``leave-room``."""

    def on_server_side_emit(self, args: list[Any], reply: Callable[[Any], None] | None) -> None:
        """Another server's ``server_side_emit``: ``args`` is ``[event, *args]``;
        ``reply`` (when it asked for an ack) sends this server's answer back."""


class Adapter(Protocol):
    """Room membership and broadcasting for one namespace."""

    def add_all(self, sid: str, rooms: set[Room]) -> None:
        """Join ``sid`` to ``rooms`` (room events for new rooms and joins)."""

    def delete(self, sid: str, room: Room) -> None:
        """Remove ``sid`` from ``room`` (socket.io's ``del``)."""

    def delete_all(self, sid: str) -> None:
        """Remove ``sid`` from every room (it disconnected)."""

    def socket_rooms(self, sid: str) -> set[Room]:
        """The rooms of a local socket."""

    def sockets(self, rooms: frozenset[Room] = frozenset()) -> set[str]:
        """Local socket ids in any of ``rooms`` (all of them when empty)."""

    def broadcast(self, packet: SioPacket, opts: BroadcastOptions) -> int:
        """Send to every matching socket; return how many were written locally."""

    def broadcast_with_ack(
        self,
        packet: SioPacket,
        opts: BroadcastOptions,
        on_client_count: ClientCountCallback,
        on_reply: ReplyCallback,
    ) -> None:
        """Send expecting an ack from each recipient: each server that takes part calls
        ``on_client_count(n)`` once; each client's ack calls ``on_reply(args)``."""

    def fetch_sockets(self, opts: BroadcastOptions) -> list[SocketRecord]:
        """The matching sockets (with a cluster adapter: of every server)."""

    def add_sockets(self, opts: BroadcastOptions, rooms: set[Room]) -> None:
        """Make the matching sockets join ``rooms``."""

    def del_sockets(self, opts: BroadcastOptions, rooms: set[Room]) -> None:
        """Make the matching sockets leave ``rooms``."""

    def disconnect_sockets(self, opts: BroadcastOptions, close: bool) -> None:
        """Disconnect the matching sockets."""

    def server_side_emit(self, args: list[Any], ack: ServerAckCallback | None = None) -> None:
        """Send ``[event, *args]`` to the namespace on every *other* server."""

    def server_count(self) -> int:
        """How many servers share this namespace (1 without a cluster)."""

    def persist_session(self, session: SessionRecord) -> None:
        """Keep a session that lost its connection for ``max_disconnection_duration``."""

    def restore_session(self, pid: str, offset: str) -> RestoredSession | None:
        """Claim the session ``pid`` with the packets it missed after ``offset``; None if
        it expired, was claimed already, or packets after ``offset`` are gone."""

    def close(self) -> None:
        """The namespace is going away (server shutdown, empty dynamic child)."""
