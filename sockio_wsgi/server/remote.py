"""A socket known only by its record: it may live on another server of a cluster.

Every action goes through the broadcast operator aimed at the socket's own room, so it
works wherever the socket is (socket.io's ``RemoteSocket``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sockio_wsgi.adapters.base import BroadcastOptions, SocketRecord

if TYPE_CHECKING:
    from sockio_wsgi.server.broadcast import BroadcastOperator
    from sockio_wsgi.server.namespace import Namespace


class RemoteSocket:
    """What ``fetch_sockets()`` returns for a socket that is not local."""

    def __init__(self, namespace: Namespace, record: SocketRecord) -> None:
        self._namespace = namespace
        self.id = record.id
        self.nsp = record.nsp
        self.rooms: set[str] = set(record.rooms)
        self.data = record.data
        self.handshake = record.handshake

    def __repr__(self) -> str:
        return f"<RemoteSocket {self.id} {self.nsp}>"

    @property
    def sid(self) -> str:
        return self.id

    def _operator(self) -> BroadcastOperator:
        from sockio_wsgi.server.broadcast import BroadcastOperator

        return BroadcastOperator(self._namespace, BroadcastOptions(rooms=frozenset([self.id])))

    def emit(self, event: str, *args: Any) -> None:
        self._operator().emit(event, *args)

    def emit_with_ack(self, event: str, *args: Any, timeout: float) -> Any:
        """The client's reply (one value, a tuple or ``None``); raises on timeout."""
        replies = self._operator().emit_with_ack(event, *args, timeout=timeout)
        return replies[0] if replies else None

    def join(self, rooms: str | Iterable[str]) -> None:
        self._operator().sockets_join(rooms)

    def leave(self, rooms: str | Iterable[str]) -> None:
        self._operator().sockets_leave(rooms)

    def disconnect(self, close: bool = False) -> None:
        self._operator().disconnect_sockets(close)
