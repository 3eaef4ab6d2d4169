"""The broadcast operator: an immutable description of who gets an emit, and how."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sockio_wsgi.adapters.base import BroadcastOptions
from sockio_wsgi.protocol.sio import RESERVED_EVENTS, event_packet

if TYPE_CHECKING:
    from sockio_wsgi.server.namespace import Namespace
    from sockio_wsgi.server.socket import Socket


def _rooms(rooms: str | Iterable[str]) -> frozenset[str]:
    return frozenset([rooms]) if isinstance(rooms, str) else frozenset(rooms)


class BroadcastOperator:
    """``sio.to("a").except_("b").volatile.emit(...)``: each step returns a new operator."""

    def __init__(self, namespace: Namespace, opts: BroadcastOptions | None = None) -> None:
        self._namespace = namespace
        self._opts = opts or BroadcastOptions()

    def _with(self, **changes: Any) -> BroadcastOperator:
        return BroadcastOperator(self._namespace, dataclasses.replace(self._opts, **changes))

    def to(self, rooms: str | Iterable[str]) -> BroadcastOperator:
        return self._with(rooms=self._opts.rooms | _rooms(rooms))

    in_ = to

    def except_(self, rooms: str | Iterable[str]) -> BroadcastOperator:
        return self._with(except_rooms=self._opts.except_rooms | _rooms(rooms))

    @property
    def volatile(self) -> BroadcastOperator:
        """Skip clients whose transport cannot take the packet right now."""
        return self._with(volatile=True)

    @property
    def local(self) -> BroadcastOperator:
        """Stay on this node (matters with a cluster adapter)."""
        return self._with(local=True)

    def compress(self, compress: bool) -> BroadcastOperator:
        return self._with(compress=compress)

    def timeout(self, seconds: float) -> BroadcastOperator:
        return self._with(timeout=seconds)

    @property
    def options(self) -> BroadcastOptions:
        return self._opts

    def emit(self, event: str, *args: Any) -> int:
        """Send to every matching socket; returns how many local sockets got it."""
        if event in RESERVED_EVENTS:
            raise ValueError(f"{event!r} is a reserved event name")
        packet = event_packet(self._namespace.name, event, list(args))
        return self._namespace.adapter.broadcast(packet, self._opts)

    def send(self, *args: Any) -> int:
        return self.emit("message", *args)

    def fetch_sockets(self) -> list[Socket]:
        """The matching sockets of this process."""
        sids = self._namespace.adapter.sockets(self._opts.rooms)
        excluded: set[str] = set()
        for room in self._opts.except_rooms:
            excluded |= self._namespace.adapter.sockets(frozenset([room]))
        found = (self._namespace.sockets.get(sid) for sid in sids - excluded)
        return [socket for socket in found if socket is not None]

    def sockets_join(self, rooms: str | Iterable[str]) -> None:
        for socket in self.fetch_sockets():
            socket.join(rooms)

    def sockets_leave(self, room: str) -> None:
        for socket in self.fetch_sockets():
            socket.leave(room)

    def disconnect_sockets(self, close: bool = False) -> None:
        for socket in self.fetch_sockets():
            socket.disconnect(close)
