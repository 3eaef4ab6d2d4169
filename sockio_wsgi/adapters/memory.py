"""The in-memory adapter: rooms as sets of socket ids, for a single process."""

from __future__ import annotations

from sockio_wsgi.adapters.base import AdapterHost, BroadcastOptions, Room
from sockio_wsgi.protocol.sio import SioPacket


class InMemoryAdapter:
    """Rooms and broadcasts of one namespace inside one process."""

    def __init__(self, host: AdapterHost) -> None:
        self.host = host
        self.rooms: dict[Room, set[str]] = {}
        self.sids: dict[str, set[Room]] = {}

    def add_all(self, sid: str, rooms: set[Room]) -> None:
        joined = self.sids.setdefault(sid, set())
        for room in rooms:
            if room in joined:
                continue
            joined.add(room)
            members = self.rooms.get(room)
            if members is None:
                members = self.rooms[room] = set()
                self.host.room_event("create-room", room)
            members.add(sid)
            self.host.room_event("join-room", room, sid)

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

    def broadcast(self, packet: SioPacket, opts: BroadcastOptions) -> int:
        recipients = self._recipients(opts)
        if not recipients:
            return 0
        packets = self.host.encode(packet)
        deliver = self.host.deliver
        return sum(1 for sid in recipients if deliver(sid, packets, opts))

    def close(self) -> None:
        self.rooms.clear()
        self.sids.clear()
