"""A namespace: its handlers, its connected sockets, and the adapter holding its rooms.

The namespace is the adapter's host: it encodes a packet once for a broadcast and writes
the same Engine.IO packets to every recipient.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from sockio_wsgi.adapters.base import Adapter, BroadcastOptions, Room
from sockio_wsgi.exceptions import ConnectionRefusedError
from sockio_wsgi.protocol.eio import Packet, message
from sockio_wsgi.protocol.sio import SioPacket, SioType, connect_error_packet
from sockio_wsgi.server.broadcast import BroadcastOperator

if TYPE_CHECKING:
    from sockio_wsgi.server.server import Server
    from sockio_wsgi.server.socket import Socket

log = logging.getLogger("sockio_wsgi.server")

Handler = Callable[..., Any]
AdapterFactory = Callable[[Any], Adapter]

LIFECYCLE_EVENTS = frozenset({"connect", "disconnect", "disconnecting"})


class Namespace:
    """``sio.of("/chat")``: register handlers with :meth:`on`, broadcast with :meth:`emit`."""

    def __init__(self, server: Server, name: str, adapter_factory: AdapterFactory) -> None:
        self.server = server
        self.name = name
        self.handlers: dict[str, Handler] = {}
        self.sockets: dict[str, Socket] = {}
        self.adapter: Adapter = adapter_factory(self)

    def __repr__(self) -> str:
        return f"<Namespace {self.name}>"

    # -- handlers --------------------------------------------------------------------

    def on(self, event: str, handler: Handler | None = None) -> Any:
        """Register ``handler`` for ``event``; usable as a decorator.

        ``connect(socket, auth)`` may raise :class:`ConnectionRefusedError` or return
        ``False`` to refuse; ``disconnect(socket, reason)``; any other event is called as
        ``handler(socket, *args)`` and its return value becomes the acknowledgement.
        """

        def register(func: Handler) -> Handler:
            self.handlers[event] = func
            return func

        return register(handler) if handler is not None else register

    def event(self, handler: Handler) -> Handler:
        """Register a handler named after the event (``@nsp.event def chat(...)``)."""
        return self.on(handler.__name__, handler)  # type: ignore[no-any-return]

    # -- broadcasting ----------------------------------------------------------------

    def _operator(self) -> BroadcastOperator:
        return BroadcastOperator(self)

    def to(self, rooms: Room | Iterable[Room]) -> BroadcastOperator:
        return self._operator().to(rooms)

    in_ = to

    def except_(self, rooms: Room | Iterable[Room]) -> BroadcastOperator:
        return self._operator().except_(rooms)

    @property
    def volatile(self) -> BroadcastOperator:
        return self._operator().volatile

    @property
    def local(self) -> BroadcastOperator:
        return self._operator().local

    def compress(self, compress: bool) -> BroadcastOperator:
        return self._operator().compress(compress)

    def timeout(self, seconds: float) -> BroadcastOperator:
        return self._operator().timeout(seconds)

    def emit(self, event: str, *args: Any) -> int:
        """Send ``event`` to every socket of the namespace."""
        return self._operator().emit(event, *args)

    def send(self, *args: Any) -> int:
        return self._operator().send(*args)

    def fetch_sockets(self) -> list[Socket]:
        return self._operator().fetch_sockets()

    def disconnect_sockets(self, close: bool = False) -> None:
        self._operator().disconnect_sockets(close)

    # -- adapter host ----------------------------------------------------------------

    def encode(self, packet: SioPacket) -> list[Packet]:
        return [message(part) for part in self.server.parser.encode(packet)]

    def deliver(self, sid: str, packets: list[Packet], opts: BroadcastOptions) -> bool:
        socket = self.sockets.get(sid)
        return socket is not None and socket.write(packets, volatile=opts.volatile)

    def room_event(self, event: str, room: Room, sid: str | None = None) -> None:
        """Room lifecycle reports from the adapter, logged for diagnostics."""
        log.debug("namespace %s: %s %s %s", self.name, event, room, sid or "")

    # -- connection lifecycle (run in the socket's ordered task queue) ---------------

    def add(self, socket: Socket, auth: Any) -> None:
        """Run the connect handler; on success the socket joins its own room and the
        client gets the CONNECT reply, else CONNECT_ERROR with the refusal's data."""
        self.sockets[socket.id] = socket
        self.adapter.add_all(socket.id, {socket.id})
        refusal: ConnectionRefusedError | None = None
        handler = self.handlers.get("connect")
        if handler is not None:
            try:
                if handler(socket, auth) is False:
                    refusal = ConnectionRefusedError("Connection rejected by server")
            except ConnectionRefusedError as exc:
                refusal = exc
            except Exception:
                log.exception("connect handler of %s failed for socket %s", self.name, socket.id)
                refusal = ConnectionRefusedError("Connection rejected by server")
        if refusal is not None or not socket.client.active:
            self.sockets.pop(socket.id, None)
            self.adapter.delete_all(socket.id)
            socket._refused()
            if refusal is not None:
                log.info("socket %s refused on %s: %s", socket.id, self.name, refusal.message)
                error = connect_error_packet(self.name, refusal.message, refusal.data)
                socket.client.esock.send_packets(self.encode(error))
            return
        reply = SioPacket(SioType.CONNECT, self.name, {"sid": socket.id})
        socket._connected(self.encode(reply))
        if not socket.connected:
            # The connect handler called socket.disconnect(): it had accepted the
            # socket, so the disconnect handlers run as for any other socket.
            self.remove(socket, "server namespace disconnect")

    def dispatch_event(self, socket: Socket, packet: SioPacket) -> None:
        """Call the event's handler; its return value answers a requested ack."""
        event = packet.data[0]
        handler = self.handlers.get(event) if isinstance(event, str) else None
        if handler is None:
            log.debug("socket %s: no handler for %r on %s", socket.id, event, self.name)
            return
        try:
            result = handler(socket, *packet.data[1:])
        except Exception:
            log.exception("handler for %r on %s failed (socket %s)", event, self.name, socket.id)
            return
        if packet.id is not None and socket.connected:
            socket.reply_ack(packet.id, result)

    def remove(self, socket: Socket, reason: str) -> None:
        """``disconnecting`` (rooms still readable), leave every room, ``disconnect``."""
        self._call_lifecycle("disconnecting", socket, reason)
        self.adapter.delete_all(socket.id)
        self.sockets.pop(socket.id, None)
        self._call_lifecycle("disconnect", socket, reason)

    def _call_lifecycle(self, event: str, socket: Socket, reason: str) -> None:
        handler = self.handlers.get(event)
        if handler is None:
            return
        try:
            handler(socket, reason)
        except Exception:
            log.exception("%s handler of %s failed (socket %s)", event, self.name, socket.id)
