"""A client's membership of one namespace: emit, acks, rooms and disconnect.

Incoming events of one socket run in order (see :mod:`sockio_wsgi.engine.tasks`); a
handler may block (even on ``emit_with_ack`` to the same client) without stalling the
connection's reader, which keeps routing acks and heartbeats
(:mod:`sockio_wsgi.engine.reader`). ``Server(async_handlers=True)`` gives each event a
greenlet of its own instead.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from sockio_wsgi import runtime
from sockio_wsgi.adapters.base import BroadcastOptions, RestoredSession
from sockio_wsgi.engine.tasks import OrderedTasks
from sockio_wsgi.exceptions import DisconnectedError, TimeoutError
from sockio_wsgi.protocol.eio import Packet
from sockio_wsgi.protocol.ids import new_id
from sockio_wsgi.protocol.sio import (
    RESERVED_EVENTS,
    SioPacket,
    SioType,
    ack_packet,
    event_packet,
)
from sockio_wsgi.server.broadcast import BroadcastOperator, as_rooms, unwrap
from sockio_wsgi.server.handshake import Handshake
from sockio_wsgi.server.listeners import CatchAll, notify

if TYPE_CHECKING:
    from sockio_wsgi.server.client import Client
    from sockio_wsgi.server.namespace import Namespace

log = logging.getLogger("sockio_wsgi.server")

AckCallback = Callable[..., Any]
# socket.use(fn): fn(socket, [event, *args]); raising drops the event
PacketMiddleware = Callable[["Socket", list[Any]], Any]


class Socket(CatchAll, OrderedTasks):
    """One client in one namespace. ``data`` is free for the application's use.

    ``on_any(fn)`` listeners get ``fn(event, *args)`` for every incoming event and
    ``on_any_outgoing(fn)`` ones for every event emitted to this socket.
    With connection state recovery on, ``pid`` is the private id the client presents to
    come back, and ``recovered`` tells that this socket restored an earlier one (its id,
    rooms and data).
    """

    def __init__(
        self,
        namespace: Namespace,
        client: Client,
        auth: Any,
        restored: RestoredSession | None = None,
    ) -> None:
        super().__init__()
        session = restored.session if restored is not None else None
        self.id = session.sid if session is not None else new_id()
        self.namespace = namespace
        self.nsp = namespace.name
        self.client = client
        self.handshake = Handshake.from_environ(client.environ, auth)
        self.data: dict[str, Any] = session.data if session is not None else {}
        self.pid: str | None = (
            session.pid if session is not None else new_id() if namespace.recovery else None
        )
        self.recovered = session is not None
        self._replay: tuple[Packet, ...] = ()  # missed packets, sent before the CONNECT reply
        self.connected = False
        self._connecting = True
        # Tuples replaced on change and a list made on first need: every idle connection
        # holds these, and empty tuples cost neither memory nor a collector's scan.
        self._held: tuple[Packet, ...] = ()
        self._acks: dict[int, AckCallback] = {}
        self._ack_waiters: tuple[Any, ...] = ()
        self._middlewares: tuple[PacketMiddleware, ...] = ()
        self._inbox = None  # set here, not only when first needed: see EngineSocket
        self._busy = False
        max_queued = namespace.server.max_queued_events
        if max_queued != self.max_queued:
            self.max_queued = max_queued

    def __repr__(self) -> str:
        return f"<Socket {self.id} {self.nsp}>"

    @property
    def sid(self) -> str:
        return self.id

    @property
    def rooms(self) -> set[str]:
        return self.namespace.adapter.socket_rooms(self.id)

    @property
    def packet_middlewares(self) -> tuple[PacketMiddleware, ...]:
        """What :meth:`use` registered, in order (for the namespace that runs them)."""
        return self._middlewares

    @property
    def transport(self) -> str:
        return self.client.esock.transport

    # -- emitting --------------------------------------------------------------------

    @runtime.from_any_thread
    def emit(self, event: str, *args: Any, callback: AckCallback | None = None) -> None:
        """Send an event to this client; ``callback(*ack_args)`` runs when it acks."""
        if event in RESERVED_EVENTS:
            raise ValueError(f"{event!r} is a reserved event name")
        ack_id = None
        if callback is not None:
            ack_id = self._register_ack(callback)
        self._notify_outgoing(event, args)
        packet = event_packet(self.nsp, event, list(args), ack_id)
        if (
            ack_id is None
            and self.namespace.recovery
            and self.namespace.sockets.get(self.id) is self
        ):
            # as in socket.io: through the adapter to the socket's own room, so that the
            # packet gets an offset and is replayed should the connection drop
            self.namespace.adapter.broadcast(packet, BroadcastOptions(rooms=frozenset([self.id])))
            return
        self.write(self.namespace.encode(packet))

    def send(self, *args: Any, callback: AckCallback | None = None) -> None:
        """Emit the ``message`` event."""
        self.emit("message", *args, callback=callback)

    @runtime.from_any_thread
    def emit_with_ack(self, event: str, *args: Any, timeout: float | None = None) -> Any:
        """Emit and block this greenlet until the client acks; return its reply.

        One ack argument is returned as is, several as a tuple, none as ``None``.
        Raises :class:`~sockio_wsgi.TimeoutError` or :class:`DisconnectedError`.
        """
        result = runtime.AsyncResult()
        self._ack_waiters = (*self._ack_waiters, result)
        ack_id = self._register_ack(lambda *reply: result.set(reply))
        try:
            self._notify_outgoing(event, args)
            packets = self.namespace.encode(event_packet(self.nsp, event, list(args), ack_id))
            if not self.write(packets):
                raise DisconnectedError(f"socket {self.id} is not connected")
            reply = result.get(timeout=timeout)
        except runtime.Timeout:
            raise TimeoutError(f"no ack for {event!r} within {timeout}s") from None
        finally:
            self._ack_waiters = tuple(w for w in self._ack_waiters if w is not result)
            self._acks.pop(ack_id, None)
        return unwrap(reply)

    call = emit_with_ack

    def _register_ack(self, callback: AckCallback) -> int:
        ack_id = self.namespace.new_ack_id()
        self._acks[ack_id] = callback
        return ack_id

    def _notify_outgoing(self, event: str, args: tuple[Any, ...]) -> None:
        if self.namespace.any_outgoing:
            notify(self.namespace.any_outgoing, f"outgoing {event!r}", self, event, *args)
        if self._any_outgoing:
            notify(self._any_outgoing, f"outgoing {event!r}", event, *args)

    def write_expecting_ack(
        self,
        packets: tuple[Packet, ...],
        ack_id: int,
        callback: AckCallback,
        opts: BroadcastOptions,
    ) -> bool:
        """Write a broadcast's packets whose ack ``ack_id`` calls ``callback(*args)``.

        The ack is registered first: the reply may arrive while the write yields."""
        self._acks[ack_id] = callback
        if self.write(packets, volatile=opts.volatile, compress=opts.compress):
            return True
        self._acks.pop(ack_id, None)
        return False

    def write(
        self, packets: tuple[Packet, ...], volatile: bool = False, compress: bool = True
    ) -> bool:
        """Queue pre-encoded packets; held back until the CONNECT reply is out.

        ``compress`` is the emit's compression flag, for the transport to honour."""
        if self._connecting:
            self._held = (*self._held, *packets)
            return True
        if not self.connected:
            return False
        if volatile and not self.client.esock.writable:
            return False
        self.client.esock.send_encoded(packets, compress)
        return True

    # -- rooms and broadcasts --------------------------------------------------------

    @runtime.from_any_thread
    def join(self, rooms: str | Iterable[str]) -> None:
        """Join one room or several (ignored once the socket has disconnected)."""
        if self.connected or self._connecting:
            self.namespace.adapter.add_all(self.id, set(as_rooms(rooms)))

    @runtime.from_any_thread
    def leave(self, rooms: str | Iterable[str]) -> None:
        for room in as_rooms(rooms):
            self.namespace.adapter.delete(self.id, room)

    @runtime.from_any_thread
    def leave_all(self) -> None:
        self.namespace.adapter.delete_all(self.id)

    def use(self, middleware: PacketMiddleware) -> PacketMiddleware:
        """Run ``middleware(socket, [event, *args])`` for every incoming event, in order.

        It may change the list in place. If it raises, the event is dropped (no handler,
        no ack) and the namespace's ``error`` handler, when registered, is called as
        ``error(socket, exc)``; otherwise the refusal is logged.
        """
        self._middlewares = (*self._middlewares, middleware)
        return middleware

    def to(self, rooms: str | Iterable[str]) -> BroadcastOperator:
        """Broadcast to rooms, excluding this socket."""
        return self.broadcast.to(rooms)

    in_ = to

    def except_(self, rooms: str | Iterable[str]) -> BroadcastOperator:
        return self.broadcast.except_(rooms)

    @property
    def broadcast(self) -> BroadcastOperator:
        """Every socket of the namespace but this one."""
        return BroadcastOperator(
            self.namespace, BroadcastOptions(except_rooms=frozenset([self.id]))
        )

    # -- disconnect ------------------------------------------------------------------

    @runtime.from_any_thread
    def disconnect(self, close: bool = False) -> None:
        """Leave the namespace (the client is told); ``close=True`` ends the connection."""
        if close:
            self.client.close()
            return
        if not self.connected and not self._connecting:
            return
        self.write(self.namespace.encode(SioPacket(SioType.DISCONNECT, self.nsp)))
        self.on_close("server namespace disconnect")

    # -- called by the client and namespace ------------------------------------------

    def restore(self, restored: RestoredSession) -> None:
        """Rejoin the session's rooms and encode what it missed, in one step with the
        adapter's lookup (no wait between): each packet is either missed or live."""
        self.namespace.adapter.add_all(self.id, set(restored.session.rooms))
        encode = self.namespace.encode
        self._replay = tuple(
            part
            for data in restored.missed
            for part in encode(SioPacket(SioType.EVENT, self.nsp, data))
        )

    def on_connected(self, packets: Sequence[Packet]) -> None:
        """The CONNECT reply is ``packets``; then everything held back goes out.

        A recovered socket's missed packets go first, as socket.io sends them. A socket
        its connect handler already disconnected stays disconnected: the client gets
        CONNECT followed by the held DISCONNECT.
        """
        held, self._held = self._held, ()
        replay, self._replay = self._replay, ()
        if self._connecting:
            self._connecting = False
            self.connected = True
        self.client.joined()
        self.client.esock.send_packets([*replay, *packets, *held])

    def on_refused(self) -> None:
        """The connect handler refused: forget the attempt so the client may retry."""
        self._connecting = False
        self._held = ()
        self._replay = ()
        self.client.forget(self)

    def on_packet(self, packet: SioPacket) -> None:
        if packet.type is SioType.EVENT:
            if self.namespace.server.async_handlers:
                runtime.run_soon(self._call, self.namespace.dispatch_event, (self, packet))
            else:
                self.run(self.namespace.dispatch_event, self, packet)
        elif packet.type is SioType.ACK:
            self._on_ack(packet)
        elif packet.type is SioType.DISCONNECT:
            self.on_close("client namespace disconnect")

    def _on_ack(self, packet: SioPacket) -> None:
        callback = self._acks.pop(packet.id, None) if packet.id is not None else None
        if callback is None:
            log.debug("socket %s: ack %s matches no emit", self.id, packet.id)
            return
        try:
            callback(*packet.args)
        except Exception:
            log.exception("ack callback failed on socket %s", self.id)

    def reply_ack(self, ack_id: int, result: Any) -> None:
        """Send a handler's return value as the ack of the client's event."""
        if result is None:
            args: list[Any] = []
        elif isinstance(result, tuple):
            args = list(result)
        else:
            args = [result]
        self.write(self.namespace.encode(ack_packet(self.nsp, ack_id, args)))

    def on_close(self, reason: str) -> None:
        """Leave the namespace once, for ``reason``; handlers run after queued events."""
        if not self.connected and not self._connecting:
            return
        was_connected = self.connected
        self.connected = False
        self._connecting = False
        self.client.forget(self)
        for waiter in list(self._ack_waiters):
            waiter.set_exception(DisconnectedError(f"socket disconnected: {reason}"))
        self._acks.clear()
        if was_connected:
            self.run(self.namespace.remove, self, reason)
        else:
            self.namespace.adapter.delete_all(self.id)

    # -- ordered execution (OrderedTasks) ---------------------------------------------

    def _runs_inline(self) -> bool:
        return self.client.esock.is_reader

    def _tasks_overflowed(self, queued: int) -> None:
        log.warning(
            "socket %s: %d events queued behind a running handler (max_queued_events); "
            "disconnecting it",
            self.id,
            queued,
        )
        self._drop_tasks()
        self.client.force_close()
