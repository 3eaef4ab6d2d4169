"""The Socket.IO server: namespaces over an Engine.IO server.

``Server`` owns the :class:`~sockio_wsgi.engine.server.EngineServer` (``sio.eio``), turns each
Engine.IO session into a :class:`~sockio_wsgi.server.client.Client`, and hands CONNECT
packets to the right namespace. Methods without a namespace act on ``"/"``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from sockio_wsgi.adapters.memory import InMemoryAdapter
from sockio_wsgi.engine.http import OriginRule
from sockio_wsgi.engine.server import EngineServer
from sockio_wsgi.protocol.parsers import Parser, get_parser
from sockio_wsgi.protocol.sio import connect_error_packet
from sockio_wsgi.server.broadcast import BroadcastOperator
from sockio_wsgi.server.client import Client
from sockio_wsgi.server.namespace import AdapterFactory, Handler, Namespace
from sockio_wsgi.server.socket import Socket

log = logging.getLogger("sockio_wsgi.server")


class Server:
    """A Socket.IO v5 server. Mount it with ``WSGIApp(sio, app)``; times are in seconds.

    ``adapter`` is a callable taking the namespace (an adapter class such as
    :class:`~sockio_wsgi.adapters.memory.InMemoryAdapter`, the default). ``parser`` is
    ``"json"`` or a parser object (see :mod:`sockio_wsgi.protocol.parsers`). Every other
    option is passed to the Engine.IO server.
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
    ) -> None:
        self.parser: Parser = get_parser(parser)
        self.connect_timeout = connect_timeout
        self._adapter_factory: AdapterFactory = adapter or InMemoryAdapter
        self.namespaces: dict[str, Namespace] = {}
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
        )
        self.eio.on("connect", self._on_engine_connect)
        self.eio.on("message", self._on_engine_message)
        self.eio.on("disconnect", self._on_engine_disconnect)
        self.of("/")

    # -- namespaces and handlers -----------------------------------------------------

    def of(self, name: str) -> Namespace:
        """The namespace ``name``, created on first use."""
        if not name.startswith("/"):
            name = "/" + name
        namespace = self.namespaces.get(name)
        if namespace is None:
            namespace = self.namespaces[name] = Namespace(self, name, self._adapter_factory)
        return namespace

    def on(self, event: str, handler: Handler | None = None, namespace: str = "/") -> Any:
        """Register a handler (decorator or direct call); see :meth:`Namespace.on`."""
        return self.of(namespace).on(event, handler)

    def event(self, handler: Handler) -> Handler:
        return self.of("/").event(handler)

    # -- broadcasting on "/" ---------------------------------------------------------

    def to(self, rooms: str | Iterable[str]) -> BroadcastOperator:
        return self.of("/").to(rooms)

    in_ = to

    def except_(self, rooms: str | Iterable[str]) -> BroadcastOperator:
        return self.of("/").except_(rooms)

    @property
    def volatile(self) -> BroadcastOperator:
        return self.of("/").volatile

    @property
    def local(self) -> BroadcastOperator:
        return self.of("/").local

    def compress(self, compress: bool) -> BroadcastOperator:
        return self.of("/").compress(compress)

    def timeout(self, seconds: float) -> BroadcastOperator:
        return self.of("/").timeout(seconds)

    def emit(self, event: str, *args: Any, namespace: str = "/") -> int:
        """Send ``event`` to every socket of ``namespace``; returns the local count."""
        return self.of(namespace).emit(event, *args)

    def send(self, *args: Any, namespace: str = "/") -> int:
        return self.of(namespace).send(*args)

    def fetch_sockets(self) -> list[Socket]:
        return self.of("/").fetch_sockets()

    def disconnect_sockets(self, close: bool = False) -> None:
        self.of("/").disconnect_sockets(close)

    # -- single sockets --------------------------------------------------------------

    def get_socket(self, sid: str, namespace: str = "/") -> Socket | None:
        """The connected socket ``sid`` of ``namespace``, or ``None``."""
        nsp = self.namespaces.get(namespace)
        return nsp.sockets.get(sid) if nsp is not None else None

    def disconnect(self, sid: str, namespace: str = "/", close: bool = False) -> None:
        """Disconnect socket ``sid`` from ``namespace``; unknown sids are ignored."""
        socket = self.get_socket(sid, namespace)
        if socket is None:
            log.debug("disconnect of unknown socket %s on %s ignored", sid, namespace)
            return
        socket.disconnect(close)

    def close(self) -> None:
        """Disconnect every client ("server shutting down") and close the adapters."""
        self.eio.close()
        for namespace in self.namespaces.values():
            namespace.adapter.close()

    # -- called by the client --------------------------------------------------------

    def connect(self, client: Client, name: str, auth: Any) -> None:
        """A CONNECT packet arrived: join the namespace or answer CONNECT_ERROR."""
        namespace = self.namespaces.get(name)
        if namespace is None:
            log.info("session %s asked for unknown namespace %r", client.sid, name)
            error = connect_error_packet(name, "Invalid namespace")
            client.esock.send_packets(self.of("/").encode(error))
            return
        socket = Socket(namespace, client, auth)
        client.add(socket)
        socket.run(namespace.add, socket, auth)

    # -- Engine.IO callbacks ---------------------------------------------------------

    def _on_engine_connect(self, sid: str, environ: dict[str, Any]) -> bool:
        self.clients[sid] = Client(self, self.eio.sockets[sid])
        return True

    def _on_engine_message(self, sid: str, data: str | bytes) -> None:
        client = self.clients.get(sid)
        if client is not None:
            client.on_message(data)

    def _on_engine_disconnect(self, sid: str, reason: str) -> None:
        client = self.clients.pop(sid, None)
        if client is not None:
            client.on_close(reason)
