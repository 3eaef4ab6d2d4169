"""A namespace: its handlers, middleware, connected sockets, and the adapter of its rooms.

The namespace is the adapter's host (:class:`~sockio_wsgi.adapters.base.AdapterHost`): it
encodes a packet once for a broadcast, writes the same Engine.IO packets to every
recipient, and turns the adapter's room events into ``create-room`` & co. handlers.
A child of a dynamic namespace (``sio.of(re.compile(...))``) has a ``parent`` whose
handlers, middleware and catch-all listeners it uses too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from sockio_wsgi import runtime
from sockio_wsgi.adapters.base import (
    ROOM_EVENTS,
    Adapter,
    BroadcastOptions,
    RecoveryOptions,
    ReplyCallback,
    Room,
    SessionRecord,
    SocketRecord,
)
from sockio_wsgi.protocol.eio import Packet, message
from sockio_wsgi.protocol.sio import SioPacket, SioType, connect_error_packet
from sockio_wsgi.server.broadcast import (
    BroadcastCallback,
    BroadcastMethods,
    BroadcastOperator,
    _check_event,
)
from sockio_wsgi.server.listeners import AnyListener, CatchAll, notify
from sockio_wsgi.server.middleware import (
    Middleware,
    run_connect_handler,
    run_middlewares,
    run_packet_middlewares,
)
from sockio_wsgi.server.recovery import RECOVERABLE_REASONS, persist

if TYPE_CHECKING:
    from sockio_wsgi.server.dynamic import ParentNamespace
    from sockio_wsgi.server.server import Server
    from sockio_wsgi.server.socket import Socket

log = logging.getLogger("sockio_wsgi.server")

Handler = Callable[..., Any]
AdapterFactory = Callable[[Any], Adapter]

LIFECYCLE_EVENTS = frozenset({"connect", "disconnect", "disconnecting"})


class Namespace(BroadcastMethods, CatchAll):
    """``sio.of("/chat")``: register handlers with :meth:`on`, broadcast with :meth:`emit`."""

    def __init__(
        self,
        server: Server,
        name: str,
        adapter_factory: AdapterFactory,
        parent: ParentNamespace | None = None,
    ) -> None:
        CatchAll.__init__(self)
        self.server = server
        self.name = name
        self.parent = parent
        self.handlers: dict[str, Handler] = {}
        self.room_handlers: dict[str, Handler] = {}
        self.server_side_handlers: dict[str, Handler] = {}
        self.middlewares: list[Middleware] = []
        self.sockets: dict[str, Socket] = {}
        self._next_ack_id = 0
        self.recovery: RecoveryOptions | None = server.recovery
        self.adapter: Adapter = adapter_factory(self)

    def __repr__(self) -> str:
        return f"<Namespace {self.name}>"

    # -- handlers --------------------------------------------------------------------

    def on(self, event: str, handler: Handler | None = None) -> Any:
        """Register ``handler`` for ``event``; usable as a decorator.

        ``connect(socket, auth)`` may raise :class:`ConnectionRefusedError` or return
        ``False`` to refuse; ``disconnect(socket, reason)``; any other event is called as
        ``handler(socket, *args)`` and its return value becomes the acknowledgement.
        The adapter's room events are ``create-room(room)``, ``delete-room(room)``,
        ``join-room(room, sid)`` and ``leave-room(room, sid)``; ``error(socket, exc)``
        hears of events dropped by ``socket.use`` middleware.
        """

        def register(func: Handler) -> Handler:
            if event == "new_namespace":
                self.server.on("new_namespace", func)
            elif event in ROOM_EVENTS:
                self.room_handlers[event] = func
            else:
                self.handlers[event] = func
            return func

        return register(handler) if handler is not None else register

    def event(self, handler: Handler) -> Handler:
        """Register a handler named after the event (``@nsp.event def chat(...)``)."""
        return self.on(handler.__name__, handler)  # type: ignore[no-any-return]

    def use(self, middleware: Middleware) -> Middleware:
        """Run ``middleware(socket, auth)`` before a socket joins (before ``connect``).

        Middleware runs in registration order; raising :class:`ConnectionRefusedError`
        refuses the socket (the client's ``connect_error`` carries its message and data).
        """
        self.middlewares.append(middleware)
        return middleware

    def on_server_side(self, event: str, handler: Handler | None = None) -> Any:
        """Register ``handler(*args)`` for another server's ``server_side_emit(event)``;
        its return value answers ``server_side_emit_with_ack``."""

        def register(func: Handler) -> Handler:
            self.server_side_handlers[event] = func
            return func

        return register(handler) if handler is not None else register

    def handler(self, event: str) -> Handler | None:
        """The handler for ``event``, this namespace's or else its parent's."""
        found = self.handlers.get(event)
        if found is None and self.parent is not None:
            found = self.parent.handlers.get(event)
        return found

    def _group(self, attribute: str) -> Sequence[Any]:
        own: Sequence[Any] = getattr(self, attribute)
        if self.parent is None:
            return own
        return [*getattr(self.parent, attribute), *own]

    @property
    def any_outgoing(self) -> Sequence[AnyListener]:
        return self._group("_any_outgoing")

    # -- broadcasting ----------------------------------------------------------------

    def _operator(self) -> BroadcastOperator:
        return BroadcastOperator(self)

    def emit(self, event: str, *args: Any, callback: BroadcastCallback | None = None) -> int:
        """Send ``event`` to every socket of the namespace."""
        return self._operator().emit(event, *args, callback=callback)

    def send(self, *args: Any) -> int:
        return self._operator().send(*args)

    @runtime.from_any_thread
    def server_side_emit(self, event: str, *args: Any) -> None:
        """Send ``event`` to this namespace on every *other* server (nothing happens on
        this one; without a cluster adapter it reaches nobody)."""
        _check_event(event)
        self.adapter.server_side_emit([event, *args])

    @runtime.from_any_thread
    def server_side_emit_with_ack(self, event: str, *args: Any) -> list[Any]:
        """Like :meth:`server_side_emit`, and wait for one reply per other server."""
        _check_event(event)
        result: runtime.AsyncResult = runtime.AsyncResult()
        self.adapter.server_side_emit(
            [event, *args], lambda err, replies: result.set((err, replies))
        )
        error, replies = result.get()
        if error is not None:
            raise error
        return list(replies)

    def server_count(self) -> int:
        return self.adapter.server_count()

    # -- adapter host ----------------------------------------------------------------

    def encode(self, packet: SioPacket) -> tuple[Packet, ...]:
        """A tuple, which the engine may frame once for every recipient of a broadcast."""
        return tuple([message(part) for part in self.server.parser.encode(packet)])

    def deliver(
        self,
        sid: str,
        packets: tuple[Packet, ...],
        opts: BroadcastOptions,
        ack_id: int | None = None,
        on_reply: ReplyCallback | None = None,
    ) -> bool:
        socket = self.sockets.get(sid)
        if socket is None:
            return False
        if ack_id is not None and on_reply is not None:
            return socket.write_expecting_ack(packets, ack_id, lambda *a: on_reply(list(a)), opts)
        return socket.write(packets, volatile=opts.volatile, compress=opts.compress)

    def new_ack_id(self) -> int:
        ack_id = self._next_ack_id
        self._next_ack_id += 1
        return ack_id

    def socket_record(self, sid: str) -> SocketRecord | None:
        socket = self.sockets.get(sid)
        if socket is None:
            return None
        rooms = frozenset(self.adapter.socket_rooms(sid))
        return SocketRecord(sid, self.name, rooms, socket.data, socket.handshake)

    def disconnect_local(self, sid: str, close: bool) -> None:
        socket = self.sockets.get(sid)
        if socket is not None:
            socket.disconnect(close)

    def room_event(self, event: str, room: Room, sid: str | None = None) -> None:
        """The adapter's room lifecycle: call the registered handler, if any."""
        handler = self.room_handlers.get(event)
        if handler is None and self.parent is not None:
            handler = self.parent.room_handlers.get(event)
        if handler is None:
            return
        try:
            handler(room) if sid is None else handler(room, sid)
        except Exception:
            log.exception("%s handler of %s failed (room %r)", event, self.name, room)

    def on_server_side_emit(self, args: list[Any], reply: Callable[[Any], None] | None) -> None:
        event = args[0] if args else None
        handler = self.server_side_handlers.get(event) if isinstance(event, str) else None
        if handler is None:
            log.debug("namespace %s: no server-side handler for %r", self.name, event)
            return
        try:
            result = handler(*args[1:])
        except Exception:
            log.exception("server-side handler for %r on %s failed", event, self.name)
            return
        if reply is not None:
            reply(result)

    # -- connection lifecycle (run in the socket's ordered task queue) ---------------

    def add(self, socket: Socket, auth: Any) -> None:
        """Middleware, then the connect handler; on success the socket is in its own
        room and the client gets the CONNECT reply, else CONNECT_ERROR with the data.

        A recovered socket skips middleware when ``skip_middlewares`` says so; its
        connect handler runs all the same (``socket.recovered`` tells it apart)."""
        skip = socket.recovered and self.recovery is not None and self.recovery.skip_middlewares
        refusal = (
            None if skip else run_middlewares(self._group("middlewares"), socket, auth, self.name)
        )
        if refusal is None and socket.client.active:
            self.sockets[socket.id] = socket
            self.adapter.add_all(socket.id, {socket.id})
            refusal = run_connect_handler(self.handler("connect"), socket, auth, self.name)
        if refusal is not None or not socket.client.active:
            self.sockets.pop(socket.id, None)
            self.adapter.delete_all(socket.id)
            socket.on_refused()
            if refusal is not None:
                log.info("socket %s refused on %s: %s", socket.id, self.name, refusal.message)
                error = connect_error_packet(self.name, refusal.message, refusal.data)
                socket.client.esock.send_packets(self.encode(error))
            self._maybe_cleanup()
            return
        answer = {"sid": socket.id} if socket.pid is None else {"sid": socket.id, "pid": socket.pid}
        reply = SioPacket(SioType.CONNECT, self.name, answer)
        socket.on_connected(self.encode(reply))
        if not socket.connected:
            # The connect handler called socket.disconnect(): it had accepted the
            # socket, so the disconnect handlers run as for any other socket.
            self.remove(socket, "server namespace disconnect")

    def dispatch_event(self, socket: Socket, packet: SioPacket) -> None:
        """Catch-all listeners, packet middleware, then the event's handler; its
        return value answers a requested ack."""
        event = packet.data[0]
        own = socket.any_listeners
        if self._any or (self.parent is not None and self.parent.any_listeners) or own:
            where = f"event {event!r} on {self.name} (socket {socket.id})"
            listeners = self._group("_any")
            if listeners:
                notify(listeners, where, socket, *packet.data)
            if own:
                notify(own, where, *packet.data)
        middlewares = socket.packet_middlewares
        if middlewares:
            error = run_packet_middlewares(middlewares, socket, packet.data)
            if error is not None:
                self._packet_refused(socket, event, error)
                return
            event = packet.data[0]  # a middleware may rename it, as in socket.io
        if not socket.connected:
            return
        handler = self.handler(event) if isinstance(event, str) else None
        if handler is None or event in LIFECYCLE_EVENTS:
            log.debug("socket %s: no handler for %r on %s", socket.id, event, self.name)
            return
        try:
            result = handler(socket, *packet.data[1:])
        except Exception:
            log.exception("handler for %r on %s failed (socket %s)", event, self.name, socket.id)
            return
        if packet.id is not None and socket.connected:
            socket.reply_ack(packet.id, result)

    def _packet_refused(self, socket: Socket, event: Any, error: Exception) -> None:
        handler = self.handler("error")
        if handler is None:
            log.info("socket %s: %r dropped by middleware: %s", socket.id, event, error)
            return
        try:
            handler(socket, error)
        except Exception:
            log.exception("error handler of %s failed (socket %s)", self.name, socket.id)

    def remove(self, socket: Socket, reason: str) -> None:
        """``disconnecting`` (rooms still readable), leave every room, ``disconnect``.

        With recovery on, a socket that lost its connection (not one that left on
        purpose) leaves its session to the adapter: kept only once the socket is out of
        every room, so a client coming back at once cannot meet its old self."""
        self._call_lifecycle("disconnecting", socket, reason)
        keep = socket.pid is not None and reason in RECOVERABLE_REASONS
        rooms = frozenset(self.adapter.socket_rooms(socket.id)) if keep else frozenset()
        self.adapter.delete_all(socket.id)
        if self.sockets.get(socket.id) is socket:
            del self.sockets[socket.id]
        if keep and socket.pid is not None:
            persist(
                self.adapter, SessionRecord(socket.id, socket.pid, rooms, socket.data), self.name
            )
        self._call_lifecycle("disconnect", socket, reason)
        self._maybe_cleanup()

    def _call_lifecycle(self, event: str, socket: Socket, reason: str) -> None:
        handler = self.handler(event)
        if handler is None:
            return
        try:
            handler(socket, reason)
        except Exception:
            log.exception("%s handler of %s failed (socket %s)", event, self.name, socket.id)

    def _maybe_cleanup(self) -> None:
        if self.parent is not None and not self.sockets:
            self.server.child_emptied(self)
