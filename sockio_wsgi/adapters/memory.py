"""The in-memory adapter: rooms as sets of socket ids, for a single process.

It is also the local half of a cluster adapter, which calls these methods for its own
sockets and forwards requests to the other servers.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from sockio_wsgi.adapters.base import (
    AdapterHost,
    BroadcastOptions,
    ClientCountCallback,
    ReplyCallback,
    RestoredSession,
    Room,
    ServerAckCallback,
    SessionRecord,
    SocketRecord,
)
from sockio_wsgi.adapters.recovery import RecoveryStore
from sockio_wsgi.protocol.sio import SioPacket, SioType

log = logging.getLogger("sockio_wsgi.adapters")


class InMemoryAdapter:
    """Rooms and broadcasts of one namespace inside one process.

    With connection state recovery on, it keeps recent recoverable packets and the
    sessions of disconnected sockets (see :mod:`sockio_wsgi.adapters.recovery`).
    """

    clock = staticmethod(time.monotonic)

    def __init__(self, host: AdapterHost) -> None:
        self.host = host
        self.rooms: dict[Room, set[str]] = {}
        self.sids: dict[str, set[Room]] = {}
        options = host.recovery
        self.recovery = RecoveryStore(options) if options is not None else None

    # -- membership ------------------------------------------------------------------

    def add_all(self, sid: str, rooms: set[Room]) -> None:
        """Every room is joined before any room handler runs: a handler that waits
        cannot let a broadcast find the socket in some of the rooms only."""
        joined = self.sids.setdefault(sid, set())
        events: list[tuple[str, Room, str | None]] = []
        for room in rooms:
            if room in joined:
                continue
            joined.add(room)
            members = self.rooms.get(room)
            if members is None:
                members = self.rooms[room] = set()
                events.append(("create-room", room, None))
            members.add(sid)
            events.append(("join-room", room, sid))
        for event, room, member in events:
            self.host.room_event(event, room, member)

    def delete(self, sid: str, room: Room) -> None:
        joined = self.sids.get(sid)
        if joined is None or room not in joined:
            return
        joined.discard(room)
        if not joined:
            del self.sids[sid]
        members = self.rooms.get(room)
        if members is not None:
            members.discard(sid)
            self.host.room_event("leave-room", room, sid)
            if not members:
                del self.rooms[room]
                self.host.room_event("delete-room", room)

    def delete_all(self, sid: str) -> None:
        for room in list(self.sids.get(sid, ())):
            self.delete(sid, room)

    def socket_rooms(self, sid: str) -> set[Room]:
        return set(self.sids.get(sid, ()))

    def sockets(self, rooms: frozenset[Room] = frozenset()) -> set[str]:
        return self._recipients(BroadcastOptions(rooms=rooms))

    def _recipients(self, opts: BroadcastOptions) -> set[str]:
        if opts.rooms:
            sids: set[str] = set()
            for room in opts.rooms:
                sids.update(self.rooms.get(room, ()))
        else:
            sids = set(self.sids)
        for room in opts.except_rooms:
            sids.difference_update(self.rooms.get(room, ()))
        return sids

    # -- broadcasting ----------------------------------------------------------------

    def broadcast(self, packet: SioPacket, opts: BroadcastOptions) -> int:
        """With recovery on, a recoverable packet is recorded (and gets its offset)
        before recipients are chosen, so a socket restored meanwhile gets it once."""
        if self.recovery is not None and packet.type is SioType.EVENT and packet.id is None:
            data = self.recovery.record(packet.data, opts, self.clock())
            if data is not None:
                packet = SioPacket(packet.type, packet.namespace, data)
        recipients = self._recipients(opts)
        if not recipients:
            return 0
        packets = self.host.encode(packet)
        deliver = self.host.deliver
        return sum(1 for sid in recipients if deliver(sid, packets, opts))

    def broadcast_with_ack(
        self,
        packet: SioPacket,
        opts: BroadcastOptions,
        on_client_count: ClientCountCallback,
        on_reply: ReplyCallback,
    ) -> None:
        """One ack id for the whole broadcast (as in socket.io), registered on every
        recipient; the count is of the sockets actually written to."""
        recipients = self._recipients(opts)
        count = 0
        if recipients:
            ack_id = self.host.new_ack_id()
            packet = SioPacket(packet.type, packet.namespace, packet.data, ack_id)
            packets = self.host.encode(packet)
            for sid in recipients:
                if self.host.deliver(sid, packets, opts, ack_id, on_reply):
                    count += 1
        on_client_count(count)

    # -- acting on matching sockets --------------------------------------------------

    def fetch_sockets(self, opts: BroadcastOptions) -> list[SocketRecord]:
        found = (self.host.socket_record(sid) for sid in self._recipients(opts))
        return [record for record in found if record is not None]

    def add_sockets(self, opts: BroadcastOptions, rooms: set[Room]) -> None:
        for sid in self._recipients(opts):
            self.add_all(sid, rooms)

    def del_sockets(self, opts: BroadcastOptions, rooms: set[Room]) -> None:
        for sid in self._recipients(opts):
            for room in rooms:
                self.delete(sid, room)

    def disconnect_sockets(self, opts: BroadcastOptions, close: bool) -> None:
        for sid in self._recipients(opts):
            self.host.disconnect_local(sid, close)

    # -- servers ---------------------------------------------------------------------

    def server_side_emit(self, args: list[Any], ack: ServerAckCallback | None = None) -> None:
        """There are no other servers: nothing is sent, an ack gets no replies at once."""
        log.debug(
            "namespace %s: server_side_emit %r reaches no other server", self.host.name, args[:1]
        )
        if ack is not None:
            ack(None, [])

    def server_count(self) -> int:
        return 1

    # -- connection state recovery ---------------------------------------------------

    def persist_session(self, session: SessionRecord) -> None:
        if self.recovery is not None:
            self.recovery.persist(session, self.clock())

    def restore_session(self, pid: str, offset: str) -> RestoredSession | None:
        if self.recovery is None:
            return None
        return self.recovery.restore(pid, offset, self.clock())

    def close(self) -> None:
        self.rooms.clear()
        self.sids.clear()
        if self.recovery is not None:
            self.recovery = RecoveryStore(self.recovery.options)
