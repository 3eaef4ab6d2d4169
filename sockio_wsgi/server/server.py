"""The Socket.IO server: namespaces over an Engine.IO server.

``Server`` owns the :class:`~sockio_wsgi.engine.server.EngineServer` (``sio.eio``), turns each
Engine.IO session into a :class:`~sockio_wsgi.server.client.Client`, and hands CONNECT
packets to the right namespace, creating children of dynamic namespaces on demand.
Methods without a namespace act on ``"/"``; the keyword forms of :meth:`Server.emit`,
:meth:`enter_room` & co. are the python-socketio / Flask-SocketIO names.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from typing import Any, overload

from sockio_wsgi import runtime
from sockio_wsgi.adapters.memory import InMemoryAdapter
from sockio_wsgi.engine.http import OriginRule
from sockio_wsgi.engine.ordered_writes import DEFAULT_SEND_TIMEOUT
from sockio_wsgi.engine.server import EngineServer
from sockio_wsgi.engine.socket import DEFAULT_MAX_QUEUED_BYTES
from sockio_wsgi.engine.tasks import DEFAULT_MAX_QUEUED
from sockio_wsgi.protocol.decoder import DEFAULT_MAX_ATTACHMENTS
from sockio_wsgi.protocol.parsers import Parser, get_parser
from sockio_wsgi.protocol.sio import connect_error_packet
from sockio_wsgi.server.broadcast import BroadcastMethods, BroadcastOperator
from sockio_wsgi.server.client import Client
from sockio_wsgi.server.dynamic import NamespaceMatcher, ParentNamespace
from sockio_wsgi.server.listeners import AnyListener
from sockio_wsgi.server.middleware import Middleware
from sockio_wsgi.server.namespace import AdapterFactory, Handler, Namespace
from sockio_wsgi.server.recovery import RecoverySetting, resolve_options, restore
from sockio_wsgi.server.socket import Socket

log = logging.getLogger("sockio_wsgi.server")

Target = str | Iterable[str] | None


class Server(BroadcastMethods):
    """A Socket.IO v5 server. Mount it with ``WSGIApp(sio, app)``; times are in seconds.

    ``adapter`` is a callable taking the namespace (an adapter class such as
    :class:`~sockio_wsgi.adapters.memory.InMemoryAdapter`, the default). ``parser`` is
    ``"json"`` or a parser object (see :mod:`sockio_wsgi.protocol.parsers`).
    ``async_handlers=True`` runs each incoming event in its own greenlet instead of one
    after another; ``max_queued_events`` bounds the events of one socket waiting behind
    its running handler (over it the client is disconnected);
    ``cleanup_empty_child_namespaces=True`` removes a dynamic namespace's child when its
    last socket leaves. A binary packet may carry ``max_attachments`` attachments of
    ``max_http_buffer_size`` bytes in all. ``connection_state_recovery`` turns on
    socket.io's connection state recovery (``True``, or a dict with
    ``max_disconnection_duration`` in seconds, ``skip_middlewares``, ``max_packets``;
    socket.io's camelCase keys are accepted, with ``maxDisconnectionDuration`` in
    milliseconds). Every other option is passed to the Engine.IO server.
    """

    def __init__(
        self,
        *,
        adapter: AdapterFactory | None = None,
        parser: str | Parser | None = "json",
        connect_timeout: float = 45,
        ping_interval: float = 25,
        ping_timeout: float = 20,
        max_http_buffer_size: int = 1_000_000,
        cors_allowed_origins: OriginRule = None,
        cors_credentials: bool = True,
        transports: Iterable[str] = ("polling", "websocket"),
        allow_request: Callable[[dict[str, Any]], bool] | None = None,
        cookie: str | dict[str, Any] | None = None,
        path: str = "/socket.io/",
        upgrade_timeout: float = 10,
        websocket_compression: bool = False,
        http_compression: bool = True,
        compression_threshold: int = 1024,
        idle_reader_timeout: float | None = 1.0,
        async_handlers: bool = False,
        max_queued_events: int = DEFAULT_MAX_QUEUED,
        max_queued_bytes: int = DEFAULT_MAX_QUEUED_BYTES,
        send_timeout: float = DEFAULT_SEND_TIMEOUT,
        cleanup_empty_child_namespaces: bool = False,
        max_attachments: int = DEFAULT_MAX_ATTACHMENTS,
        connection_state_recovery: RecoverySetting = None,
    ) -> None:
        self.parser: Parser = get_parser(parser, max_attachments, max_http_buffer_size)
        self.recovery = resolve_options(connection_state_recovery)
        self.connect_timeout = connect_timeout
        self.async_handlers = async_handlers
        if max_queued_events < 1:
            raise ValueError("max_queued_events must be at least 1")
        self.max_queued_events = max_queued_events
        self.cleanup_empty_child_namespaces = cleanup_empty_child_namespaces
        self._adapter_factory: AdapterFactory = adapter or InMemoryAdapter
        self.namespaces: dict[str, Namespace] = {}
        self.parents: list[ParentNamespace] = []
        self._new_namespace_handler: Handler | None = None
        self.clients: dict[str, Client] = {}
        self.eio = EngineServer(
            ping_interval=ping_interval,
            ping_timeout=ping_timeout,
            max_http_buffer_size=max_http_buffer_size,
            transports=transports,
            cors_allowed_origins=cors_allowed_origins,
            cors_credentials=cors_credentials,
            allow_request=allow_request,
            cookie=cookie,
            path=path,
            upgrade_timeout=upgrade_timeout,
            websocket_compression=websocket_compression,
            http_compression=http_compression,
            compression_threshold=compression_threshold,
            idle_reader_timeout=idle_reader_timeout,
            max_queued_bytes=max_queued_bytes,
            send_timeout=send_timeout,
        )
        self.eio.on("connect", self._on_engine_connect)
        self.eio.on("disconnect", self._on_engine_disconnect)
        self.of("/")

    # -- namespaces and handlers -----------------------------------------------------

    @overload
    def of(self, name: str) -> Namespace: ...

    @overload
    def of(self, name: re.Pattern[str] | Callable[[str, Any], bool]) -> ParentNamespace: ...

    def of(self, name: str | NamespaceMatcher) -> Namespace | ParentNamespace:
        """The namespace ``name``, created on first use.

        A compiled regular expression or a callable ``fn(name, auth) -> bool`` returns a
        :class:`~sockio_wsgi.server.dynamic.ParentNamespace`: clients connecting to a
        matching name get a child namespace created for them.
        """
        if not isinstance(name, str):
            parent = ParentNamespace(self, name)
            self.parents.append(parent)
            return parent
        if not name.startswith("/"):
            name = "/" + name
        namespace = self.namespaces.get(name)
        if namespace is not None:
            return namespace
        for parent in self.parents:
            if isinstance(parent.matcher, re.Pattern) and parent.matches(name, None):
                return self._create(name, parent)
        return self._create(name)

    def on(self, event: str, handler: Handler | None = None, namespace: str = "/") -> Any:
        """Register a handler (decorator or direct call); see :meth:`Namespace.on`.

        ``new_namespace(namespace)`` is told of every namespace created after it, dynamic
        children included."""
        if event == "new_namespace":

            def register(func: Handler) -> Handler:
                self._new_namespace_handler = func
                return func

            return register(handler) if handler is not None else register
        return self.of(namespace).on(event, handler)

    def event(self, handler: Handler) -> Handler:
        return self.of("/").event(handler)

    def use(self, middleware: Middleware, namespace: str = "/") -> Middleware:
        """Connection middleware ``fn(socket, auth)``; see :meth:`Namespace.use`."""
        return self.of(namespace).use(middleware)

    def on_any(self, listener: AnyListener, namespace: str = "/") -> AnyListener:
        """``listener(socket, event, *args)`` for every incoming event of ``namespace``."""
        return self.of(namespace).on_any(listener)

    def prepend_any(self, listener: AnyListener, namespace: str = "/") -> AnyListener:
        return self.of(namespace).prepend_any(listener)

    def off_any(self, listener: AnyListener | None = None, namespace: str = "/") -> None:
        self.of(namespace).off_any(listener)

    def on_any_outgoing(self, listener: AnyListener, namespace: str = "/") -> AnyListener:
        """``listener(socket, event, *args)`` for every event emitted to one socket."""
        return self.of(namespace).on_any_outgoing(listener)

    def off_any_outgoing(self, listener: AnyListener | None = None, namespace: str = "/") -> None:
        self.of(namespace).off_any_outgoing(listener)

    def on_server_side(
        self, event: str, handler: Handler | None = None, namespace: str = "/"
    ) -> Any:
        """Receive other servers' ``server_side_emit``; see :meth:`Namespace.on_server_side`."""
        return self.of(namespace).on_server_side(event, handler)

    # -- broadcasting ----------------------------------------------------------------

    def _operator(self) -> BroadcastOperator:
        return BroadcastOperator(self.of("/"))

    def _target(
        self, namespace: str, to: Target, room: Target, skip_sid: Target
    ) -> BroadcastOperator:
        operator = BroadcastOperator(self.of(namespace))
        for rooms in (to, room):
            if rooms is not None:
                operator = operator.to(rooms)
        if skip_sid is not None:
            operator = operator.except_(skip_sid)
        return operator

    def emit(
        self,
        event: str,
        *args: Any,
        to: Target = None,
        room: Target = None,
        skip_sid: Target = None,
        namespace: str = "/",
        callback: Callable[..., Any] | None = None,
    ) -> int:
        """Send ``event`` to ``namespace``: everyone, or the rooms/sids ``to`` (``room``
        is a synonym), minus ``skip_sid`` (a sid or a list). ``callback(*ack_args)`` runs
        for each client that acknowledges. Returns how many local sockets got it."""
        operator = self._target(namespace, to, room, skip_sid)
        if callback is not None:
            return operator.emit_to_each(event, *args, callback=callback)
        return operator.emit(event, *args)

    def send(
        self,
        *args: Any,
        to: Target = None,
        room: Target = None,
        skip_sid: Target = None,
        namespace: str = "/",
        callback: Callable[..., Any] | None = None,
    ) -> int:
        """Emit the ``message`` event (same keywords as :meth:`emit`)."""
        return self.emit(
            "message",
            *args,
            to=to,
            room=room,
            skip_sid=skip_sid,
            namespace=namespace,
            callback=callback,
        )

    def call(
        self, event: str, *args: Any, to: str, namespace: str = "/", timeout: float = 60
    ) -> Any:
        """Emit to one socket ``to`` and wait for its ack (python-socketio's ``call``)."""
        socket = self.get_socket(to, namespace)
        if socket is None:
            replies = self._target(namespace, to, None, None).emit_with_ack(
                event, *args, timeout=timeout
            )
            return replies[0] if replies else None
        return socket.emit_with_ack(event, *args, timeout=timeout)

    def server_side_emit(self, event: str, *args: Any, namespace: str = "/") -> None:
        """Send ``event`` to the other servers of a cluster (never to this one)."""
        self.of(namespace).server_side_emit(event, *args)

    def server_side_emit_with_ack(self, event: str, *args: Any, namespace: str = "/") -> list[Any]:
        """Like :meth:`server_side_emit`; one reply per other server (``[]`` alone)."""
        return self.of(namespace).server_side_emit_with_ack(event, *args)

    # -- rooms and single sockets ----------------------------------------------------

    def get_socket(self, sid: str, namespace: str = "/") -> Socket | None:
        """The connected socket ``sid`` of ``namespace``, or ``None``."""
        nsp = self.namespaces.get(namespace)
        return nsp.sockets.get(sid) if nsp is not None else None

    def enter_room(self, sid: str, room: str | Iterable[str], namespace: str = "/") -> None:
        """Make socket ``sid`` join ``room`` (through the adapter: any server)."""
        self.of(namespace).in_(sid).sockets_join(room)

    def leave_room(self, sid: str, room: str | Iterable[str], namespace: str = "/") -> None:
        self.of(namespace).in_(sid).sockets_leave(room)

    @runtime.from_any_thread
    def close_room(self, room: str, namespace: str = "/") -> None:
        """Every socket leaves ``room``."""
        self.of(namespace).in_(room).sockets_leave(room)

    def rooms(self, sid: str, namespace: str = "/") -> list[str]:
        """The rooms of local socket ``sid`` (its own id included); ``[]`` if unknown."""
        socket = self.get_socket(sid, namespace)
        return sorted(socket.rooms) if socket is not None else []

    def get_session(self, sid: str, namespace: str = "/") -> dict[str, Any]:
        """The ``data`` dict of local socket ``sid`` (``KeyError`` if unknown)."""
        socket = self.get_socket(sid, namespace)
        if socket is None:
            raise KeyError(f"no socket {sid} on {namespace}")
        return socket.data

    def save_session(self, sid: str, session: dict[str, Any], namespace: str = "/") -> None:
        socket = self.get_socket(sid, namespace)
        if socket is None:
            raise KeyError(f"no socket {sid} on {namespace}")
        socket.data = session

    def disconnect(self, sid: str, namespace: str = "/", close: bool = False) -> None:
        """Disconnect socket ``sid`` from ``namespace``; unknown sids are ignored."""
        socket = self.get_socket(sid, namespace)
        if socket is None:
            log.debug("disconnect of unknown socket %s on %s ignored", sid, namespace)
            return
        socket.disconnect(close)

    @staticmethod
    def sleep(seconds: float = 0) -> None:
        """Sleep without blocking other greenlets (a handler's connection keeps reading)."""
        runtime.sleep(seconds)

    @staticmethod
    def start_background_task(target: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run ``target(*args, **kwargs)`` in a greenlet of its own; ``.join()`` waits."""
        return runtime.spawn(target, *args, **kwargs)

    @runtime.from_any_thread
    def close(self) -> None:
        """Graceful shutdown: refuse new handshakes (HTTP 503), disconnect every client
        with "server shutting down" (no DISCONNECT packet, so clients reconnect, to
        another server of a cluster), and close the adapters."""
        self.eio.close()
        for namespace in list(self.namespaces.values()):
            namespace.adapter.close()

    # -- called by the client --------------------------------------------------------

    def connect(self, client: Client, name: str, auth: Any) -> None:
        """A CONNECT packet arrived: join the namespace or answer CONNECT_ERROR."""
        namespace = self.namespaces.get(name) or self._dynamic_child(name, auth)
        if namespace is None:
            log.info("session %s asked for unknown namespace %r", client.sid, name)
            error = connect_error_packet(name, "Invalid namespace")
            client.esock.send_packets(self.of("/").encode(error))
            return
        restored = restore(namespace.adapter, name, auth) if namespace.recovery else None
        socket = Socket(namespace, client, auth, restored)
        if restored is not None:
            socket.restore(restored)
        client.add(socket)
        socket.run(namespace.add, socket, auth)

    # -- Engine.IO callbacks ---------------------------------------------------------

    def _dynamic_child(self, name: str, auth: Any) -> Namespace | None:
        for parent in list(self.parents):
            if parent.matches(name, auth):
                existing = self.namespaces.get(name)  # a matcher may have created it
                return existing if existing is not None else self._create(name, parent)
        return None

    def _create(self, name: str, parent: ParentNamespace | None = None) -> Namespace:
        namespace = Namespace(self, name, self._adapter_factory, parent)
        self.namespaces[name] = namespace
        if parent is not None:
            parent.children[name] = namespace
            log.debug("dynamic namespace %s created", name)
        if name != "/" and self._new_namespace_handler is not None:
            try:
                self._new_namespace_handler(namespace)
            except Exception:
                log.exception("new_namespace handler failed for %s", name)
        return namespace

    def child_emptied(self, namespace: Namespace) -> None:
        """The last socket of a dynamic child left: forget the child if so configured."""
        parent = namespace.parent
        if not self.cleanup_empty_child_namespaces or parent is None:
            return
        if self.namespaces.get(namespace.name) is namespace:
            log.debug("empty dynamic namespace %s removed", namespace.name)
            del self.namespaces[namespace.name]
            parent.children.pop(namespace.name, None)
            namespace.adapter.close()

    def _on_engine_connect(self, sid: str, environ: dict[str, Any]) -> bool:
        esock = self.eio.sockets[sid]
        client = self.clients[sid] = Client(self, esock)
        esock.message_receiver = client  # its on_message, straight from the read loop
        return True

    def _on_engine_disconnect(self, sid: str, reason: str) -> None:
        client = self.clients.pop(sid, None)
        if client is not None:
            client.on_close(reason)
